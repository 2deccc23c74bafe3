"""Katello's wire format: the push API its capsule sync calls on a container gateway.

``parsers`` reads the body (a Rack-style form decoded by ``rack_query``, or JSON),
``serializers`` validates it into plain mappings, ``views`` answers each endpoint and hands the
mappings to the ACL layer (``acl/``), which writes them.
"""
