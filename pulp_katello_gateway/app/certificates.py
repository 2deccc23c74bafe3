"""Which registered host presents a request: its subscription-manager consumer certificate.

The web server in front of Pulp terminates TLS with optional client certificates and passes the
client certificate (PEM, raw or URL-escaped as nginx's ``$ssl_client_escaped_cert``) in the
``KATELLO_GATEWAY_CLIENT_CERT_HEADER`` request header, which ``trust_boundary`` removes from
requests that do not come from the web server. The certificate is verified here as a TLS server
would verify a client's, never trusted on the header's word alone: signed by a CA in
``KATELLO_GATEWAY_CONSUMER_CA_FILE``, within its validity dates, not a CA itself, fit for client
authentication when it names its uses, not revoked by the CRL in
``KATELLO_GATEWAY_CONSUMER_CRL_FILE`` (Candlepin publishes one; re-read when the file changes).
Its subject's one CN is the consumer uuid.
"""

import datetime
import logging
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings

from pulp_katello_gateway.app.trust_boundary import client_address, meta_key

log = logging.getLogger(__name__)

# What Apache and nginx put in the header when the client sent no certificate.
_ABSENT = {"", "(null)", "null", "-"}


@lru_cache(maxsize=8)
def _load_cas(path, mtime):
    """CA certificates of the bundle at ``path`` (re-read when the file changes)."""
    return x509.load_pem_x509_certificates(Path(path).read_bytes())


@lru_cache(maxsize=8)
def _load_crls(path, mtime):
    """The revocation lists in the PEM (one or more) or DER file at ``path`` (re-read when the
    file changes)."""
    data = Path(path).read_bytes()
    if b"-----BEGIN X509 CRL-----" in data:
        blocks = data.split(b"-----END X509 CRL-----")[:-1]
        crls = [x509.load_pem_x509_crl(block + b"-----END X509 CRL-----\n") for block in blocks]
    else:
        crls = [x509.load_der_x509_crl(data)]
    return crls


def _trusted_issuer(cert, now):
    """The CA of ``KATELLO_GATEWAY_CONSUMER_CA_FILE`` that signed ``cert``, or None: one that
    is a CA (a certificate of the bundle that says it is not one signs nothing) and within its
    own validity dates."""
    ca_file = settings.KATELLO_GATEWAY_CONSUMER_CA_FILE
    if not ca_file:
        return None
    for ca in _load_cas(ca_file, Path(ca_file).stat().st_mtime):
        constraints = _extension(ca, x509.BasicConstraints)
        if constraints is not None and not constraints.ca:
            continue
        if not ca.not_valid_before_utc <= now <= ca.not_valid_after_utc:
            continue
        try:
            cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return ca
    return None


def _extension(cert, kind):
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _unfit_for_a_host(cert):
    """Why ``cert`` cannot be a host's client certificate, whoever signed it; None if it can."""
    constraints = _extension(cert, x509.BasicConstraints)
    if constraints is not None and constraints.ca:
        return "a CA certificate"
    uses = _extension(cert, x509.ExtendedKeyUsage)
    if uses is not None and ExtendedKeyUsageOID.CLIENT_AUTH not in uses:
        return "not for client authentication"
    if len(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)) != 1:
        return "not exactly one CN"
    return None


def _current_crls():
    """The lists of ``KATELLO_GATEWAY_CONSUMER_CRL_FILE`` (raises OSError, ValueError)."""
    crl_file = settings.KATELLO_GATEWAY_CONSUMER_CRL_FILE
    return _load_crls(crl_file, Path(crl_file).stat().st_mtime)


def crl_problem():
    """Why ``KATELLO_GATEWAY_CONSUMER_CRL_FILE`` cannot be used (for ``check --deploy``); None
    when it can, or is not set."""
    if not settings.KATELLO_GATEWAY_CONSUMER_CRL_FILE:
        return None
    try:
        crls = _current_crls()
    except OSError as exc:
        return f"it cannot be read ({exc.strerror})"
    except ValueError:
        return "it holds no certificate revocation list (PEM or DER)"
    now = datetime.datetime.now(datetime.UTC)
    for crl in crls:
        if crl.next_update_utc is not None and crl.next_update_utc < now:
            return f"its list of {crl.issuer.rfc4514_string()} expired at {crl.next_update_utc}"
    return None


def _revoked(cert, issuer, now):
    """Whether the CRL file (if any) revokes ``cert``: the issuer's current list (signed by its
    key) names it. Fail closed, as a TLS server checking CRLs does: a file that cannot be read,
    or without a current list of that issuer, refuses the certificate."""
    if not settings.KATELLO_GATEWAY_CONSUMER_CRL_FILE:
        return False
    try:
        crls = _current_crls()
    except (OSError, ValueError):
        log.error("KATELLO_GATEWAY_CONSUMER_CRL_FILE %s cannot be read: no host is identified",
                  settings.KATELLO_GATEWAY_CONSUMER_CRL_FILE)
        return True
    issued = [crl for crl in crls
              if crl.issuer == issuer.subject and crl.is_signature_valid(issuer.public_key())]
    current = [crl for crl in issued if crl.next_update_utc is None or now <= crl.next_update_utc]
    if not current:
        log.error("KATELLO_GATEWAY_CONSUMER_CRL_FILE holds no current list of %s: its hosts are "
                  "not identified", issuer.subject.rfc4514_string())
        return True
    return any(crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None
               for crl in current)


def consumer_uuid(request):
    """The verified consumer uuid of the request's client certificate, or None.

    None when there is no certificate; also when one is present but untrustworthy (wrong CA,
    expired, not yet valid, a CA, not for client authentication, revoked, unparseable), which is
    logged so that an operator can see why a
    host is treated as anonymous.
    """
    value = request.META.get(meta_key(settings.KATELLO_GATEWAY_CLIENT_CERT_HEADER), "").strip()
    if value in _ABSENT:
        return None
    source = client_address(request)
    try:
        cert = x509.load_pem_x509_certificate(unquote(value).encode())
    except ValueError:
        log.warning("unparseable client certificate from %s ignored", source)
        return None
    now = datetime.datetime.now(datetime.UTC)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        log.warning("client certificate outside its validity period from %s ignored", source)
        return None
    issuer = _trusted_issuer(cert, now)
    if issuer is None:
        log.warning("client certificate not issued by the consumer CA from %s ignored", source)
        return None
    unfit = _unfit_for_a_host(cert)
    if unfit:
        log.warning("client certificate from %s ignored: %s", source, unfit)
        return None
    if _revoked(cert, issuer, now):
        log.warning("revoked client certificate from %s ignored", source)
        return None
    return cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
