"""Consumer certificates: only a client certificate from the Katello CA counts (the header reaches
the code only from the web server: test_trust_boundary.py)."""

import datetime
import os
import time
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.test import RequestFactory, override_settings

from devtools.pki import CertificateAuthority
from pulp_katello_gateway.app.certificates import consumer_uuid
from pulp_katello_gateway.app.checks import consumer_crl_check

HEADER = "HTTP_X_RHSM_SSL_CLIENT_CERT"
CONSUMER = "2f1c7c5e-6d3b-4e0a-9f1e-0c3a1b2d4e5f"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    base = tmp_path_factory.mktemp("pki")
    katello = CertificateAuthority(base / "katello", common_name="Katello CA")
    other = CertificateAuthority(base / "other", common_name="Some other CA")
    certs = {}
    two_cns = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CONSUMER),
                         x509.NameAttribute(NameOID.COMMON_NAME, "another-host")])
    for name, ca, kwargs in [
        ("good", katello, {}),
        ("no stated uses", katello, {"usages": ()}),
        ("revoked", katello, {}),
        ("foreign", other, {}),
        ("expired", katello, {"not_before": _days_ago(30), "days": 10}),
        ("future", katello, {"not_before": _days_ago(-10)}),
        ("a CA", katello, {"ca": True}),
        ("for servers only", katello, {"usages": [ExtendedKeyUsageOID.SERVER_AUTH]}),
        ("two CNs", katello, {"subject": two_cns}),
    ]:
        cert, _ = ca.issue(CONSUMER, base / f"{name}.crt", base / f"{name}.key", **kwargs)
        certs[name] = cert.read_text()
    certs["the CA itself"] = katello.cert_path.read_text()
    certs["crl"] = katello.write_crl(base / "katello.crl", [base / "revoked.crt"])
    certs["foreign crl"] = other.write_crl(base / "other.crl", [base / "good.crt"])
    certs["empty crl"] = katello.write_crl(base / "empty.crl", [])
    certs["stale crl"] = katello.write_crl(base / "stale.crl", [],
                                           next_update=-datetime.timedelta(hours=1))
    certs["signed by a host"] = _signed_by(base / "good.key", base / "good.crt")
    bundle = base / "bundle.pem"  # Katello's CA, and a host's certificate put there by mistake
    bundle.write_text(katello.cert_path.read_text() + certs["good"])
    return bundle, certs


def _signed_by(key_path, cert_path):
    """A client certificate for another consumer, signed with a host's own key."""
    key = serialization.load_pem_private_key(key_path.read_bytes(), None)
    issuer = x509.load_pem_x509_certificate(cert_path.read_bytes())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "another-host")]))
        .issuer_name(issuer.subject)
        .public_key(ec.generate_private_key(ec.SECP256R1()).public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _days_ago(days):
    return datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=days)


def _request(value):
    return RequestFactory().get("/token/", **{HEADER: value, "REMOTE_ADDR": ""})


@pytest.fixture
def trust_katello_ca(pki):
    with override_settings(KATELLO_GATEWAY_CONSUMER_CA_FILE=str(pki[0])):
        yield pki[1]


def test_certificate_from_katello_ca_names_the_consumer(trust_katello_ca):
    assert consumer_uuid(_request(trust_katello_ca["good"])) == CONSUMER


def test_nginx_escaped_certificate_is_accepted(trust_katello_ca):
    assert consumer_uuid(_request(quote(trust_katello_ca["good"]))) == CONSUMER


@pytest.mark.parametrize("name", ["foreign", "expired", "future", "a CA", "the CA itself",
                                  "for servers only", "two CNs", "signed by a host"])
def test_untrustworthy_certificates_are_ignored(trust_katello_ca, name):
    """What a TLS server would refuse as a client certificate, a host is not: the CA's own
    certificate (public, and signed by itself) or a sub-CA would otherwise be a "host"."""
    assert consumer_uuid(_request(trust_katello_ca[name])) is None


def test_a_certificate_that_states_no_uses_is_a_host(trust_katello_ca):
    assert consumer_uuid(_request(trust_katello_ca["no stated uses"])) == CONSUMER


def test_the_crl_revokes_at_once_and_is_reread_when_it_changes(trust_katello_ca, tmp_path):
    crl = tmp_path / "consumer.crl"
    crl.write_bytes(trust_katello_ca["crl"].read_bytes())
    with override_settings(KATELLO_GATEWAY_CONSUMER_CRL_FILE=str(crl)):
        assert consumer_uuid(_request(trust_katello_ca["revoked"])) is None
        assert consumer_uuid(_request(trust_katello_ca["good"])) == CONSUMER
        # Another CA's list naming the good certificate's serial does not revoke it; Katello's
        # list, now without the revoked one, lets it in again.
        crl.write_bytes(trust_katello_ca["foreign crl"].read_bytes()
                        + trust_katello_ca["empty crl"].read_bytes())
        os.utime(crl, (time.time() + 5, time.time() + 5))  # a new mtime, however fast the write
        assert consumer_uuid(_request(trust_katello_ca["good"])) == CONSUMER
        assert consumer_uuid(_request(trust_katello_ca["revoked"])) == CONSUMER


def test_without_a_current_list_of_its_ca_no_host_is_identified(trust_katello_ca, tmp_path):
    """Fail closed, as a TLS server checking revocation does: only another CA's list, or
    Katello's list past its next update, could be missing a revocation."""
    crl = tmp_path / "consumer.crl"
    for only in ("foreign crl", "stale crl"):
        crl.write_bytes(trust_katello_ca[only].read_bytes())
        os.utime(crl, (time.time() + 5, time.time() + 5))
        with override_settings(KATELLO_GATEWAY_CONSUMER_CRL_FILE=str(crl)):
            assert consumer_uuid(_request(trust_katello_ca["good"])) is None
            problems = [m.id for m in consumer_crl_check(None)]
        assert problems == (["katello_gateway.E012"] if only == "stale crl" else [])


def test_an_unreadable_crl_identifies_no_host(trust_katello_ca, tmp_path):
    """Fail closed: a CRL that cannot be read could be revoking anybody."""
    for content in (None, b"not a crl"):
        crl = tmp_path / "consumer.crl"
        crl.unlink(missing_ok=True)
        if content is not None:
            crl.write_bytes(content)
        with override_settings(KATELLO_GATEWAY_CONSUMER_CRL_FILE=str(crl)):
            assert consumer_uuid(_request(trust_katello_ca["good"])) is None
            assert [m.id for m in consumer_crl_check(None)] == ["katello_gateway.E012"]


@pytest.mark.parametrize(
    "value", ["", "(null)", "not a certificate", "-----BEGIN CERTIFICATE-----"]
)
def test_absent_or_garbage_header_is_no_identity(trust_katello_ca, value):
    assert consumer_uuid(_request(value)) is None


def test_without_consumer_ca_no_host_is_identified(pki):
    with override_settings(KATELLO_GATEWAY_CONSUMER_CA_FILE=None):
        assert consumer_uuid(_request(pki[1]["good"])) is None


def test_apache_certificate_with_newlines_as_spaces_is_accepted(trust_katello_ca):
    assert consumer_uuid(_request(trust_katello_ca["good"].replace("\n", " "))) == CONSUMER
