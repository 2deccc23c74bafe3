"""Katello's ACL as this plugin stores it: the one layer that writes repositories, hosts and
grants (``writes``), the lock its writers share (``locks``), the distributions' ``private`` flag
kept equal to ``auth_required`` (``private_flag``), what the last pushes left (``state``) and
admins' revocations until Katello's next push (``revocations``).

Its callers: Katello's push API (``katello/``), logins and host refreshes (``grant_refresh``),
the native API's deletes, and the Ruby gateway import.
"""
