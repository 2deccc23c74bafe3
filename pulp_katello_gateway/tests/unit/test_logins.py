"""registry/identity.py, logins/ (verification, cache, throttle) and grant_refresh: credentials ->
Identity as the token endpoint takes them, with the Foreman login cache, the failed-login throttle
and the grants a confirmed login refreshes.

Foreman is the Katello stand-in, served over HTTP from this process; its request counter tells
whether Foreman was asked. Cache ages are set by moving ``verified_at`` back, never by waiting.
"""

import base64
import hashlib
import logging
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection as django_connection
from django.test import RequestFactory, override_settings
from django.utils import timezone
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.request import Request
from urllib3.util import connection

from pulp_katello_gateway.app import pull_record
from pulp_katello_gateway.app.access import permitted_actions
from pulp_katello_gateway.app.identities import ANONYMOUS
from pulp_katello_gateway.app.logins import throttle
from pulp_katello_gateway.app.models import (
    CachedLogin,
    ForemanBackoff,
    ForemanUser,
    LoginThrottle,
    UserRepositoryGrant,
)
from pulp_katello_gateway.app.registry import identity
from pulp_katello_gateway.app.registry.token import requester
from pulp_katello_gateway.app.urls import PUSH_ROOT

pytestmark = pytest.mark.django_db

TTL, MAX_STALE = 600, 3600
# Failures tolerated: a login from one address, a login from anywhere, one address whatever the
# login, all logins together (what Foreman sees from the capsule).
ADDRESS_LIMIT, LOGIN_LIMIT, CLIENT_LIMIT, FOREMAN_LIMIT, WINDOW = 3, 5, 8, 12, 900
PASSWORD, PAT = "alice-password-1", "alice-personal-access-token"
KATELLO = {
    "repositories": {
        "kat/a": {"auth_required": True},
        "kat/b": {"auth_required": True},
        "kat/s": {"auth_required": True},
        "kat/k": {"auth_required": True},
        "kat/pub": {"auth_required": False},
    },
    "users": {
        "alice": {"password": PASSWORD, "pat": PAT, "repositories": ["kat/a"]},
        "bob": {"password": "bob-password-1", "repositories": ["kat/b"]},
        # Other Foreman users for Foreman (Ruby's downcase), one and the same for PostgreSQL's
        # UPPER() in a UTF-8 locale: dotless i, long s.
        "al\u0131ce": {"password": "dotless-password", "repositories": []},
        "sam": {"password": "sam-password-1", "repositories": ["kat/s"]},
        "\u017fam": {"password": "long-s-password", "repositories": []},
        "karen": {"password": "karen-password-1", "repositories": ["kat/k"]},
        "admin": {"password": "foreman-admin-password", "repositories": ["kat/b"]},
    },
}


@pytest.fixture
def foreman(foreman_with):
    """The stand-in as Foreman; settings small enough to reach."""
    return foreman_with(
        KATELLO,
        KATELLO_GATEWAY_LOGIN_CACHE_TTL=TTL,
        KATELLO_GATEWAY_LOGIN_MAX_STALE=MAX_STALE,
        KATELLO_GATEWAY_THROTTLE_ADDRESS_FAILURES=ADDRESS_LIMIT,
        KATELLO_GATEWAY_THROTTLE_LOGIN_FAILURES=LOGIN_LIMIT,
        KATELLO_GATEWAY_THROTTLE_CLIENT_FAILURES=CLIENT_LIMIT,
        KATELLO_GATEWAY_THROTTLE_FOREMAN_FAILURES=FOREMAN_LIMIT,
        KATELLO_GATEWAY_THROTTLE_WINDOW=WINDOW,
        KATELLO_GATEWAY_FOREMAN_CONNECT_TIMEOUT=2,
        KATELLO_GATEWAY_FOREMAN_READ_TIMEOUT=2,
    )


def request(address="192.0.2.10", authorization=None, forwarded_for=None):
    extra = {"REMOTE_ADDR": address}
    if authorization is not None:
        extra["HTTP_AUTHORIZATION"] = authorization
    if forwarded_for is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return RequestFactory().get("/token/", **extra)


def login(login_name, secret, address="192.0.2.10", forwarded_for=None):
    return requester(request(address, forwarded_for=forwarded_for), (login_name, secret))


def age(login_name, seconds):
    """Pretend every cached login of ``login_name`` was last verified ``seconds`` ago."""
    CachedLogin.objects.filter(foreman_user__login=login_name).update(
        verified_at=timezone.now() - timedelta(seconds=seconds)
    )


def grants(login_name):
    return set(
        UserRepositoryGrant.objects.filter(foreman_user__login=login_name).values_list(
            "repository__name", flat=True
        )
    )


# -- the cache -------------------------------------------------------------------------------


