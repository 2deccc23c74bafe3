"""The trust boundary: an identity named in a header counts only when the web server sent it.

What the view behind the middleware sees, for requests over pulpcore-api's socket (the web
server's, when only it can open the socket) and over TCP. The real thing, with gunicorn, nginx,
Apache and another local user, is in tests/functional/test_trust_boundary.py.
"""

import socket

import pytest
from django.conf import settings
from django.test import RequestFactory, override_settings

from pulp_katello_gateway.app.dynaconf_hooks import TRUST_BOUNDARY
from pulp_katello_gateway.app.trust_boundary import (
    TrustBoundaryMiddleware,
    client_address,
    from_trusted_proxy,
)

SOCKET = ""  # gunicorn reports no client address over a Unix socket
REMOTE_USER = "HTTP_REMOTE_USER"  # install.md's REMOTE_USER_ENVIRON_NAME
CERTIFICATE = "HTTP_X_RHSM_SSL_CLIENT_CERT"


def seen_by_the_view(address, **headers):
    """The identity headers left in the request the view gets, sent from ``address``."""
    seen = {}

    def view(request):
        seen.update({key: request.META[key] for key in (REMOTE_USER, CERTIFICATE)
                     if key in request.META})

    request = RequestFactory().get("/pulp/api/v3/users/", REMOTE_ADDR=address, **headers)
    TrustBoundaryMiddleware(view)(request)
    return seen


@pytest.fixture(autouse=True)
def remote_user_authentication():
    with override_settings(REMOTE_USER_ENVIRON_NAME=REMOTE_USER):
        yield


IDENTITY = {REMOTE_USER: "admin", CERTIFICATE: "-----BEGIN CERTIFICATE-----..."}


def test_the_web_server_names_identities_over_the_socket():
    assert seen_by_the_view(SOCKET, **IDENTITY) == IDENTITY


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "127.0.0.2", "192.0.2.7"])
def test_a_tcp_peer_names_nobody_by_default(address):
    """pulpcore-api on a loopback port is open to every local user: none of them is the web
    server, whatever header it sends."""
    assert settings.KATELLO_GATEWAY_TRUSTED_PROXIES == ["unix"]
    assert seen_by_the_view(address, **IDENTITY) == {}


def test_a_listed_tcp_peer_is_trusted_and_nobody_else():
    with override_settings(KATELLO_GATEWAY_TRUSTED_PROXIES=["192.0.2.0/24"]):
        assert seen_by_the_view("192.0.2.7", **IDENTITY) == IDENTITY
        assert seen_by_the_view("198.51.100.7", **IDENTITY) == {}
        assert seen_by_the_view(SOCKET, **IDENTITY) == {}  # "unix" is not listed


def test_a_remote_user_sent_twice_is_nobody_even_from_the_web_server():
    """nginx 1.22 checks only the first Remote-User; gunicorn joins both with a comma."""
    assert seen_by_the_view(SOCKET, **{REMOTE_USER: ",admin"}) == {}
    assert seen_by_the_view(SOCKET, **{REMOTE_USER: "katello"}) == {REMOTE_USER: "katello"}


def test_a_json_identity_header_is_dropped_too():
    """pulpcore's other header identity (AUTHENTICATION_JSON_HEADER), when configured."""
    key = "HTTP_X_RH_IDENTITY"
    request = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1", **{key: "eyJ..."})
    with override_settings(AUTHENTICATION_JSON_HEADER=key):
        TrustBoundaryMiddleware(lambda request: None)(request)
    assert key not in request.META


def test_the_boundary_is_the_first_middleware():
    """Before any middleware of Pulp's or Django's (RemoteUserMiddleware, say) reads a header."""
    assert settings.MIDDLEWARE[0] == TRUST_BOUNDARY


def test_the_client_behind_the_web_server_is_the_address_it_appended():
    def address(remote, forwarded):
        request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
        return client_address(request)

    assert address(SOCKET, "203.0.113.1, 198.51.100.9") == "198.51.100.9"
    # From an untrusted peer the header is the client's own word.
    assert address("127.0.0.1", "198.51.100.9") == "127.0.0.1"


@pytest.mark.parametrize("family, trusted", [(socket.AF_UNIX, True), (socket.AF_INET, False)])
def test_the_socket_is_the_one_gunicorn_accepted_on(family, trusted):
    """gunicorn gives an empty client address to a TCP client that sends a PROXY protocol header
    of the LOCAL kind (when an admin turns that protocol on): only its socket tells."""
    with socket.socket(family, socket.SOCK_STREAM) as accepted_on:
        request = RequestFactory().get("/", REMOTE_ADDR="", **{"gunicorn.socket": accepted_on})
        assert from_trusted_proxy(request) is trusted
