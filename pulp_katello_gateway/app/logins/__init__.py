"""Foreman logins at the registry's token endpoint: checking a secret (``verification``),
the cache of verified logins (``cache``), the failed-login throttle (``throttle``) and the audit
line and metric of every outcome (``outcomes``). ``registry/identity.py`` is their only caller
on the request path; management commands and the push API's revocation use ``cache``.
"""