def test_first_login_asks_foreman_then_caches_and_refreshes_grants(foreman):
    identity = login("alice", PASSWORD)

    alice = ForemanUser.objects.get(login="alice")
    assert identity.foreman_user_id == alice.pk
    assert identity.user.username == "foreman:alice"
    assert not identity.user.has_usable_password()
    assert foreman.request_counts() == {"/v2/token": 1, "/v2/_catalog": 1}
    # Katello's catalog lists kat/a and the public kat/pub; only the protected one is a grant.
    assert grants("alice") == {"kat/a"}
    assert CachedLogin.objects.filter(foreman_user=alice).count() == 1


def test_cache_hit_does_not_ask_foreman(foreman):
    first = login("alice", PASSWORD)
    foreman.reset_counters()

    for _ in range(5):
        assert login("alice", PASSWORD) == first
    assert foreman.request_count() == 0


def test_a_login_in_another_case_is_the_same_foreman_user(foreman):
    """Foreman finds ``ALICE`` as ``alice``: same user row, the grants Katello pushes for it."""
    alice = login("alice", PASSWORD)
    UserRepositoryGrant.objects.all().delete()  # a sync that granted nothing, to tell refreshes
    foreman.reset_counters()

    assert login("ALICE", PASSWORD).foreman_user_id == alice.foreman_user_id
    assert foreman.request_count() == 0  # the same user and secret: the cached login

    assert login("Alice", PAT).foreman_user_id == alice.foreman_user_id
    assert foreman.request_counts() == {"/v2/token": 1, "/v2/_catalog": 1}
    assert grants("alice") == {"kat/a"}  # refreshed under Katello's spelling
    assert list(ForemanUser.objects.values_list("login", flat=True)) == ["alice"]


def test_a_login_is_kept_as_foreman_folds_it(foreman):
    identity = login("Bob", "bob-password-1")
    assert ForemanUser.objects.get(pk=identity.foreman_user_id).login == "bob"
    assert identity.user.username == "foreman:bob"
    assert login("bob", "bob-password-1").foreman_user_id == identity.foreman_user_id


def test_entry_is_trusted_for_the_ttl_then_verified_again(foreman):
    login("alice", PASSWORD)
    foreman.reset_counters()

    age("alice", TTL - 5)
    login("alice", PASSWORD)
    assert foreman.request_count() == 0

    age("alice", TTL + 5)
    login("alice", PASSWORD)
    assert foreman.request_counts() == {"/v2/token": 1, "/v2/_catalog": 1}
    entry = CachedLogin.objects.get(foreman_user__login="alice")  # updated, not duplicated
    assert timezone.now() - entry.verified_at < timedelta(seconds=60)

    foreman.reset_counters()
    login("alice", PASSWORD)
    assert foreman.request_count() == 0


def test_ttl_zero_asks_foreman_every_time(foreman):
    with override_settings(KATELLO_GATEWAY_LOGIN_CACHE_TTL=0):
        login("alice", PASSWORD)
        login("alice", PASSWORD)
    assert foreman.request_count("/v2/token") == 2


def test_expired_entry_is_honoured_while_foreman_is_down_until_max_stale(foreman):
    login("alice", PASSWORD)
    age("alice", TTL + MAX_STALE - 60)
    foreman.set_fault("down")

    assert login("alice", PASSWORD).foreman_user_id is not None

    age("alice", TTL + MAX_STALE + 60)
    with pytest.raises(identity.IdentityUnavailable) as raised:
        login("alice", PASSWORD)
    assert raised.value.status_code == 503
    assert "Cannot verify the login now" in str(raised.value.detail)


def test_unknown_login_while_foreman_is_down_is_503_not_401(foreman):
    foreman.set_fault("down")
    with pytest.raises(identity.IdentityUnavailable) as raised:
        login("alice", PASSWORD)
    assert raised.value.status_code == 503
    assert "Foreman cannot be reached" in str(raised.value.detail)
    assert not ForemanUser.objects.exists()
    assert not LoginThrottle.objects.exists()  # Foreman being down is nobody's failed login


@pytest.mark.parametrize(
    "mode,options",
    [
        ("error", {"status": 500}),
        ("error", {"status": 502}),
        ("error", {"status": 403}),
        ("garbage", {"kind": "html"}),
        ("garbage", {"kind": "truncated"}),
        ("garbage", {"kind": "no_token"}),
        ("garbage", {"kind": "redirect"}),
        ("garbage", {"kind": "reset"}),
    ],
)
def test_foreman_without_a_usable_answer_is_503(foreman, mode, options):
    foreman.set_fault(mode, **options)
    with pytest.raises(identity.IdentityUnavailable):
        login("alice", PASSWORD)
    assert not CachedLogin.objects.exists()
    assert not LoginThrottle.objects.exists()


