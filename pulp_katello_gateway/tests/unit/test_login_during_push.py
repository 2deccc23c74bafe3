"""A login never waits behind a running capsule-sync push (its token would time out), and still
brings its grants: at its next token request when the push kept it from doing so."""

import pytest
from django.test import RequestFactory

from pulp_katello_gateway.app.acl import locks, writes
from pulp_katello_gateway.app.models import UserRepositoryGrant
from pulp_katello_gateway.app.registry.token import requester

pytestmark = pytest.mark.django_db


@pytest.fixture
def foreman(foreman_with):
    return foreman_with({
        "repositories": {"kat/a": {"auth_required": True}, "kat/b": {"auth_required": True}},
        "users": {"alice": {"password": "alice-pw", "repositories": ["kat/b"]}},
    })


@pytest.fixture
def push_running(other_session):
    """Another process holds the push lock, as a long push does."""
    other_session.execute("SELECT pg_advisory_lock(%s, %s)", list(locks.PUSH_LOCK))
    yield


def _grants():
    return set(UserRepositoryGrant.objects.values_list("repository__name", flat=True))


def test_login_during_a_push_succeeds_and_keeps_the_grants_it_had(foreman, push_running):
    identity = requester(RequestFactory().get("/token/"), ("alice", "alice-pw"))
    assert identity.foreman_user_id is not None
    # Katello's catalog (kat/b) was not applied: the push holds the lock and brings it anyway.
    assert _grants() == set()


def test_a_login_kept_from_its_grants_by_a_push_loads_them_at_its_next_token(
    foreman, push_running, other_session
):
    """The login is cached while the push runs; its next token request (a cache hit, Foreman not
    asked for the password again) loads the catalog, and the one after asks Foreman nothing."""
    requester(RequestFactory().get("/token/"), ("alice", "alice-pw"))
    assert _grants() == set()
    other_session.execute("SELECT pg_advisory_unlock(%s, %s)", list(locks.PUSH_LOCK))
    foreman.reset_counters()
    requester(RequestFactory().get("/token/"), ("alice", "alice-pw"))
    assert _grants() == {"kat/b"}
    assert foreman.request_count() == 1  # the catalog only
    foreman.reset_counters()
    requester(RequestFactory().get("/token/"), ("alice", "alice-pw"))
    assert foreman.request_count() == 0


def test_login_without_a_push_refreshes_the_grants(foreman):
    requester(RequestFactory().get("/token/"), ("alice", "alice-pw"))
    assert _grants() == {"kat/b"}


def test_a_non_waiting_update_refuses_while_a_push_runs(push_running):
    with pytest.raises(locks.PushInProgress):
        writes.update_user_grants({"alice": ["kat/a"]}, wait=False)
