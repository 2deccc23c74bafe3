"""Where Pulp's trust in the web server ends: which requests come from it, the client behind
it, and what a request from anyone else may not carry.

The web server in front of Pulp names identities in request headers: the user Foreman's
certificate stands for (remote-user authentication) and a registered host's certificate
(``KATELLO_GATEWAY_CLIENT_CERT_HEADER``). Those headers mean something only when the web server
set them, so every request that does not come from ``KATELLO_GATEWAY_TRUSTED_PROXIES`` loses them
before anything reads them. By default only pulpcore-api's Unix socket is trusted: a socket that
only the web server can open (install.md) is a boundary no other local process crosses,
whereas a TCP port on loopback is open to every local user.
"""

import ipaddress
import logging
import socket
from functools import lru_cache

from django.conf import settings

log = logging.getLogger(__name__)

UNIX_SOCKET = "unix"


def meta_key(header):
    """The ``request.META`` key of an HTTP request header."""
    return "HTTP_" + header.upper().replace("-", "_")


@lru_cache(maxsize=8)
def _networks(entries):
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def trusted_tcp_entries():
    """The addresses and networks of ``KATELLO_GATEWAY_TRUSTED_PROXIES``: TCP peers trusted."""
    return [entry for entry in settings.KATELLO_GATEWAY_TRUSTED_PROXIES or ()
            if entry != UNIX_SOCKET]


def over_unix_socket(request):
    """Whether the request came over a Unix socket: gunicorn's own socket says so. Not an empty
    client address alone, which gunicorn also gives a TCP client that sends a PROXY protocol
    header of the LOCAL kind (when an admin turns that protocol on)."""
    listener = request.META.get("gunicorn.socket")
    if listener is not None:
        return listener.family == socket.AF_UNIX
    return request.META.get("REMOTE_ADDR") == ""  # a server other than gunicorn, or a test


def from_trusted_proxy(request):
    """Whether the request came from a configured web server.

    The entry ``"unix"`` trusts requests over pulpcore-api's Unix socket (gunicorn reports no
    client address there), which only processes allowed to open the socket can send.
    """
    if over_unix_socket(request):
        return UNIX_SOCKET in (settings.KATELLO_GATEWAY_TRUSTED_PROXIES or ())
    remote = request.META.get("REMOTE_ADDR") or ""
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return False
    return any(address in network for network in _networks(tuple(trusted_tcp_entries())))


def client_address(request):
    """The client's address, for the throttle and the audit log.

    Behind the capsule's web server every request comes from the web server's address (or its
    socket), so a request from a trusted proxy is attributed to the address that proxy appended
    to ``X-Forwarded-For`` (the last one; earlier entries are the client's own word). Otherwise
    the per-address throttle would be one budget for everybody.
    """
    remote = request.META.get("REMOTE_ADDR") or "-"
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded and from_trusted_proxy(request):
        try:
            return str(ipaddress.ip_address(forwarded.rsplit(",", 1)[-1].strip()))
        except ValueError:
            pass
    return remote


def identity_keys():
    """The ``request.META`` keys in which the web server names who a request is: Pulp's
    remote user (``REMOTE_USER_ENVIRON_NAME``), its JSON identity header, if configured, and the
    host certificate header."""
    keys = [
        getattr(settings, "REMOTE_USER_ENVIRON_NAME", None) or "REMOTE_USER",
        meta_key(settings.KATELLO_GATEWAY_CLIENT_CERT_HEADER),
    ]
    json_header = getattr(settings, "AUTHENTICATION_JSON_HEADER", None)
    if json_header:
        keys.append(json_header)
    return keys


class TrustBoundaryMiddleware:
    """Drops the identity a request names unless the web server named it.

    First in ``MIDDLEWARE`` (``dynaconf_hooks``), so no authentication of Pulp's or of Django's
    sees what it dropped. It also drops a remote user that holds a comma: gunicorn joins a header
    sent twice with one, and nginx checks only the first copy, so a client's own ``Remote-User``
    behind an empty one would otherwise reach Pulp; no Pulp username holds a comma.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        meta, keys = request.META, identity_keys()
        present = [key for key in keys if key in meta]
        if present and not from_trusted_proxy(request):
            for key in present:
                del meta[key]
            log.warning("%s from %s, which is not a trusted proxy, dropped", ", ".join(present),
                        meta.get("REMOTE_ADDR") or "a Unix socket")
        remote_user = keys[0]
        if "," in meta.get(remote_user, ""):
            del meta[remote_user]
            log.warning("%s sent more than once, dropped", remote_user)
        return self.get_response(request)
