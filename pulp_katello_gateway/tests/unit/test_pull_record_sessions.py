"""The pull record between database sessions: a pull's prune never waits for another's."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from pulp_katello_gateway.app import identities, pull_record
from pulp_katello_gateway.app.models import PullRecord

pytestmark = pytest.mark.django_db

DIGEST = "sha256:" + "ef" * 32
TABLE = PullRecord._meta.db_table


def test_a_prune_skips_rows_another_pull_is_removing(other_session, settings):
    """200 first pulls at once all prune: none may queue behind another's prune. Another
    session (another API worker) holds an expired row as its prune does; this pull removes
    the other expired row and records itself without waiting. A pull that waited would fail
    on ``lock_timeout`` (a bound, not a wait: the other session never lets go meanwhile)."""
    settings.KATELLO_GATEWAY_PULL_RECORD_RETENTION_DAYS = 90
    then = timezone.now() - timedelta(days=91)
    pull_record.record(identities.ANONYMOUS, "old/free", "latest", DIGEST, "192.0.2.1")
    PullRecord.objects.filter(repository="old/free").update(first_pulled=then, last_pulled=then)
    other_session.execute(
        f"INSERT INTO {TABLE} (pulp_id, pulp_created, pulp_last_updated, kind, login, host_uuid,"
        " repository, reference, digest, client_address, first_pulled, last_pulled, count)"
        " VALUES (gen_random_uuid(), %(then)s, %(then)s, 'anonymous', '', '', 'old/locked',"
        " 'latest', %(digest)s, '192.0.2.1', %(then)s, %(then)s, 1)",
        {"then": then, "digest": DIGEST})
    try:
        with other_session.transaction():
            other_session.execute(f"SELECT 1 FROM {TABLE} WHERE repository = 'old/locked'"
                                  " FOR UPDATE")
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '20s'")
            pull_record.record(identities.ANONYMOUS, "new/a", "latest", DIGEST, "192.0.2.2")
            assert sorted(PullRecord.objects.values_list("repository", flat=True)) == [
                "new/a", "old/locked"]
    finally:
        other_session.execute(f"DELETE FROM {TABLE} WHERE repository = 'old/locked'")
