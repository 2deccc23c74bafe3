"""foreman.py's guards against a hanging Foreman are shared by every API process."""

from datetime import timedelta

import pytest
from django.utils import timezone

from pulp_katello_gateway.app import foreman
from pulp_katello_gateway.app.models import ForemanBackoff

pytestmark = pytest.mark.django_db


@pytest.fixture
def katello(foreman_with):
    return foreman_with(
        {"repositories": {}, "users": {"alice": {"password": "alice-pw"}}},
        KATELLO_GATEWAY_FOREMAN_CONNECT_TIMEOUT=0.3,
        KATELLO_GATEWAY_FOREMAN_MAX_CONCURRENT=1,
    )


def test_a_backoff_tripped_anywhere_stops_every_process(katello):
    # Another process saw Foreman time out: it wrote the shared row.
    ForemanBackoff.objects.create(until=timezone.now() + timedelta(seconds=30))
    katello.reset_counters()
    with pytest.raises(foreman.ForemanUnavailable, match="did not answer in time"):
        foreman.verify_login("alice", "alice-pw")
    assert katello.request_count() == 0
    ForemanBackoff.objects.all().delete()
    foreman.verify_login("alice", "alice-pw")
    assert katello.request_count() == 1


def test_all_slots_taken_elsewhere_is_503_after_the_connect_timeout(katello, other_session):
    other_session.execute("SELECT pg_advisory_lock(%s, 0)", [foreman.CALL_SLOT_LOCK_GROUP])
    with pytest.raises(foreman.ForemanUnavailable, match="busy"):
        foreman.verify_login("alice", "alice-pw")
    assert katello.request_count() == 0
    other_session.execute("SELECT pg_advisory_unlock(%s, 0)", [foreman.CALL_SLOT_LOCK_GROUP])
    foreman.verify_login("alice", "alice-pw")
    assert katello.request_count() == 1
