"""Revocation by an admin: a Foreman user or host deleted through the native API stays without
grants until Katello pushes it again (its next capsule sync).

Deleting the row alone would not do: a host Katello has not pushed is looked up in Katello at its
next request, and a user's grants are loaded from Katello at each verified login. So the delete
leaves a ``Revocation`` in the same transaction; those lookups and refreshes skip a revoked
principal (a revoked host is anonymous, a revoked user keeps only what anonymous may pull), and
the ACL write that names it again ends the revocation inside that push (``writes``).
"""

from django.db import transaction

from pulp_katello_gateway.app.acl.locks import lock_for_push
from pulp_katello_gateway.app.models import ForemanUser, Revocation

USER, HOST = Revocation.USER, Revocation.HOST


def revoke(principal):
    """Delete ``principal`` (a ``ForemanUser`` or ``ConsumerHost``) with its grants and cached
    logins, and revoke it until Katello pushes it again; waits for a running push, which may be
    inserting its grants."""
    if isinstance(principal, ForemanUser):
        kind, name = USER, principal.login
    else:
        kind, name = HOST, principal.uuid
    with transaction.atomic():
        lock_for_push()
        Revocation.objects.get_or_create(kind=kind, name=name)
        principal.delete()


def is_revoked(kind, name):
    """Whether the user (folded login) or host (consumer uuid) ``name`` is revoked."""
    return Revocation.objects.filter(kind=kind, name=name).exists()
