"""Pulp as Foreman's smart proxy, laid out as foremanctl does it: Apache (Foreman's certificate
mapped to Pulp's admin on the API), pulp-smart-proxy and this plugin. Foreman sees the
Container_Gateway feature, and Katello's own HTTP client (Ruby RestClient) pushes to
``<Pulp>/pulp/api/v3/smart_proxy/container_gateway/`` with no Ruby gateway and no Katello change.
"""

import uuid

import pytest

from devtools import restclient
from devtools.clients import Skopeo
from devtools.pki import CertificateAuthority
from pulp_katello_gateway.tests.database import snapshot
from pulp_katello_gateway.tests.functional.listing_clients import host_cert_dir, session

SMART_PROXY = "/pulp/api/v3/smart_proxy"
PUSH_STEPS = [
    ("PUT", "repository_list/"),
    ("GET", "users"),
    ("PUT", "user_repository_mapping/"),
    ("PUT", "update_hosts/"),
    ("PUT", "host_repository_mapping/"),
]


def test_foreman_refresh_sees_the_container_gateway_feature(pulp, apache, foreman_cert):
    """What Foreman asks when a smart proxy is added or refreshed, with its certificate."""
    foreman = session(pulp.ca_file)
    foreman.cert = foreman_cert
    foreman.headers["Accept"] = "application/json"
    url = apache.url + SMART_PROXY

    v2 = foreman.get(f"{url}/v2/features", timeout=30)
    assert v2.status_code == 200, v2.text
    running = {name for name, feature in v2.json().items() if feature["state"] == "running"}
    assert running == {"pulpcore", "container_gateway"}
    assert v2.json()["container_gateway"]["capabilities"] == []
    assert v2.json()["container_gateway"]["settings"] == {}

    v1 = foreman.get(f"{url}/features", timeout=30)
    assert v1.status_code == 200 and v1.json() == ["pulpcore", "container_gateway"]

    version = foreman.get(f"{url}/version", timeout=30)
    assert version.status_code == 200 and "version" in version.json()


def test_features_without_foremans_certificate_are_refused(pulp, apache):
    """pulp-smart-proxy's own view, under foremanctl's authentication classes (Session first,
    which sends no challenge): 403, and no features."""
    refused = session(pulp.ca_file).get(f"{apache.url}{SMART_PROXY}/v2/features", timeout=30)
    assert refused.status_code == 403
    assert "container_gateway" not in refused.text


@pytest.fixture
def capsule_world(make_world, katello):
    """Repositories ``user``, ``later`` (for a Foreman user), ``host`` (for a host), ``nobody``,
    pushed with the user (the host is Katello's, not pushed yet)."""
    world = make_world("sp", dict.fromkeys(("user", "later", "host", "nobody"), True),
                       users={"alice": ["user"]})
    host_uuid = str(uuid.uuid4())
    katello.add_host(host_uuid, repositories=[world.repos["host"]])
    return {"repos": world.repos, "auth": world.users["alice"]["auth"], "host": host_uuid}


def _pull(apache, cert_dir, repository, destination, creds=None):
    return Skopeo(cert_dir, destination.parent).copy(
        f"docker://{apache.registry}/{repository}:latest", f"oci:{destination}:latest",
        src_creds=creds, check=False,
    ).returncode == 0


def test_restclient_pushes_take_effect_for_users_and_hosts(
    pulp, apache, katello, foreman_cert, consumer_ca, capsule_world, tmp_path
):
    repos, auth = capsule_world["repos"], capsule_world["auth"]
    # The user logs in once (so Katello's GET users lists it); its grants are then cached.
    assert _pull(apache, pulp.certs_dir, repos["user"], tmp_path / "first", auth)
    katello.set_user_repositories(auth[0], [repos["user"], repos["later"]])
    katello.reset_counters()

    steps = restclient.sync_container_gateway(
        katello, apache.url + SMART_PROXY, ca=pulp.ca_file, cert=foreman_cert[0],
        key=foreman_cert[1],
    )
    prefix = f"{SMART_PROXY}/container_gateway/"
    assert [(s.method, s.path.removeprefix(prefix), s.status) for s in steps] == [
        (method, path, 200) for method, path in PUSH_STEPS
    ]

    # The cached login now pulls what the push granted, without asking Foreman again.
    assert _pull(apache, pulp.certs_dir, repos["later"], tmp_path / "later", auth)
    assert not _pull(apache, pulp.certs_dir, repos["host"], tmp_path / "u-host", auth)
    assert not _pull(apache, pulp.certs_dir, repos["nobody"], tmp_path / "u-nobody", auth)
    # The host is known from the push: its certificate pulls its repository, and only that.
    certs = host_cert_dir(tmp_path / "host-certs", pulp.ca_file, consumer_ca, capsule_world["host"])
    assert _pull(apache, certs, repos["host"], tmp_path / "host")
    assert not _pull(apache, certs, repos["user"], tmp_path / "h-user")
    assert katello.request_count() == 0


@pytest.mark.parametrize("who", ["no certificate", "untrusted certificate"])
def test_restclient_pushes_without_foremans_certificate_change_nothing(
    pulp, apache, katello, pulp_db, foreman_cn, capsule_world, tmp_path, who
):
    cert = key = None
    if who == "untrusted certificate":
        other = CertificateAuthority(tmp_path / "other-ca", common_name="Not Katello")
        cert, key = tmp_path / "client.cert", tmp_path / "client.key"
        other.issue(foreman_cn, cert, key)
    before = snapshot(pulp_db)
    steps = restclient.sync_container_gateway(
        katello, apache.url + SMART_PROXY, ca=pulp.ca_file, cert=cert, key=key
    )
    # Katello goes on after a failed step (RestClient raises, ProxyAPI logs it); with no users
    # known it sends no user mapping, and the hosts go as always.
    expected = 401 if who == "no certificate" else None  # None: the TLS handshake was refused
    prefix = f"{SMART_PROXY}/container_gateway/"
    assert [(s.method, s.path.removeprefix(prefix), s.status) for s in steps] == [
        (method, path, expected) for method, path in PUSH_STEPS if "user_" not in path
    ]
    assert snapshot(pulp_db) == before
