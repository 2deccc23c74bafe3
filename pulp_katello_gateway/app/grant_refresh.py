"""Grants loaded from Katello's catalog between capsule syncs, for one user or one host.

Katello pushes grants only at a capsule sync. In between, a Foreman user's grants are replaced
with Katello's catalog for that user at each verified login (``refresh_user``), and a host
Katello has not pushed yet is looked up at its first request (``lookup_host``).

Hosts also follow their content view: a host moved to another content view or lifecycle
environment would keep its old access until the next sync. A host whose grants are older
than ``KATELLO_GATEWAY_HOST_REFRESH_INTERVAL`` seconds gets them refreshed from Katello's catalog
for that host (what the lookup of an unknown host asks). The token request that notices never
waits for Foreman: it is answered from the grants the host has, and a Pulp task (run by a
worker, so it scales and retries the way Pulp does: ``tasks.host_refresh``) asks Foreman and
replaces the host's grants for the requests that follow. At most one refresh per host is asked
for per interval, whatever the number of API nodes; Foreman calls go through the same slots and
backoff as logins.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from pulpcore.plugin.tasking import dispatch

from pulp_katello_gateway.app import foreman, metrics
from pulp_katello_gateway.app.acl.locks import PushInProgress
from pulp_katello_gateway.app.acl.writes import update_host_grants, update_user_grants
from pulp_katello_gateway.app.models import ConsumerHost
from pulp_katello_gateway.app.tasks import refresh_host

audit = logging.getLogger("pulp_katello_gateway.audit")


def refresh_user(login, username, secret):
    """Replace the grants of Foreman user ``login`` with Katello's catalog for the credentials
    just verified; keep them when Katello cannot answer or a push is running. Never waits
    behind a capsule-sync push (seconds for a million grants): the client's token request would
    time out, and the push brings Katello's list anyway."""
    try:
        update_user_grants({login: foreman.user_catalog(username, secret)}, wait=False)
    except (foreman.ForemanUnavailable, foreman.ForemanRejected, PushInProgress):
        audit.warning("catalog of user=%s could not be refreshed; keeping its grants", username)


def lookup_host(uuid):
    """The id of host ``uuid`` after loading its grants from Katello's catalog (a host Katello
    has not pushed yet), None when an admin revoked it meanwhile; raises
    ``foreman.ForemanUnavailable`` or ``ForemanRejected``."""
    update_host_grants({uuid: foreman.host_catalog(uuid)})
    return ConsumerHost.objects.values_list("pk", flat=True).filter(uuid=uuid).first()


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
