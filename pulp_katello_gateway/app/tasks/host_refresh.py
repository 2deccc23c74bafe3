"""The host-refresh task: a host's grants from Katello's catalog, between capsule syncs
(``grant_refresh.request_if_stale`` decides when and dispatches it)."""

import logging

from pulp_katello_gateway.app import foreman, metrics
from pulp_katello_gateway.app.acl.writes import update_host_grants

log = logging.getLogger(__name__)


def refresh_host(uuid):
    """The host's repositories from Katello, as its grants (marked refreshed in the same
    write); without an answer from Foreman the host keeps the grants it has (and a later
    request asks again)."""
    try:
        names = foreman.host_catalog(uuid)
    except (foreman.ForemanUnavailable, foreman.ForemanRejected) as exc:
        log.warning("Could not refresh the grants of host %s: %s", uuid, exc)
        metrics.host_refresh("unavailable")
        return
    update_host_grants({uuid: names})
    metrics.host_refresh("ok")
