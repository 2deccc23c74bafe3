"""The pull record: who pulled which manifest, from where, first and last, how often.

One row per (identity, repository, digest), so the table grows with distinct pulls, not with
traffic. Rows whose last pull is older than ``KATELLO_GATEWAY_PULL_RECORD_RETENTION_DAYS`` are
no longer shown and go away on their own: each recorded pull removes up to ``_PRUNE_BATCH``
expired ones (no cron job, and a bounded cost per pull), in the one statement that records it:
a repeated pull too, since a capsule whose hosts keep pulling the same images adds no rows, yet
the rows of hosts gone since must still go.
Rows another pull is removing are skipped, not waited for, so a herd of first pulls never queues
on the oldest rows.
"""

from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from pulp_katello_gateway.app.models import PullRecord

_PRUNE_BATCH = 100
_TABLE = PullRecord._meta.db_table
# The prune leaves out the row being recorded: the order of a statement's WITH part and main part
# is not defined (PostgreSQL's "WITH Queries", data-modifying statements), and a pull after the
# retention period renews its row.
_RECORD = f"""
WITH pruned AS (
    DELETE FROM {_TABLE} WHERE pulp_id IN (
        SELECT pulp_id FROM {_TABLE}
        WHERE last_pulled < %(horizon)s
          AND (kind, login, host_uuid, repository, digest)
              <> (%(kind)s, %(login)s, %(host_uuid)s, %(repository)s, %(digest)s)
        LIMIT {_PRUNE_BATCH} FOR UPDATE SKIP LOCKED
    )
)
INSERT INTO {_TABLE} AS r (pulp_id, pulp_created, pulp_last_updated, kind, login, host_uuid,
                           repository, reference, digest, client_address, first_pulled,
                           last_pulled, count)
VALUES (gen_random_uuid(), %(now)s, %(now)s, %(kind)s, %(login)s, %(host_uuid)s, %(repository)s,
        %(reference)s, %(digest)s, %(address)s, %(now)s, %(now)s, 1)
ON CONFLICT (kind, login, host_uuid, repository, digest) DO UPDATE
SET last_pulled = EXCLUDED.last_pulled, pulp_last_updated = EXCLUDED.last_pulled,
    reference = EXCLUDED.reference, client_address = EXCLUDED.client_address,
    count = r.count + 1
"""


def horizon():
    """Pulls last seen before this are past the retention period."""
    return timezone.now() - timedelta(days=settings.KATELLO_GATEWAY_PULL_RECORD_RETENTION_DAYS)


def current():
    """The records within the retention period."""
    return PullRecord.objects.filter(last_pulled__gte=horizon())


def who(identity):
    """``(kind, login, host uuid)`` of an identity, by name (a record outlives the user or
    host): the name identifying read with the row, so a recorded pull looks nobody up again."""
    login = host_uuid = ""
    if identity.host_id is not None:
        host_uuid = identity.name
    elif identity.foreman_user_id is not None:
        login = identity.name
    elif not identity.is_anonymous:
        login = identity.user.get_username()
    return identity.kind, login, host_uuid


def enabled():
    """Whether pulls are recorded (``KATELLO_GATEWAY_PULL_RECORD``): when not, nobody who pulls
    is even looked up."""
    return settings.KATELLO_GATEWAY_PULL_RECORD


def record(identity, repository, reference, digest, address):
    """Count one manifest pull (the caller asked ``enabled()``), pruning expired rows."""
    kind, login, host_uuid = who(identity)
    with connection.cursor() as cursor:
        cursor.execute(_RECORD, {
            "now": timezone.now(), "horizon": horizon(), "kind": kind, "login": login,
            "host_uuid": host_uuid, "repository": repository, "reference": reference,
            "digest": digest, "address": address,
        })
