"""Admin commands: katello-gateway-access, -purge-logins and -status."""

import io
import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone
from pulp_container.app.models import ContainerDistribution

from pulp_katello_gateway.app.logins import throttle
from pulp_katello_gateway.app.models import (
    CachedLogin,
    ConsumerHost,
    ForemanBackoff,
    ForemanUser,
    HostRepositoryGrant,
    KatelloRepository,
    LoginThrottle,
    UserRepositoryGrant,
)

pytestmark = pytest.mark.django_db

HOST = "2f1c0000-0000-0000-0000-000000000001"


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def world():
    public = KatelloRepository.objects.create(name="kat/public", auth_required=False)
    granted = KatelloRepository.objects.create(name="kat/granted", auth_required=True)
    KatelloRepository.objects.create(name="kat/private", auth_required=True)
    ContainerDistribution.objects.create(name="local-only", base_path="local/only")
    alice = ForemanUser.objects.create_for_login("alice")
    UserRepositoryGrant.objects.create(foreman_user=alice, repository=granted)
    host = ConsumerHost.objects.create(uuid=HOST)
    HostRepositoryGrant.objects.create(host=host, repository=granted)
    get_user_model().objects.create_superuser("admin", password=None)
    ForemanUser.objects.create_for_login("admin")  # Foreman's admin logged in here too
    return {"alice": alice, "public": public}


# -- katello-gateway-access -----------------------------------------------------------------


@pytest.mark.parametrize(
    "args, expected",
    [
        (["alice", "--repository", "kat/granted"], "kat/granted: pull (grant from Katello"),
        (["alice", "--repository", "kat/private"], "kat/private: nothing (no grant"),
        (["alice", "--repository", "kat/public"], "kat/public: pull (public repository"),
        (["alice", "--repository", "local/only"], "local/only: nothing (unknown repository"),
        (["--host", HOST, "--repository", "kat/granted"], "kat/granted: pull (grant from"),
        (["--host", HOST, "--repository", "kat/private"], "kat/private: nothing (no grant"),
        (["--anonymous", "--repository", "kat/private"], "nothing (the repository requires"),
        (["--anonymous", "--repository", "kat/public"], "kat/public: pull (public"),
    ],
)
def test_access_explains_the_decision_of_the_token_endpoint(world, args, expected):
    assert expected in run("katello-gateway-access", *args)


def test_access_shows_both_identities_of_a_login_that_is_local_and_foreman(world):
    output = run("katello-gateway-access", "admin", "--repository", "local/only")
    local, foreman = output.split("Foreman user admin")
    assert "Local Pulp superuser admin" in local
    assert "local/only: pull, push (pulp_container's own rules" in local
    assert "local/only: nothing (unknown repository" in foreman


def test_access_lists_what_an_identity_may_pull(world):
    output = run("katello-gateway-access", "alice")
    assert "1 grants from Katello, 0 cached logins" in output
    assert "may pull 2 repositories:\n    kat/granted\n    kat/public\n" in output
    output = run("katello-gateway-access", "alice", "--limit", "1")
    assert "may pull more than 1 repositories; the first 1" in output
    assert output.endswith("    kat/granted\n")


@pytest.mark.parametrize(
    "args, message",
    [
        (["nobody"], "Unknown login nobody"),
        (["--host", "unknown-uuid"], "Unknown host unknown-uuid"),
    ],
)
def test_access_of_unknown_identities_says_what_would_happen(world, args, message):
    with pytest.raises(CommandError, match=message):
        run("katello-gateway-access", *args)


# -- katello-gateway-purge-logins -----------------------------------------------------------


def cache(foreman_user, seconds_ago=0):
    CachedLogin.objects.create(
        foreman_user=foreman_user, salt="s", digest="d",
        verified_at=timezone.now() - timedelta(seconds=seconds_ago),
    )


def test_purge_logins_of_one_user_or_all(world):
    bob = ForemanUser.objects.create_for_login("bob")
    for user in (world["alice"], world["alice"], bob):
        cache(user)
    assert "Dropped 2 cached logins of alice" in run(
        "katello-gateway-purge-logins", "--user", "alice")
    assert list(CachedLogin.objects.values_list("foreman_user__login", flat=True)) == ["bob"]
    assert "Dropped 1 cached logins" in run("katello-gateway-purge-logins", "--all")
    assert not CachedLogin.objects.exists()
    with pytest.raises(CommandError, match="No Foreman user carol"):
        run("katello-gateway-purge-logins", "--user", "carol")
    with pytest.raises(CommandError):
        run("katello-gateway-purge-logins")  # one of --user and --all is required


# -- katello-gateway-status -----------------------------------------------------------------


@override_settings(
    KATELLO_GATEWAY_LOGIN_CACHE_TTL=600, KATELLO_GATEWAY_LOGIN_MAX_STALE=3600,
    KATELLO_GATEWAY_THROTTLE_LOGIN_FAILURES=3, KATELLO_GATEWAY_THROTTLE_ADDRESS_FAILURES=2,
    KATELLO_GATEWAY_FOREMAN_URL="https://foreman.example.com",
)
def test_status_counts_everything_an_operator_asks_about(world):
    alice = world["alice"]
    cache(alice, 10)  # fresh
    cache(alice, 1000)  # stale
    cache(alice, 5000)  # expired
    alice_here = throttle.Attempt("alice", "192.0.2.1")
    throttle.record_failure(alice_here, [LoginThrottle.PAIR])
    throttle.record_failure(alice_here, [LoginThrottle.PAIR])
    throttle.record_failure(throttle.Attempt("bob", "-"), [LoginThrottle.LOGIN])  # below limit
    ForemanBackoff.objects.create(until=timezone.now() + timedelta(seconds=30))
    output = re.sub(" +", " ", run("katello-gateway-status"))
    assert "Repositories: 3 (1 public, 2 require authentication)" in output
    assert "Foreman users: 2" in output and "Hosts: 1" in output
    assert "User grants: 1" in output and "Host grants: 1" in output
    assert "1 fresh (verified less than 600 s ago), 1 stale" in output
    assert "1 expired" in output
    assert "Throttled: 1 login+address pairs (every guess), 0 logins, 0 client" in output
    assert "https://foreman.example.com (did not answer in time; not asked until" in output
