"""Keys and certificates for a local stack: token signing keys, a test CA, server/client certs."""

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _pem_key(key):
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write_token_keys(directory):
    """ES256 signing key pair for pulp_container's token server; returns (private, public)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    private, public = directory / "token_private_key.pem", directory / "token_public_key.pem"
    if not private.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        private.write_bytes(_pem_key(key))
        public.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    return private, public


def write_fernet_key(path):
    path = Path(path)
    if not path.exists():
        path.write_bytes(Fernet.generate_key())
    return path


class CertificateAuthority:
    """A self-signed CA stored as ``<name>.crt``/``<name>.key`` in ``directory``."""

    def __init__(self, directory, name="ca", common_name="pulp_katello_gateway test CA"):
        self.directory = Path(directory)
        self.cert_path = self.directory / f"{name}.crt"
        self.key_path = self.directory / f"{name}.key"
        if self.cert_path.exists():
            self.key = serialization.load_pem_private_key(self.key_path.read_bytes(), None)
            self.cert = x509.load_pem_x509_certificate(self.cert_path.read_bytes())
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True,
                    crl_sign=True, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .sign(self.key, hashes.SHA256())
        )
        self.key_path.write_bytes(_pem_key(self.key))
        self.cert_path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, common_name, cert_path, key_path, *, server=False, days=365, not_before=None,
              ca=False, usages=None, subject=None):
        """Sign a certificate: a client's (clientAuth), or with ``server=True`` a server's
        (loopback SANs, serverAuth). For certificates a host should not be able to use:
        ``ca=True`` makes it a CA; ``usages`` replaces its extended key usages (``()``: none
        stated); ``subject`` (an ``x509.Name``) replaces the one-CN subject."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        start = not_before or now - datetime.timedelta(minutes=5)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject or x509.Name(
                [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
            ))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
                ),
                critical=False,
            )
        if usages is None:
            usages = [ExtendedKeyUsageOID.SERVER_AUTH if server
                      else ExtendedKeyUsageOID.CLIENT_AUTH]
        if usages:
            builder = builder.add_extension(x509.ExtendedKeyUsage(usages), False)
        cert = builder.sign(self.key, hashes.SHA256())
        Path(cert_path).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        Path(key_path).write_bytes(_pem_key(key))
        return Path(cert_path), Path(key_path)

    def write_crl(self, path, revoked_cert_paths, next_update=datetime.timedelta(days=1)):
        """Write this CA's revocation list (PEM) revoking the certificates at
        ``revoked_cert_paths``, as Candlepin publishes one; its next update is due
        ``next_update`` from now (a negative one: a list that should have been replaced)."""
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.cert.subject)
            .last_update(min(now, now + next_update) - datetime.timedelta(minutes=5))
            .next_update(now + next_update)
        )
        for cert_path in revoked_cert_paths:
            cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(cert.serial_number)
                .revocation_date(now - datetime.timedelta(minutes=1))
                .build()
            )
        crl = builder.sign(self.key, hashes.SHA256())
        Path(path).write_bytes(crl.public_bytes(serialization.Encoding.PEM))
        return Path(path)