def test_foreman_not_answering_in_time_is_not_asked_again_for_a_while(foreman):
    """One timed-out login check, then answers at once: a stale cached login is honoured and
    other logins get 503, instead of each token request waiting for the timeout."""
    login("alice", PASSWORD)
    age("alice", TTL + 5)
    with override_settings(KATELLO_GATEWAY_FOREMAN_READ_TIMEOUT=0.3):
        foreman.set_fault("hang")
        foreman.reset_counters()
        with pytest.raises(identity.IdentityUnavailable) as raised:
            login("bob", "bob-password-1")
        assert "did not answer in time" in str(raised.value.detail)
        assert foreman.request_count() == 1

        assert login("alice", PASSWORD).foreman_user_id is not None  # stale, not asked
        with pytest.raises(identity.IdentityUnavailable):
            login("bob", "bob-password-1")
        assert foreman.request_count() == 1

        foreman.set_fault(None)
        with pytest.raises(identity.IdentityUnavailable):  # still backing off ...
            login("bob", "bob-password-1")
        ForemanBackoff.objects.all().delete()  # ... until the backoff has passed
        assert login("bob", "bob-password-1").foreman_user_id is not None


def test_slow_catalog_does_not_stop_other_logins(foreman):
    """A big catalog may take long; only a slow login check means Foreman is unwell. (The
    catalog hangs: it is slower than the read timeout whatever the machine's speed.)"""
    with override_settings(KATELLO_GATEWAY_FOREMAN_READ_TIMEOUT=0.3):
        foreman.set_fault("hang", paths=["/v2/_catalog"])
        assert login("alice", PASSWORD).foreman_user_id is not None  # grants not refreshed
        assert login("bob", "bob-password-1").foreman_user_id is not None
    assert foreman.request_count("/v2/token") == 2
    assert grants("alice") == set()


class Attempts(list):
    """Addresses connected to; ``behaviour(real, address, ...)`` makes each connection (by
    default the real one) and ``then()`` runs after each attempt, failed or not."""

    @staticmethod
    def behaviour(real, *args, **kwargs):
        return real(*args, **kwargs)

    @staticmethod
    def then():
        pass


@pytest.fixture
def connects(monkeypatch):
    """The TCP connections the Foreman client opens (urllib3's ``create_connection``), in
    order, as ``Attempts``."""
    attempts = Attempts()
    real = connection.create_connection

    def create_connection(address, *args, **kwargs):
        attempts.append(address)
        try:
            return attempts.behaviour(real, address, *args, **kwargs)
        finally:
            attempts.then()

    monkeypatch.setattr(connection, "create_connection", create_connection)
    return attempts


def test_a_refused_connection_is_retried(foreman, connects):
    """Foreman refusing the connection (restarting) costs a quick retry, not the login."""
    foreman.set_fault("down")  # also cuts the client's pooled connections
    connects.then = lambda: foreman.set_fault(None)  # listening again after the first refusal
    assert login("alice", PASSWORD).foreman_user_id is not None
    assert len(connects) == 2
    assert foreman.request_count("/v2/token") == 1
    assert not ForemanBackoff.objects.exists()


def test_a_connect_timeout_is_not_retried(foreman, connects):
    """A connect timeout is not repeated (the client would wait it again): one attempt, a 503,
    and Foreman is not asked for a while."""
    foreman.set_fault("down")  # cuts the client's pooled connections

    def time_out(real, address, *args, **kwargs):
        raise TimeoutError("timed out")

    connects.behaviour = time_out
    with pytest.raises(identity.IdentityUnavailable) as raised:
        login("bob", "bob-password-1")
    assert "did not answer in time" in str(raised.value.detail)
    assert len(connects) == 1
    assert ForemanBackoff.objects.exists()


def test_catalog_failure_keeps_the_login_and_the_old_grants(foreman):
    login("alice", PASSWORD)
    foreman.set_user_repositories("alice", ["kat/b"])
    foreman.set_fault("error", paths=["/v2/_catalog"], status=500)
    age("alice", TTL + 5)

    assert login("alice", PASSWORD).foreman_user_id is not None
    assert grants("alice") == {"kat/a"}

    foreman.set_fault(None)
    age("alice", TTL + 5)
    login("alice", PASSWORD)
    assert grants("alice") == {"kat/b"}  # the next verified login refreshes them


@pytest.mark.parametrize("change", ["password changed", "token revoked"])
def test_changed_credentials_stop_working_after_the_ttl(foreman, change):
    secret = PASSWORD if change == "password changed" else PAT
    login("alice", secret)
    if change == "password changed":
        foreman.set_password("alice", "alice-password-2")
    else:
        foreman.revoke_pat("alice", PAT)

    age("alice", TTL - 5)  # still inside the TTL: the cache answers, Foreman is not asked
    assert login("alice", secret).foreman_user_id is not None

    age("alice", TTL + 5)
    with pytest.raises(AuthenticationFailed):
        login("alice", secret)
    assert not CachedLogin.objects.exists()  # dropped at once, not kept for max-stale
    foreman.set_fault("down")
    with pytest.raises(identity.IdentityUnavailable):  # so it is not honoured while Foreman is down
        login("alice", secret)


