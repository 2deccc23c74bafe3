"""Grants loaded from Katello's catalog between capsule syncs: the one place that decides, after
the token endpoint has identified a client, whose grants to bring up to date (``catch_up``).

Katello pushes grants only at a capsule sync. In between, a Foreman user's grants are replaced
with Katello's catalog for that user each time Foreman confirms a login (or at the next token
request of that login, when the one Foreman confirmed it for could not, or is still at it), and a
host Katello has not pushed yet is looked up at its first token request.

Hosts also follow their content view: a host moved to another content view or lifecycle
environment would keep its old access until the next sync. A host whose grants are older
than ``KATELLO_GATEWAY_HOST_REFRESH_INTERVAL`` seconds gets them refreshed from Katello's catalog
for that host (what the lookup of an unknown host asks). The token request that notices never
waits for Foreman: it is answered from the grants the host has, and a Pulp task (run by a
worker, so it scales and retries the way Pulp does: ``tasks.host_refresh``) asks Foreman and
replaces the host's grants for the requests that follow. At most one refresh per host is asked
for per interval, whatever the number of API nodes; Foreman calls go through the same slots and
backoff as logins.

Identifying a client (``registry.identity``) writes no grants: it only says what it found (a
login Foreman confirmed, a host certificate Katello has not pushed), and ``catch_up`` acts on it.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from pulpcore.plugin.tasking import dispatch

from pulp_katello_gateway.app import foreman, metrics
from pulp_katello_gateway.app.acl import revocations
from pulp_katello_gateway.app.acl.locks import PushInProgress
from pulp_katello_gateway.app.acl.writes import update_host_grants, update_user_grants
from pulp_katello_gateway.app.identities import ANONYMOUS, Identity
from pulp_katello_gateway.app.logins import outcomes
from pulp_katello_gateway.app.models import ConsumerHost
from pulp_katello_gateway.app.tasks import refresh_host

audit = logging.getLogger("pulp_katello_gateway.audit")


def catch_up(identity, credentials, source):
    """``identity`` (as ``registry.identity`` found it for the token endpoint, from
    ``credentials`` sent by a client at address ``source``) once its grants are as current as
    this request can make them; the identity of a host Katello had not pushed is the host
    Katello now says it is, or anonymous."""
    if identity.grants_due:
        _refresh_user(identity.name, *credentials)
    elif identity.unregistered_host is not None:
        return _look_up_host(identity.unregistered_host, source)
    elif identity.host_id is not None:
        request_if_stale(identity.host_id)
    return identity


def _refresh_user(login, username, secret):
    """Replace the grants of Foreman user ``login`` (folded; Foreman confirmed it as
    ``username``, now or for the cached login these credentials match, whose grants were not
    loaded since) with Katello's catalog for those credentials, unless an admin revoked it; keep
    them when Katello cannot answer or a push is running. Never waits behind a capsule-sync push
    (seconds for a million grants): the client's token request would time out, and the push
    brings Katello's list anyway."""
    if revocations.is_revoked(revocations.USER, login):
        return
    try:
        update_user_grants({login: foreman.user_catalog(username, secret)}, wait=False)
    except (foreman.ForemanUnavailable, foreman.ForemanRejected, PushInProgress):
        audit.warning("catalog of user=%s could not be refreshed; keeping its grants", username)


def _look_up_host(uuid, source):
    """Host ``uuid`` (a verified consumer certificate Katello has not pushed) with its grants
    from Katello's catalog. A host an admin revoked, or one Katello cannot be asked about now,
    is anonymous: it pulls what anybody may pull, never a 503 for that."""
    if revocations.is_revoked(revocations.HOST, uuid):
        outcomes.host_lookup("revoked", uuid, source)
        return ANONYMOUS
    try:
        update_host_grants({uuid: foreman.host_catalog(uuid)})
    except (foreman.ForemanUnavailable, foreman.ForemanRejected):
        outcomes.host_lookup("unavailable", uuid, source)
        return ANONYMOUS
    host_id = ConsumerHost.objects.values_list("pk", flat=True).filter(uuid=uuid).first()
    if host_id is None:  # revoked while Katello was asked
        outcomes.host_lookup("revoked", uuid, source)
        return ANONYMOUS
    outcomes.host_lookup("ok", uuid, source)
    return Identity.of_host(host_id, uuid)


def request_if_stale(host_id):
    """Dispatch a refresh of the host when its grants are older than the interval, unless one
    was asked for within the interval already (one UPDATE decides, on any node)."""
    interval = settings.KATELLO_GATEWAY_HOST_REFRESH_INTERVAL
    if not interval:
        return
    now = timezone.now()
    cutoff = now - timedelta(seconds=interval)
    claimed = (
        ConsumerHost.objects.annotate(fresh=Coalesce("grants_refreshed_at", "pulp_created"))
        .filter(pk=host_id, fresh__lt=cutoff)
        .filter(Q(refresh_requested_at__isnull=True) | Q(refresh_requested_at__lt=cutoff))
        .update(refresh_requested_at=now)
    )
    if claimed:
        uuid = ConsumerHost.objects.values_list("uuid", flat=True).get(pk=host_id)
        dispatch(refresh_host, kwargs={"uuid": uuid},
                 exclusive_resources=[f"katello_gateway:host:{uuid}"])
        metrics.host_refresh("requested")
