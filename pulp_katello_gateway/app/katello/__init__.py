"""The Katello-compatible push API: what Katello's capsule sync sends to a container gateway.

``parsers`` reads the body (Rack-style form via ``forms``, or JSON), ``serializers`` validates it
into plain mappings, ``apply`` writes it as a diff, ``views`` ties them together per endpoint, and
``distributions`` mirrors ``auth_required`` onto ``ContainerDistribution.private``.
"""