def test_new_password_works_right_after_a_change(foreman):
    login("alice", PASSWORD)
    foreman.set_password("alice", "alice-password-2")
    assert login("alice", "alice-password-2").foreman_user_id is not None


def test_wrong_password_never_matches_a_cached_entry(foreman):
    login("alice", PASSWORD)
    foreman.reset_counters()

    wrong_ones = ("", PASSWORD[:-1], PASSWORD + "x", PASSWORD.upper(), "bob-password-1")
    with override_settings(
        KATELLO_GATEWAY_THROTTLE_ADDRESS_FAILURES=len(wrong_ones) + 1,
        KATELLO_GATEWAY_THROTTLE_LOGIN_FAILURES=len(wrong_ones) + 1,
    ):
        for wrong in wrong_ones:
            with pytest.raises(AuthenticationFailed):
                login("alice", wrong)
        assert foreman.request_count("/v2/token") == len(wrong_ones)  # each went to Foreman

        # The right entry survives the failures and still answers without Foreman.
        foreman.reset_counters()
        login("alice", PASSWORD)
        assert foreman.request_count() == 0

        foreman.set_fault("down")  # and a wrong password is never accepted from the cache
        with pytest.raises(identity.IdentityUnavailable):
            login("alice", PASSWORD + "x")


def test_password_and_token_are_cached_separately(foreman):
    login("alice", PASSWORD)
    login("alice", PAT)
    assert CachedLogin.objects.filter(foreman_user__login="alice").count() == 2
    foreman.reset_counters()
    login("alice", PASSWORD)
    login("alice", PAT)
    assert foreman.request_count() == 0


def test_secrets_are_never_stored_in_plain_text(foreman):
    login("alice", PASSWORD)
    login("alice", PAT)
    login("bob", "bob-password-1")
    with pytest.raises(AuthenticationFailed):
        login("bob", PASSWORD)  # leaves a throttle row keyed on bob and the address

    secrets = [PASSWORD, PAT, "bob-password-1"]
    plain_hashes = [
        getattr(hashlib, name)(secret.encode()).hexdigest()
        for secret in secrets
        for name in ("md5", "sha1", "sha256")
    ]
    rows = list(CachedLogin.objects.values()) + list(LoginThrottle.objects.values())
    stored = " ".join(str(value) for row in rows for value in row.values())
    for value in secrets + plain_hashes + [base64.b64encode(s.encode()).decode() for s in secrets]:
        assert value not in stored
    for clear in ("bob", "192.0.2.10"):
        assert clear not in " ".join(row.key for row in LoginThrottle.objects.all())

    entries = list(CachedLogin.objects.all())
    assert len({entry.salt for entry in entries}) == len(entries) == 3
    assert all(len(entry.digest) == 64 for entry in entries)


def test_same_secret_of_two_users_gives_different_digests(foreman):
    foreman.set_password("bob", PASSWORD)
    login("alice", PASSWORD)
    login("bob", PASSWORD)
    digests = set(CachedLogin.objects.values_list("digest", flat=True))
    assert len(digests) == 2


def test_entries_older_than_ttl_plus_max_stale_are_purged_at_the_next_login(foreman):
    login("alice", PAT)
    age("alice", TTL + MAX_STALE + 60)
    login("alice", PASSWORD)  # a verified login of the same user
    assert CachedLogin.objects.filter(foreman_user__login="alice").count() == 1
    foreman.set_fault("down")
    with pytest.raises(identity.IdentityUnavailable):
        login("alice", PAT)


# -- the throttle ----------------------------------------------------------------------------


def fail(login_name, address="192.0.2.10", times=1):
    for _ in range(times):
        with pytest.raises(AuthenticationFailed):
            login(login_name, "wrong-password", address)


def test_repeated_failures_from_one_address_are_throttled_without_asking_foreman(foreman):
    fail("alice", times=ADDRESS_LIMIT)
    assert foreman.request_count("/v2/token") == ADDRESS_LIMIT

    for secret in ("wrong-password", PASSWORD):  # the right password too: no oracle
        with pytest.raises(Throttled) as raised:
            login("alice", secret)
        assert 0 < raised.value.wait <= WINDOW
    assert foreman.request_count("/v2/token") == ADDRESS_LIMIT

    # Other logins from the same address, and this login from elsewhere, are unaffected.
    assert login("bob", "bob-password-1").foreman_user_id is not None
    assert login("alice", PASSWORD, address="198.51.100.7").foreman_user_id is not None


def test_failures_of_one_login_are_counted_across_addresses(foreman):
    addresses = [f"198.51.100.{n}" for n in range(1, LOGIN_LIMIT + 2)]
    for address in addresses[:LOGIN_LIMIT]:
        fail("alice", address)
    foreman.reset_counters()

    with pytest.raises(Throttled):
        login("alice", PASSWORD, address=addresses[-1])  # a fresh address, the right password
    assert foreman.request_count() == 0
    assert login("bob", "bob-password-1", address=addresses[-1]).foreman_user_id is not None


