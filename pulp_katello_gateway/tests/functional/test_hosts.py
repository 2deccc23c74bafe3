"""Registered hosts pull with their consumer certificate, through nginx and the shipped snippet.

nginx verifies the client certificate against Katello's CA and passes it to Pulp in a header,
which Pulp believes only from nginx's address and verifies again. Anything else (another CA, a
header forged by a client) leaves the client anonymous.
"""

import uuid
from urllib.parse import quote

import pytest

from devtools.clients import Skopeo
from devtools.pki import CertificateAuthority
from pulp_katello_gateway.tests.functional.gateway_http import Registry
from pulp_katello_gateway.tests.functional.listing_clients import host_cert_dir


@pytest.fixture(scope="module")
def world(make_world):
    """A host granted ``granted``; ``secret`` is private and granted to nobody; ``late`` is for a
    host registered later."""
    return make_world("hosts", {"granted": True, "secret": True, "late": True},
                      hosts={"host": ["granted"]})


def _pull(nginx, cert_dir, repository, destination):
    return Skopeo(cert_dir, destination.parent).copy(
        f"docker://{nginx.registry}/{repository}:latest", f"oci:{destination}:latest", check=False
    )


def _certificate_header(world):
    """The host's certificate as the web server passes it to Pulp."""
    return quote((world.host_certs["host"] / "client.cert").read_text())


def test_host_pulls_its_repository_with_its_certificate(nginx, world, tmp_path):
    result = _pull(nginx, world.host_certs["host"], world.repos["granted"], tmp_path / "granted")
    assert result.returncode == 0, result.stderr
    assert world.digest in (tmp_path / "granted" / "index.json").read_text()


def test_host_cannot_pull_what_it_is_not_granted(nginx, world, tmp_path):
    result = _pull(nginx, world.host_certs["host"], world.repos["secret"], tmp_path / "secret")
    assert result.returncode != 0


def test_certificate_from_another_ca_is_refused(pulp, nginx, world, tmp_path):
    other_ca = CertificateAuthority(tmp_path / "other-ca", common_name="Not Katello")
    certs = host_cert_dir(tmp_path / "certs", pulp.ca_file, other_ca, world.hosts["host"])
    result = _pull(nginx, certs, world.repos["granted"], tmp_path / "granted")
    assert result.returncode != 0


def test_certificate_header_sent_through_nginx_is_replaced(pulp, nginx, world, secret_registry):
    # The header alone, no client certificate on the TLS connection.
    forged = Registry(nginx.url, pulp.ca_file, secret_registry,
                      headers={"X-RHSM-SSL-Client-Cert": _certificate_header(world)})
    assert forged.granted(world.repos["granted"]) == []


def test_unknown_host_is_looked_up_once_and_remembered(
    pulp, katello, nginx, consumer_ca, world, tmp_path
):
    """A host registered after the last capsule sync: Pulp asks Katello once, then knows it."""
    newcomer = str(uuid.uuid4())
    katello.add_host(newcomer, repositories=[world.repos["late"]])
    certs = host_cert_dir(tmp_path / "certs", pulp.ca_file, consumer_ca, newcomer)
    katello.reset_counters()
    for attempt in ("first", "second"):
        result = _pull(nginx, certs, world.repos["late"], tmp_path / attempt)
        assert result.returncode == 0, result.stderr
    lookups = [r for r in katello.requests if r["path"] == "/v2/_catalog"]
    assert len(lookups) == 1
    assert "HostUUID" in lookups[0]["headers"]
