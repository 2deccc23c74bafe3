"""grant_refresh.py: hosts follow their content view between capsule syncs. A stale host's next
token request asks for one refresh (a Pulp task), which replaces its grants from Katello's
catalog, or leaves them when Foreman does not answer."""

import uuid
from datetime import timedelta

import pytest
from django.test import RequestFactory
from django.utils import timezone
from django_guid import clear_guid, set_guid
from pulpcore.app.util import set_current_user
from pulpcore.plugin.models import Task
from rest_framework.request import Request

from devtools.pki import CertificateAuthority
from pulp_katello_gateway.app import grant_refresh
from pulp_katello_gateway.app.access import permitted_actions
from pulp_katello_gateway.app.acl import writes
from pulp_katello_gateway.app.acl.writes import update_host_grants
from pulp_katello_gateway.app.models import ConsumerHost
from pulp_katello_gateway.app.registry.identity import identify
from pulp_katello_gateway.app.registry.token import requester
from pulp_katello_gateway.app.tasks import refresh_host
from pulp_katello_gateway.tests.unit.katello_api import database_state

pytestmark = pytest.mark.django_db

TASK = "pulp_katello_gateway.app.tasks.host_refresh.refresh_host"


@pytest.fixture(autouse=True)
def host_request():
    """Refreshes are dispatched inside a host's token request: it has a correlation id
    (django-guid), and its user is anonymous (not whoever an earlier test left behind)."""
    set_guid(uuid.uuid4().hex)
    set_current_user(None)
    yield
    clear_guid()


@pytest.fixture
def foreman(foreman_with):
    return foreman_with({
        "repositories": {"kat/a": {"auth_required": True}, "kat/b": {"auth_required": True}},
        "users": {},
        "hosts": {"h1": {"repositories": ["kat/b"]}},
    })


@pytest.fixture
def host(foreman):
    """h1 as last pushed: granted kat/a (Katello has since moved it to kat/b)."""
    update_host_grants({"h1": ["kat/a"]})
    return ConsumerHost.objects.get(uuid="h1")


def granted(host):
    return sorted(host.repositories.values_list("name", flat=True))


def age(host, seconds):
    ConsumerHost.objects.filter(pk=host.pk).update(
        grants_refreshed_at=timezone.now() - timedelta(seconds=seconds)
    )


def refreshes():
    return Task.objects.filter(name=TASK).count()


def test_fresh_grants_ask_for_nothing(host, settings):
    settings.KATELLO_GATEWAY_HOST_REFRESH_INTERVAL = 3600
    grant_refresh.request_if_stale(host.pk)
    assert refreshes() == 0


def test_stale_grants_ask_for_one_refresh_per_interval(host, settings, foreman):
    settings.KATELLO_GATEWAY_HOST_REFRESH_INTERVAL = 3600
    age(host, 7200)
    for _ in range(3):
        grant_refresh.request_if_stale(host.pk)
    assert refreshes() == 1
    assert foreman.request_count() == 0  # the request itself never asks Foreman


def test_off_asks_for_nothing(host, settings):
    settings.KATELLO_GATEWAY_HOST_REFRESH_INTERVAL = 0
    age(host, 7200)
    grant_refresh.request_if_stale(host.pk)
    assert refreshes() == 0


def test_the_refresh_takes_katellos_catalog(host, foreman):
    refresh_host("h1")
    assert granted(host) == ["kat/b"]
    host.refresh_from_db()
    assert host.refresh_requested_at is None
    assert timezone.now() - host.grants_refreshed_at < timedelta(minutes=1)


def test_without_foreman_the_host_keeps_its_grants(host, foreman):
    foreman.set_fault("down")
    refresh_host("h1")
    assert granted(host) == ["kat/a"]


@pytest.mark.parametrize("push", [
    lambda: writes.replace_host_grants({"h1": ["kat/b"]}),  # host_repository_mapping
    lambda: writes.update_host_grants({"h1": ["kat/b"]}, pushed=True),  # update_host_repositories
])
def test_a_push_and_its_refresh_bookkeeping_commit_or_roll_back_together(host, monkeypatch, push):
    """A host-grant push says the host's grants are Katello's as of now: when anything in it
    fails after the mark, the grants and the mark both stay as they were; when it succeeds,
    both are new."""
    age(host, 7200)
    ConsumerHost.objects.filter(pk=host.pk).update(refresh_requested_at=timezone.now())
    before = ConsumerHost.objects.values_list(
        "grants_refreshed_at", "refresh_requested_at").get(pk=host.pk)
    mark = writes._mark_refreshed

    def mark_then_fail(cursor, hosts_sql):
        mark(cursor, hosts_sql)
        raise RuntimeError("the database went away")

    monkeypatch.setattr(writes, "_mark_refreshed", mark_then_fail)
    with pytest.raises(RuntimeError):
        push()
    after_failure = ConsumerHost.objects.values_list(
        "grants_refreshed_at", "refresh_requested_at").get(pk=host.pk)
    assert (granted(host), after_failure) == (["kat/a"], before)

    monkeypatch.setattr(writes, "_mark_refreshed", mark)
    push()
    refreshed_at, requested_at = ConsumerHost.objects.values_list(
        "grants_refreshed_at", "refresh_requested_at").get(pk=host.pk)
    assert granted(host) == ["kat/b"]
    assert refreshed_at > before[0] and requested_at is None


def test_identifying_a_client_writes_no_grant_the_token_endpoint_catches_up(
    foreman_with, tmp_path
):
    """``registry.identity`` says who asks and what it found out of date, and writes no grant;
    the token endpoint's catch-up is the one place that asks Katello's catalog and writes: for a
    host Katello has not pushed, and for a login Foreman has just confirmed."""
    host_uuid = str(uuid.uuid4())
    ca = CertificateAuthority(tmp_path / "katello", common_name="Katello CA")
    certificate, _ = ca.issue(host_uuid, tmp_path / "host.crt", tmp_path / "host.key")
    foreman = foreman_with(
        {
            "repositories": {"kat/a": {"auth_required": True}},
            "users": {name: {"password": f"{name}-pw", "repositories": ["kat/a"]}
                      for name in ("alice", "bob")},
            "hosts": {host_uuid: {"repositories": ["kat/a"]}},
        },
        KATELLO_GATEWAY_CONSUMER_CA_FILE=str(ca.cert_path),
    )
    host_request = Request(RequestFactory().get(
        "/token/", HTTP_X_RHSM_SSL_CLIENT_CERT=certificate.read_text(), REMOTE_ADDR="127.0.0.1"
    ))
    before = acl()

    host = identify(host_request, registry_token=False)
    alice = identify(RequestFactory().get("/token/"), ("alice", "alice-pw"), registry_token=False)
    assert (host.kind, alice.kind) == ("anonymous", "foreman")
    assert acl() == before
    assert foreman.request_counts() == {"/v2/token": 1}  # alice's password, no catalog

    host = requester(host_request, None)
    bob = requester(RequestFactory().get("/token/"), ("bob", "bob-pw"))
    assert permitted_actions(host, "kat/a", {"pull"}) == {"pull"}
    assert permitted_actions(bob, "kat/a", {"pull"}) == {"pull"}
    assert permitted_actions(alice, "kat/a", {"pull"}) == set()


def acl():
    """The grants and hosts the plugin holds (what identifying must not write)."""
    state = database_state()
    return {table: rows for table, rows in state.items() if "grant" in table or "host" in table}