def test_changing_the_case_of_a_login_gives_no_more_attempts(foreman):
    """Foreman ignores the case of logins, so the throttle does too."""
    for spelling in ["alice", "Alice", "ALICE", "aLiCe", "alicE"][:LOGIN_LIMIT]:
        fail(spelling, address=f"198.51.100.{len(spelling) + ord(spelling[-1])}")
    foreman.reset_counters()
    with pytest.raises(Throttled):
        login("ALIce", PASSWORD, address="203.0.113.9")
    assert foreman.request_count() == 0


@override_settings(KATELLO_GATEWAY_TRUSTED_PROXIES=["127.0.0.1"])
def test_behind_the_web_server_each_client_has_its_own_address_budget(foreman):
    """Through the proxy every request comes from 127.0.0.1; the proxy's X-Forwarded-For
    entry (the last one) tells the clients apart, so one client's failures do not throttle
    another's logins."""

    def via_proxy(secret, client, spoofed=""):
        return login("alice", secret, address="127.0.0.1", forwarded_for=f"{spoofed}{client}")

    for _ in range(ADDRESS_LIMIT):
        with pytest.raises(AuthenticationFailed):
            via_proxy("wrong-password", "203.0.113.9")
    with pytest.raises(Throttled):
        via_proxy(PASSWORD, "203.0.113.9")
    with pytest.raises(Throttled):  # what the client itself put first does not matter
        via_proxy(PASSWORD, "203.0.113.9", spoofed="198.51.100.77, ")
    assert via_proxy(PASSWORD, "198.51.100.20").foreman_user_id is not None


def test_forwarded_for_is_ignored_from_untrusted_peers(foreman):
    for client in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):
        with pytest.raises(AuthenticationFailed):
            login("alice", "wrong-password", address="192.0.2.10", forwarded_for=client)
    with pytest.raises(Throttled):  # all three counted against 192.0.2.10
        login("alice", PASSWORD, address="192.0.2.10", forwarded_for="203.0.113.4")


def last_failure(seconds_ago):
    LoginThrottle.objects.update(last_failure=timezone.now() - timedelta(seconds=seconds_ago))


def test_throttle_ends_when_a_window_passes_without_a_failure(foreman):
    fail("alice", times=ADDRESS_LIMIT)
    with pytest.raises(Throttled):
        login("alice", PASSWORD)

    last_failure(WINDOW + 1)
    fail("alice")  # allowed again, and counted from one
    assert set(LoginThrottle.objects.values_list("failures", flat=True)) == {1}
    assert login("alice", PASSWORD).foreman_user_id is not None


def test_a_failure_within_the_window_keeps_counting(foreman):
    """Counts last as Foreman's do: failures a little less than a window apart never start a
    new count, so no run of windows lets more through than one window would."""
    for _ in range(ADDRESS_LIMIT):
        last_failure(WINDOW - 10)
        fail("alice")
    with pytest.raises(Throttled):
        login("alice", PASSWORD)


def test_success_clears_the_address_counter_but_not_the_login_counter(foreman):
    fail("alice", times=ADDRESS_LIMIT - 1)
    login("alice", PASSWORD)
    assert sorted(LoginThrottle.objects.values_list("kind", "failures")) == [
        (kind, ADDRESS_LIMIT - 1)
        for kind in sorted([LoginThrottle.ADDRESS, LoginThrottle.FOREMAN, LoginThrottle.LOGIN])
    ]
    fail("alice", times=ADDRESS_LIMIT - 1)  # a fresh address budget
    login("alice", PASSWORD)


def test_cached_logins_are_throttled_too(foreman):
    """A throttled login gets 429 even with cached credentials: otherwise the cache would
    answer a brute-force attacker whether each guess is right."""
    login("alice", PASSWORD)
    fail("alice", times=ADDRESS_LIMIT)
    foreman.reset_counters()
    with pytest.raises(Throttled):
        login("alice", PASSWORD)
    assert foreman.request_count() == 0


def test_failed_logins_cannot_lock_a_local_pulp_user_out(foreman):
    """Guesses at a local password are stopped where they come from (each costs a full password
    hash), never per login: nobody elsewhere can lock the Pulp admin out of the registry."""
    get_user_model().objects.create_user("carol", password="carol-local-password")
    fail("carol", address="198.51.100.1", times=ADDRESS_LIMIT)
    with pytest.raises(Throttled):
        login("carol", "carol-local-password", "198.51.100.1")
    assert login("carol", "carol-local-password", "198.51.100.2").user.username == "carol"
    assert foreman.request_count() == 0


