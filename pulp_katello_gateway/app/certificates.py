"""What the web server in front of Pulp says about the client: which registered host presents
the request (its consumer certificate), and the client's address.

The web server in front of Pulp terminates TLS with optional client certificates and passes the
client certificate (PEM, raw or URL-escaped as nginx's ``$ssl_client_escaped_cert``) in the
``KATELLO_GATEWAY_CLIENT_CERT_HEADER`` request header. The header is believed only from
``KATELLO_GATEWAY_TRUSTED_PROXIES`` and the certificate is verified here against
``KATELLO_GATEWAY_CONSUMER_CA_FILE`` (signature and validity dates), never trusted on the header's
word alone. Its subject CN is the consumer uuid.
"""

import datetime
import ipaddress
import logging
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import NameOID
from django.conf import settings

log = logging.getLogger(__name__)

UNIX_SOCKET = "unix"
# What Apache and nginx put in the header when the client sent no certificate.
_ABSENT = {"", "(null)", "null", "-"}


def _meta_key(header):
    return "HTTP_" + header.upper().replace("-", "_")


@lru_cache(maxsize=8)
def _load_cas(path, mtime):
    """CA certificates of the bundle at ``path`` (re-read when the file changes)."""
    return x509.load_pem_x509_certificates(Path(path).read_bytes())


@lru_cache(maxsize=8)
def _networks(entries):
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def from_trusted_proxy(request):
    """Whether the request came from a configured web server.

    The entry ``"unix"`` trusts requests over pulpcore-api's Unix socket (gunicorn reports no
    client address there), which only local processes allowed to open it can send.
    """
    trusted = tuple(settings.KATELLO_GATEWAY_TRUSTED_PROXIES or ())
    remote = request.META.get("REMOTE_ADDR", "")
    if not remote:
        return UNIX_SOCKET in trusted
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return False
    networks = _networks(tuple(entry for entry in trusted if entry != UNIX_SOCKET))
    return any(address in network for network in networks)


def client_address(request):
    """The client's address, for the throttle and the audit log.

    Behind the capsule's web server every request comes from the web server's address, so a
    request from a trusted proxy is attributed to the address that proxy appended to
    ``X-Forwarded-For`` (the last one; earlier entries are the client's own word). Otherwise the
    per-address throttle would be one budget for everybody.
    """
    remote = request.META.get("REMOTE_ADDR") or "-"
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded and from_trusted_proxy(request):
        try:
            return str(ipaddress.ip_address(forwarded.rsplit(",", 1)[-1].strip()))
        except ValueError:
            pass
    return remote


def _issued_by_trusted_ca(cert):
    ca_file = settings.KATELLO_GATEWAY_CONSUMER_CA_FILE
    if not ca_file:
        return False
    for ca in _load_cas(ca_file, Path(ca_file).stat().st_mtime):
        try:
            cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return True
    return False


def consumer_uuid(request):
    """The verified consumer uuid of the request's client certificate, or None.

    None when there is no certificate; also when one is present but untrustworthy (wrong CA,
    expired, not yet valid, unparseable, or the header came from an untrusted address), which is
    logged so that an operator can see why a host is treated as anonymous.
    """
    value = request.META.get(_meta_key(settings.KATELLO_GATEWAY_CLIENT_CERT_HEADER), "").strip()
    if value in _ABSENT:
        return None
    source = request.META.get("REMOTE_ADDR", "-")
    if not from_trusted_proxy(request):
        log.warning("client certificate header from untrusted address %s ignored", source)
        return None
    try:
        cert = x509.load_pem_x509_certificate(unquote(value).encode())
    except ValueError:
        log.warning("unparseable client certificate from %s ignored", source)
        return None
    now = datetime.datetime.now(datetime.UTC)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        log.warning("client certificate outside its validity period from %s ignored", source)
        return None
    if not _issued_by_trusted_ca(cert):
        log.warning("client certificate not issued by the consumer CA from %s ignored", source)
        return None
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return names[0].value if names else None
