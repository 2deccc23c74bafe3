"""foreman.py's guards against a hanging Foreman are shared by every API process."""

import pytest
from django.test import override_settings

from devtools.katello_standin import KatelloStandin
from pulp_katello_gateway.app import foreman

pytestmark = pytest.mark.django_db


@pytest.fixture
def katello():
    config = {"users": {"alice": {"password": "alice-pw"}}}
    with KatelloStandin(config=config) as standin:
        with override_settings(
            KATELLO_GATEWAY_FOREMAN_URL=standin.url,
            KATELLO_GATEWAY_FOREMAN_CONNECT_TIMEOUT=0.3,
            KATELLO_GATEWAY_FOREMAN_MAX_CONCURRENT=1,
        ):
            yield standin
    foreman._backoff.reset()


def test_a_backoff_tripped_anywhere_stops_every_process(katello):
    foreman._backoff.trip()
    katello.reset_counters()
    with pytest.raises(foreman.ForemanUnavailable, match="did not answer in time"):
        foreman.verify_login("alice", "alice-pw")
    assert katello.request_count() == 0
    foreman._backoff.reset()
    foreman.verify_login("alice", "alice-pw")
    assert katello.request_count() == 1


def test_all_slots_taken_elsewhere_is_503_after_the_connect_timeout(katello, other_session):
    other_session.execute("SELECT pg_advisory_lock(%s, 0)", [foreman._SLOT_GROUP])
    with pytest.raises(foreman.ForemanUnavailable, match="busy"):
        foreman.verify_login("alice", "alice-pw")
    assert katello.request_count() == 0
    other_session.execute("SELECT pg_advisory_unlock(%s, 0)", [foreman._SLOT_GROUP])
    foreman.verify_login("alice", "alice-pw")
    assert katello.request_count() == 1