# -- who is asking ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "   ", "ali\x00ce", "ali\nce", "a" * 256])
def test_impossible_login_is_refused_without_asking_foreman(foreman, name):
    """No user is named so. Katello would answer an empty one with an anonymous token, which
    must not turn into a 503, and PostgreSQL refuses to compare a NUL (500)."""
    with pytest.raises(AuthenticationFailed):
        login(name, PASSWORD)
    assert foreman.request_count() == 0
    assert not LoginThrottle.objects.exists()


def test_without_foreman_url_only_local_users_log_in(foreman):
    with override_settings(KATELLO_GATEWAY_FOREMAN_URL=None):
        with pytest.raises(AuthenticationFailed):
            login("alice", PASSWORD)
    assert foreman.request_count() == 0


def test_local_pulp_user_logs_in_the_pulp_way(foreman):
    local = get_user_model().objects.create_user("carol", password="carol-local-password")
    identity = login("carol", "carol-local-password")
    assert identity.user == local and identity.foreman_user_id is None
    # A wrong local password is refused here: it never reaches Foreman.
    with pytest.raises(AuthenticationFailed):
        login("carol", "wrong")
    assert foreman.request_count() == 0


def test_foreman_user_shadow_cannot_log_in_as_a_local_user(foreman):
    login("alice", PASSWORD)
    foreman.reset_counters()
    with pytest.raises(AuthenticationFailed):
        login("foreman:alice", "")  # the Django user of a Foreman user has no password
    assert not ForemanUser.objects.filter(login="foreman:alice").exists()


@pytest.mark.parametrize(
    "header,expected",
    [
        (None, None),
        ("Bearer abc", None),
        ("Basic Og==", None),  # empty user and password: anonymous
        ("Basic " + base64.b64encode(b"alice:pa:ss").decode(), ("alice", "pa:ss")),
        ("basic " + base64.b64encode(b"alice:").decode(), ("alice", "")),
        ("Basic " + base64.b64encode("jos\u00e9:p\u00e4ss".encode()).decode(),
         ("jos\u00e9", "p\u00e4ss")),
    ],
)
def test_basic_credentials(header, expected):
    assert identity.basic_credentials(request(authorization=header)) == expected


