"""acl/revocations.py: a host or Foreman user an admin deletes stays without grants until
Katello pushes it again, although Katello would hand them back if only asked."""

import pytest
from django.test import RequestFactory
from rest_framework.request import Request

from devtools.pki import CertificateAuthority
from pulp_katello_gateway.app.access import permitted_actions
from pulp_katello_gateway.app.identities import ANONYMOUS
from pulp_katello_gateway.app.models import ConsumerHost, ForemanUser, UserRepositoryGrant
from pulp_katello_gateway.app.registry.token import requester
from pulp_katello_gateway.app.urls import PUSH_ROOT

HOST = "2f1c7c5e-6d3b-4e0a-9f1e-0c3a1b2d4e5f"
KATELLO = {
    "repositories": {"kat/a": {"auth_required": True}, "kat/pub": {"auth_required": False}},
    "users": {"alice": {"password": "alice-password-1", "repositories": ["kat/a"]}},
    "hosts": {HOST: {"repositories": ["kat/a"]}},
}
API = "/pulp/api/v3/katello_gateway"


@pytest.fixture(scope="module")
def host_certificate(tmp_path_factory):
    base = tmp_path_factory.mktemp("pki")
    ca = CertificateAuthority(base / "katello", common_name="Katello CA")
    cert, _ = ca.issue(HOST, base / "host.crt", base / "host.key")
    return ca.cert_path, cert.read_text()


@pytest.fixture
def foreman(foreman_with, host_certificate):
    return foreman_with(KATELLO, KATELLO_GATEWAY_CONSUMER_CA_FILE=str(host_certificate[0]))


def host_identity(certificate):
    request = RequestFactory().get("/token/", HTTP_X_RHSM_SSL_CLIENT_CERT=certificate,
                                   REMOTE_ADDR="127.0.0.1")
    return requester(Request(request), None)


def push(client, endpoint, payload):
    """Katello's PUT of ``endpoint`` (JSON, which the push API takes as well as Rack forms)."""
    return client.put(f"/{PUSH_ROOT}{endpoint}", data=payload, format="json")


def login(name, secret):
    request = RequestFactory().get("/token/", REMOTE_ADDR="192.0.2.10")
    return requester(request, (name, secret))


def test_a_deleted_host_stays_revoked_until_katello_pushes_it(foreman, host_certificate,
                                                              admin_client, katello_client):
    certificate = host_certificate[1]
    host = host_identity(certificate)  # first sight: looked up in Katello, granted kat/a
    assert permitted_actions(host, "kat/a", {"pull"}) == {"pull"}

    pk = ConsumerHost.objects.get(uuid=HOST).pk
    assert admin_client.delete(f"{API}/hosts/{pk}/").status_code == 204
    foreman.reset_counters()
    assert host_identity(certificate) == ANONYMOUS  # not looked up again
    assert foreman.request_count() == 0
    assert not ConsumerHost.objects.filter(uuid=HOST).exists()
    assert permitted_actions(host_identity(certificate), "kat/pub", {"pull"}) == {"pull"}

    # Katello's next capsule sync names the host again: it is back, with Katello's grants.
    assert push(katello_client, "update_hosts", {"hosts": [{"uuid": HOST}]}).status_code == 200
    assert push(katello_client, "host_repository_mapping", {
        "hosts": [{HOST: [{"repository": "kat/a", "auth_required": True}]}]
    }).status_code == 200
    assert permitted_actions(host_identity(certificate), "kat/a", {"pull"}) == {"pull"}


def test_a_deleted_user_is_not_granted_again_at_her_next_login(foreman, admin_client,
                                                               katello_client):
    alice = login("alice", "alice-password-1")
    assert permitted_actions(alice, "kat/a", {"pull"}) == {"pull"}
    pk = ForemanUser.objects.get(login="alice").pk
    assert admin_client.delete(f"{API}/users/{pk}/").status_code == 204

    # Foreman still accepts her password: she logs in, without the grants Katello would give.
    alice = login("alice", "alice-password-1")
    assert permitted_actions(alice, "kat/a", {"pull"}) == set()
    assert permitted_actions(alice, "kat/pub", {"pull"}) == {"pull"}
    assert not UserRepositoryGrant.objects.exists()

    # Katello's next push of user grants names her: the revocation ends inside that push.
    assert push(katello_client, "user_repository_mapping", {
        "users": [{"Alice": [{"repository": "kat/a", "auth_required": True}]}]
    }).status_code == 200
    assert permitted_actions(alice, "kat/a", {"pull"}) == {"pull"}
