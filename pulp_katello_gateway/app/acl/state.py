"""How fresh the ACL is and whether it holds what Katello sent: per push endpoint, the last
successful push (time, body size, entries) and a fingerprint and count of what it wrote.

Fingerprints are computed from the tables when asked, in PostgreSQL, over rows sorted by name:
equal on every node and across runs whenever the data is equal, so two capsules (or Katello's
own view of the data) can be compared without shipping the data.
"""

from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from pulp_katello_gateway.app.acl.writes import HOST_GRANTS, REPOSITORIES, USER_GRANTS
from pulp_katello_gateway.app.models import ConsumerHost, PushState

ENDPOINTS = (
    "repository_list",
    "user_repository_mapping",
    "update_hosts",
    "host_repository_mapping",
    "update_host_repositories",
)


def _grant_rows(grants):
    return (
        f"SELECT p.{grants.principal_key} || E'\\t' || r.name FROM {grants.table} g "
        f"JOIN {grants.principals} p ON p.pulp_id = g.{grants.principal_column} "
        f"JOIN {REPOSITORIES} r ON r.pulp_id = g.repository_id"
    )


def _rows(endpoint):
    """SQL of the rows (one text each) an endpoint's push leaves, in a stable spelling."""
    if endpoint == "repository_list":
        return f"SELECT name || E'\\t' || auth_required::text FROM {REPOSITORIES}"
    if endpoint == "user_repository_mapping":
        return _grant_rows(USER_GRANTS)
    if endpoint == "update_hosts":
        return f"SELECT uuid FROM {ConsumerHost._meta.db_table}"
    # host_repository_mapping and update_host_repositories write the same table
    return _grant_rows(HOST_GRANTS)


def fingerprint(endpoint):
    """``(count, sha256)`` of what ``endpoint`` writes, as stored now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), encode(sha256(convert_to("
            "coalesce(string_agg(row, E'\\n' ORDER BY row COLLATE \"C\"), ''), 'UTF8')), 'hex') "
            f"FROM ({_rows(endpoint)}) AS acl(row)"
        )
        count, digest = cursor.fetchone()
    return count, f"sha256:{digest}"


def last_push():
    """When Katello last pushed anything successfully, or None."""
    return PushState.objects.order_by("-pushed_at").values_list("pushed_at", flat=True).first()


def is_stale():
    """No push within ``KATELLO_GATEWAY_PUSH_MAX_AGE`` seconds (or none ever)."""
    latest = last_push()
    limit = timedelta(seconds=settings.KATELLO_GATEWAY_PUSH_MAX_AGE)
    return latest is None or timezone.now() - latest > limit


def state():
    """The status answer: each endpoint's last push and what it holds now."""
    pushes = {push.endpoint: push for push in PushState.objects.all()}
    endpoints = {}
    for endpoint in ENDPOINTS:
        push = pushes.get(endpoint)
        count, digest = fingerprint(endpoint)
        endpoints[endpoint] = {
            "last_push": push.pushed_at if push else None,
            "last_push_bytes": push.body_bytes if push else None,
            "last_push_entries": push.entries if push else None,
            "count": count,
            "fingerprint": digest,
        }
    return {
        "last_push": last_push(),
        "push_max_age": settings.KATELLO_GATEWAY_PUSH_MAX_AGE,
        "stale": is_stale(),
        "endpoints": endpoints,
    }


def note_push(endpoint, body_bytes, entries):
    """Remember a successful push of ``endpoint``."""
    PushState.objects.update_or_create(
        endpoint=endpoint,
        defaults={"pushed_at": timezone.now(), "body_bytes": body_bytes, "entries": entries},
    )