@pytest.mark.parametrize(
    "header", ["Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode(), "Basic /w=="]
)
def test_malformed_basic_credentials_are_refused(header):
    with pytest.raises(AuthenticationFailed):
        identity.basic_credentials(request(authorization=header))


def test_no_credentials_is_anonymous_without_asking_foreman(foreman):
    assert identity.identify(Request(request()), registry_token=False) == ANONYMOUS
    assert foreman.request_count() == 0


# -- one login is one Foreman user, as Foreman folds it --------------------------------------

# (victim, a login Foreman tells apart from it but PostgreSQL's UPPER() in a UTF-8 locale does
# not, the impostor's own Foreman password, the victim's protected repository)
LOOK_ALIKES = [
    ("alice", "al\u0131ce", "dotless-password", "kat/a"),  # dotless i
    ("sam", "\u017fam", "long-s-password", "kat/s"),  # long s
]


def database_folds_together(a, b):
    """What PostgreSQL's own case folding says about two logins (as ``login__iexact`` did)."""
    with django_connection.cursor() as cursor:
        cursor.execute("SELECT upper(%s) = upper(%s)", [a, b])
        return cursor.fetchone()[0]


@pytest.mark.parametrize("victim,impostor,impostor_password,repository", LOOK_ALIKES)
@pytest.mark.parametrize("impostor_first", [False, True])
def test_a_look_alike_login_is_another_user(
    foreman, caplog, victim, impostor, impostor_password, repository, impostor_first
):
    """Foreman user ``alıce`` logging in with her own password becomes ``alıce``, never alice:
    she gets none of alice's grants, alice keeps hers, and every record names who it was."""
    assert database_folds_together(victim, impostor)  # the test database folds as production's
    victim_password = KATELLO["users"][victim]["password"]
    order = [(impostor, impostor_password), (victim, victim_password)]
    caplog.set_level(logging.INFO, logger="pulp_katello_gateway.audit")
    identities = dict(
        (name, login(name, secret)) for name, secret in (order if impostor_first else order[::-1])
    )

    assert identities[impostor].foreman_user_id != identities[victim].foreman_user_id
    assert identities[impostor].user.username == f"foreman:{impostor}"
    assert identities[victim].user.username == f"foreman:{victim}"
    assert grants(victim) == {repository} and grants(impostor) == set()
    assert permitted_actions(identities[impostor], repository, {"pull"}) == set()
    assert permitted_actions(identities[victim], repository, {"pull"}) == {"pull"}
    assert pull_record.who(identities[impostor]) == ("foreman", impostor, "")
    assert f"login user={impostor} " in caplog.text

    # Cached, each password opens its own user only, with either login.
    foreman.reset_counters()
    for name, secret in ((impostor, impostor_password), (victim, victim_password)):
        assert login(name, secret).foreman_user_id == identities[name].foreman_user_id
    with pytest.raises(AuthenticationFailed):
        login(victim, impostor_password)


def test_a_look_alike_login_has_its_own_throttle(foreman):
    """Failures of ``alıce`` are not alice's: alice, from the same address, still gets in."""
    fail("al\u0131ce", times=ADDRESS_LIMIT)
    with pytest.raises(Throttled):
        login("al\u0131ce", "dotless-password")
    assert login("alice", PASSWORD).foreman_user_id is not None


def test_a_kelvin_sign_is_the_same_foreman_user(foreman):
    """Ruby's downcase maps the Kelvin sign to ``k``, so Foreman finds karen by it: so do we,
    and only karen's password opens it."""
    karen = login("karen", "karen-password-1")
    kelvin = "\u212aaren"
    assert login(kelvin, "karen-password-1").foreman_user_id == karen.foreman_user_id
    with pytest.raises(AuthenticationFailed):
        login(kelvin, "dotless-password")
    assert list(ForemanUser.objects.values_list("login", flat=True)) == ["karen"]


# -- nobody locks anybody out -----------------------------------------------------------------


def test_strangers_cannot_lock_a_user_out_of_her_cached_login(foreman):
    """Wrong passwords for alice from many addresses stop asking Foreman about alice (below
    Foreman's account lockout), but alice's own cached password still gets her a token."""
    alice = login("alice", PASSWORD)
    foreman.reset_counters()
    for n in range(3 * LOGIN_LIMIT):
        address = f"198.51.100.{n + 1}"
        with pytest.raises((AuthenticationFailed, Throttled)):
            login("alice", "wrong-password", address)
    assert foreman.request_count("/v2/token") == LOGIN_LIMIT

    assert login("alice", PASSWORD, "203.0.113.50").foreman_user_id == alice.foreman_user_id
    # Past its TTL her cached login is honoured as while Foreman is unreachable.
    age("alice", TTL + 60)
    assert login("alice", PASSWORD, "203.0.113.50").foreman_user_id == alice.foreman_user_id
    assert foreman.request_count("/v2/token") == LOGIN_LIMIT
    # A secret Foreman would have to check is not checked meanwhile.
    with pytest.raises(Throttled):
        login("alice", PAT, "203.0.113.50")


def test_retrying_while_refused_does_not_keep_a_count_alive(foreman):
    """An attempt refused without asking Foreman counts where it came from, but does not move
    that count's last failure: retrying never keeps a client locked out for good."""
    for n in range(LOGIN_LIMIT):
        fail("alice", f"198.51.100.{n + 1}")
    for _ in range(2):
        with pytest.raises(Throttled):
            login("alice", "wrong-password", "203.0.113.7")
        last_failure(WINDOW - 10)
    pair = throttle.Attempt("alice", "203.0.113.7").keys([LoginThrottle.PAIR])
    row = LoginThrottle.objects.get(key__in=pair)
    assert row.failures == 2
    assert row.last_failure < timezone.now() - timedelta(seconds=WINDOW - 20)


def test_an_ipv6_client_is_counted_by_its_network(foreman):
    """One client commonly holds a whole /64: its addresses share one count."""
    for n in range(ADDRESS_LIMIT):
        fail("alice", f"2001:db8:1:2::{n + 1}")
    with pytest.raises(Throttled):
        login("alice", PASSWORD, "2001:db8:1:2::ffff")
    assert login("alice", PASSWORD, "2001:db8:1:3::1").foreman_user_id is not None


def test_spraying_from_one_address_stops_before_foreman_counts_it(foreman):
    """Many logins, one wrong password each, from one address: Foreman is asked at most
    CLIENT_LIMIT times, then that address gets 429 for any login Foreman would have to check."""
    for n in range(2 * CLIENT_LIMIT):
        with pytest.raises((AuthenticationFailed, Throttled)):
            login(f"sprayed{n}", "Winter2026!", "192.0.2.66")
    assert foreman.request_count("/v2/token") == CLIENT_LIMIT
    with pytest.raises(Throttled):
        login("bob", "bob-password-1", "192.0.2.66")
    assert login("bob", "bob-password-1", "192.0.2.67").foreman_user_id is not None


def test_all_failures_together_stay_below_foremans_address_lockout(foreman):
    """Foreman blocks every login from the capsule's address after its own limit of failures:
    failures from everywhere together stop asking Foreman first. Cached logins still work."""
    alice = login("alice", PASSWORD)
    foreman.reset_counters()
    for n in range(2 * FOREMAN_LIMIT):
        with pytest.raises((AuthenticationFailed, Throttled)):
            login(f"user{n}", "wrong", f"198.51.100.{n + 1}")
    assert foreman.request_count("/v2/token") == FOREMAN_LIMIT
    with pytest.raises(Throttled):
        login("bob", "bob-password-1", "203.0.113.9")
    assert login("alice", PASSWORD, "203.0.113.9").foreman_user_id == alice.foreman_user_id


def test_counts_that_ended_are_pruned(foreman):
    fail("alice", times=2)
    last_failure(WINDOW + 1)
    fail("bob")  # new counts, which prune those that ended
    remaining = set(LoginThrottle.objects.values_list("failures", "kind"))
    assert remaining == {(1, kind) for kind in LoginThrottle.KINDS}
    assert LoginThrottle.objects.count() == len(LoginThrottle.KINDS)


# -- a local Pulp user's password never leaves Pulp -------------------------------------------

DEFAULT_BACKENDS = ["pulpcore.backends.ObjectRolePermissionBackend",
                    "django.contrib.auth.backends.ModelBackend"]
FOREMANCTL_BACKENDS = ["pulpcore.app.authentication.PulpNoCreateRemoteUserBackend"]


@pytest.mark.parametrize("backends", [DEFAULT_BACKENDS, FOREMANCTL_BACKENDS])
def test_local_passwords_are_checked_in_pulp_whatever_the_backends(foreman, settings, backends):
    settings.AUTHENTICATION_BACKENDS = backends
    admin = get_user_model().objects.create_superuser("admin", password="pulp-admin-password")

    assert login("admin", "pulp-admin-password").user == admin
    for secret in ("pulp-admin-passwrod", "foreman-admin-password"):
        with pytest.raises(AuthenticationFailed):
            login("admin", secret)
    assert foreman.request_count() == 0  # Foreman's admin is not this capsule's unless declared


@pytest.mark.parametrize("backends", [DEFAULT_BACKENDS, FOREMANCTL_BACKENDS])
def test_a_login_both_local_and_declared_foreman_follows_the_password(
    foreman, settings, backends
):
    """``admin`` exists in Pulp and in Foreman. Once an admin declared Foreman's ``admin`` here,
    Pulp's password makes the local superuser, any other secret is Foreman's to judge."""
    settings.AUTHENTICATION_BACKENDS = backends
    admin = get_user_model().objects.create_superuser("admin", password="pulp-admin-password")
    declared = ForemanUser.objects.create_for_login("admin")

    assert login("admin", "pulp-admin-password").user == admin
    assert foreman.request_count() == 0
    assert login("admin", "foreman-admin-password").foreman_user_id == declared.pk
    assert grants("admin") == {"kat/b"}
    with pytest.raises(AuthenticationFailed):
        login("admin", "neither-password")
    assert foreman.request_count("/v2/token") == 2


def test_a_local_user_holding_a_reserved_name_is_a_clear_refusal(foreman):
    """A local ``foreman:bob`` made before the plugin refused it blocks Foreman user bob: a
    clear 401, without asking Foreman, and nothing adopted."""
    users = get_user_model().objects
    users.bulk_create([get_user_model()(username="foreman:bob")])  # no pre_save: an old row
    with pytest.raises(AuthenticationFailed, match="reserved for Foreman user 'bob'"):
        login("bob", "bob-password-1")
    assert foreman.request_count() == 0
    assert not ForemanUser.objects.exists()


def test_katello_is_told_the_spelling_foreman_verified(foreman, katello_client):
    """Katello finds the users it maps by Foreman's exact ``login`` column: the list names the
    spelling Foreman verified next to the folded login, and a mapping in either lands on bob."""
    login("Bob", "bob-password-1")
    users = katello_client.get(f"/{PUSH_ROOT}users")
    assert users.status_code == 200 and users.json() == {"users": ["Bob", "bob"]}
    mapping = {"users": [{"Bob": [{"repository": "kat/a", "auth_required": True}]}]}
    assert katello_client.put(f"/{PUSH_ROOT}user_repository_mapping", data=mapping,
                              format="json").status_code == 200
    assert grants("bob") == {"kat/a"}


def test_attempts_in_flight_count_before_foreman_answers(foreman):
    """Concurrent guesses on several nodes cannot all pass the check and then all reach Foreman:
    each holds its failure while Foreman is asked, and gives it back when Foreman says yes."""
    in_flight = [throttle.Attempt("alice", f"198.51.100.{n + 1}") for n in range(LOGIN_LIMIT)]
    assert [throttle.reserve(attempt) for attempt in in_flight] == [0] * LOGIN_LIMIT
    with pytest.raises(Throttled):
        login("alice", "wrong-password", "203.0.113.1")
    assert foreman.request_count() == 0
    for attempt in in_flight:  # Foreman said yes to each of them
        throttle.refund(attempt)
    assert login("alice", PASSWORD, "203.0.113.1").foreman_user_id is not None


def test_a_success_does_not_keep_a_count_alive(foreman):
    fail("alice", "198.51.100.1", times=2)
    last_failure(WINDOW - 10)
    assert login("alice", PAT, "198.51.100.2").foreman_user_id is not None  # asks Foreman
    counts = LoginThrottle.objects.filter(kind=LoginThrottle.LOGIN)
    assert [count.failures for count in counts] == [2]
    assert counts.get().last_failure < timezone.now() - timedelta(seconds=WINDOW - 20)
