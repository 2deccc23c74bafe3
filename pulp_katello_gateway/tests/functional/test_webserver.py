"""The web server as install.md sets it up (nginx, and Apache httpd as on a Katello capsule):
Pulp's locations, pulp_container's snippet and this plugin's, in front of a Pulp with remote-user
authentication on.

No header a client can send makes it anyone: not ``Remote-User`` (which Pulp believes), not its
spellings, not the consumer-certificate header. Katello's own certificate still pushes.
"""

import os
import socket
import ssl
import subprocess
import uuid
from pathlib import Path
from urllib.parse import quote

import jwt
import pulp_container
import pytest
import requests
from cryptography import x509
from cryptography.x509.oid import NameOID

import pulp_katello_gateway
from devtools import docs
from devtools.katello_standin.push import put
from devtools.pki import CertificateAuthority
from devtools.stack import BIN
from pulp_katello_gateway.tests.database import snapshot
from pulp_katello_gateway.tests.functional.listing_clients import FLATPAK_QUERY, session

REFUSED_BY_NGINX = "Remote-User is set by this web server, never by clients.\n"


@pytest.fixture(scope="module")
def katello_push_user(pulp):
    """The Pulp user Foreman's certificate maps to, made by install.md's ``pulpcore-manager``
    command, run as written."""
    command = docs.block("bash", "pulpcore-manager shell")
    env = dict(pulp.env(), PATH=os.pathsep.join([str(BIN), os.environ["PATH"]]))
    subprocess.run(["bash", "-euo", "pipefail", "-c", command], env=env, check=True,
                   cwd=pulp.state, capture_output=True, timeout=120)
    return "katello"


def test_install_md_rest_calls_make_a_push_user(pulp):
    """The REST alternative install.md gives: create the user, then assign the role."""
    admin = pulp.session()
    username = f"katello-{uuid.uuid4().hex[:8]}"
    created = admin.post(f"{pulp.api_url}/pulp/api/v3/users/", json={"username": username},
                         timeout=30)
    assert created.status_code == 201, created.text
    roles = f"{pulp.api_url}{created.json()['pulp_href']}roles/"
    assigned = admin.post(roles, json={"role": "katello_gateway.katello", "content_object": None},
                          timeout=30)
    assert assigned.status_code == 201, assigned.text
    listed = admin.get(roles, timeout=30).json()["results"]
    assert [(r["role"], r["content_object"]) for r in listed] == [("katello_gateway.katello", None)]


SNIPPETS = [Path(package.__file__).parent / "app" / "webserver_snippets"
            for package in (pulp_container, pulp_katello_gateway)]


def test_nginx_accepts_both_snippets_together(nginx):
    config = nginx.config_path.read_text()
    for snippets in SNIPPETS:
        assert f"include {snippets / 'nginx.conf'};" in config
    assert f"include {nginx.remote_user_map};" in config
    assert f"server unix:{nginx.api_socket};" in config
    tested = nginx.config_test()
    assert tested.returncode == 0, tested.stderr
    assert "syntax is ok" in tested.stderr


def test_apache_accepts_both_snippets_together(apache):
    config = apache.config_path.read_text()
    for snippets in SNIPPETS:
        assert f"Include {snippets / 'apache.conf'}" in config
    assert f'Define pulp-api "unix:{apache.api_socket}|http://pulpcore-api"' in config
    tested = apache.config_test()
    assert tested.returncode == 0, tested.stderr
    assert "Syntax OK" in tested.stderr


def _requests(world, registry):
    """(method, path, body) for every kind of path the web server routes to Pulp."""
    private, host_repo = world.repos["private"], world.repos["host"]
    scope = f"service={registry}&scope=repository:{private}:pull&scope=repository:{host_repo}:pull"
    return [
        ("GET", "/pulp/api/v3/users/", None),
        ("GET", "/pulp/api/v3/katello_gateway/repositories/", None),
        ("GET", f"/token/?{scope}", None),
        ("GET", f"/v2/{private}/manifests/latest", None),
        ("GET", "/v2/_catalog", None),
        ("GET", f"/extensions/v2/{private}/signatures/{world.digest}", None),
        ("GET", f"/v1/search?q={world.prefix}", None),
        ("GET", f"/index/static?{FLATPAK_QUERY}", None),
        ("GET", "/container_gateway/users", None),
        ("PUT", "/container_gateway/repository_list/", "repositories"),
        ("GET", "/pulp/content/", None),
    ]


def _seen(response):
    """What a client gets: status and body, a token reduced to whom and what it grants."""
    if response.status_code == 200 and response.request.path_url.startswith("/token/"):
        claims = jwt.decode(response.json()["token"], options={"verify_signature": False})
        return 200, {"sub": claims["sub"], "access": claims["access"]}
    return response.status_code, response.text


SPOOFED = {
    "Remote-User": "admin",
    "REMOTE_USER": "admin",
    "Remote_User": "admin",
    "X-Remote-User": "admin",
    "X-Forwarded-User": "admin",
}
# What each web server does with a client's own Remote-User: nginx refuses the request (it cannot
# clear the header in locations it does not own), Apache removes the header (None: the request
# is answered as if it had not been sent).
OWN_REMOTE_USER = {"nginx": (400, REFUSED_BY_NGINX), "apache": None}


@pytest.fixture(scope="module", params=["nginx", "apache"])
def web_server(request):
    """(name, server): each web server the docs describe, set up as install.md says."""
    return request.param, request.getfixturevalue(request.param)


@pytest.mark.parametrize("header", [*SPOOFED, "X-RHSM-SSL-Client-Cert"])
def test_no_header_a_client_sends_makes_it_anybody(pulp, web_server, gateway_world, pulp_db,
                                                   header):
    """Each routed path, with and without the header: the answer is the anonymous one, or
    nginx's refusal of a request that names its own remote user."""
    kind, server = web_server
    if header == "X-RHSM-SSL-Client-Cert":
        value = quote(open(gateway_world.host_cert()[0]).read())
    else:
        value = SPOOFED[header]
    client = session(pulp.ca_file)
    before = snapshot(pulp_db)
    for method, path, body in _requests(gateway_world, server.registry):
        url = server.url + path
        plain = _seen(client.request(method, url, data=body, timeout=30))
        spoofed = client.request(method, url, data=body, headers={header: value}, timeout=30)
        if header == "Remote-User" and OWN_REMOTE_USER[kind]:
            assert (spoofed.status_code, spoofed.text) == OWN_REMOTE_USER[kind], path
        else:
            assert _seen(spoofed) == plain, path
    assert snapshot(pulp_db) == before


# Pulp's own API without credentials: 401 under install.md's authentication classes (Basic
# first), 403 under foremanctl's (Session first, which sends no challenge).
PULP_API_ANONYMOUS = {"nginx": 401, "apache": 403}


def test_anonymous_answers_grant_nothing_protected(pulp, web_server, gateway_world):
    """The baseline the spoofing test compares with is itself the anonymous one. The push API
    challenges for credentials whatever Pulp's authentication classes (push-api.md)."""
    kind, server = web_server
    client = session(pulp.ca_file)
    private, host_repo = gateway_world.repos["private"], gateway_world.repos["host"]
    users = client.get(f"{server.url}/pulp/api/v3/users/", timeout=30)
    assert users.status_code == PULP_API_ANONYMOUS[kind]
    for path in ("/container_gateway/users", "/pulp/api/v3/katello_gateway/repositories/"):
        answer = client.get(server.url + path, timeout=30)
        assert answer.status_code == 401, path
        assert answer.headers["WWW-Authenticate"] == 'Basic realm="api"', path
    [token_path] = [path for _, path, _ in _requests(gateway_world, server.registry)
                    if path.startswith("/token/")]
    assert _seen(client.get(server.url + token_path, timeout=30)) == (200, {"sub": "", "access": [
        {"type": "repository", "name": private, "actions": []},
        {"type": "repository", "name": host_repo, "actions": []},
    ]})


def test_katellos_certificate_pushes(pulp, web_server, katello, katello_push_user, foreman_cert):
    _, server = web_server
    name = f"push-{uuid.uuid4().hex[:8]}/repo"
    katello.add_repository(name, auth_required=True)
    steps = katello.push(f"{server.url}/container_gateway/", cert=foreman_cert,
                         verify=str(pulp.ca_file))
    assert [step for step in steps if step.status != 200] == []
    assert any(step.path.endswith("/repository_list/") for step in steps)
    stored = pulp.session().get(f"{pulp.api_url}/pulp/api/v3/katello_gateway/repositories/",
                                params={"name": name}, timeout=30).json()
    assert [(r["name"], r["auth_required"]) for r in stored["results"]] == [(name, True)]


# A certificate the web server cannot verify: nginx answers 400, Apache ends the TLS handshake.
UNVERIFIED = {"nginx": 400, "apache": "TLS handshake refused"}


@pytest.mark.parametrize("who", ["host", "other CA", "no certificate"])
def test_other_certificates_push_nothing(pulp, web_server, gateway_world, tmp_path, pulp_db,
                                         foreman_cn, who):
    kind, server = web_server
    if who == "host":
        cert = gateway_world.host_cert()
    elif who == "other CA":
        other = CertificateAuthority(tmp_path / "other-ca", common_name="Not Katello")
        other.issue(foreman_cn, tmp_path / "client.cert", tmp_path / "client.key")
        cert = (str(tmp_path / "client.cert"), str(tmp_path / "client.key"))
    else:
        cert = None
    before = snapshot(pulp_db)
    try:
        outcome = put(f"{server.url}/container_gateway/", "repository_list",
                      {"repositories": []}, cert=cert, verify=str(pulp.ca_file)).status_code
    except requests.exceptions.SSLError:
        outcome = "TLS handshake refused"
    # Pulp refuses any caller but Katello's certificate: 401.
    assert outcome == (UNVERIFIED[kind] if who == "other CA" else 401)
    assert snapshot(pulp_db) == before


def _subject(*attributes):
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes])


def _look_alikes(cn):
    """Subjects of certificates Katello's CA signed that carry Foreman's CN ``cn`` without
    being Foreman's: in another attribute (escaped), as a second CN either way round, with a
    prefix or a suffix, followed by an escaped comma."""
    return {
        "in another attribute": _subject((NameOID.COMMON_NAME, "evil"),
                                         (NameOID.ORGANIZATIONAL_UNIT_NAME, f"a,CN={cn}"),
                                         (NameOID.ORGANIZATION_NAME, "acme")),
        "second CN": _subject((NameOID.COMMON_NAME, "evil"), (NameOID.COMMON_NAME, cn)),
        "first of two CNs": _subject((NameOID.COMMON_NAME, cn), (NameOID.COMMON_NAME, "evil")),
        "prefix": _subject((NameOID.COMMON_NAME, f"x{cn}")),
        "suffix": _subject((NameOID.COMMON_NAME, f"{cn}.evil.example.org")),
        "escaped comma": _subject((NameOID.COMMON_NAME, f"{cn},O=acme")),
    }


@pytest.mark.parametrize("look_alike", list(_look_alikes("x")))
def test_a_certificate_that_only_names_foreman_pushes_nothing(
    pulp, web_server, katello_push_user, consumer_ca, foreman_cert, foreman_cn, pulp_db, tmp_path,
    look_alike,
):
    """The web server maps Foreman's certificate to Katello's user by its subject's one CN,
    exactly; the victim's side: Foreman's own certificate still pushes, through the same server."""
    _, server = web_server
    cert = (str(tmp_path / "client.cert"), str(tmp_path / "client.key"))
    consumer_ca.issue(None, *cert, subject=_look_alikes(foreman_cn)[look_alike])
    before = snapshot(pulp_db)
    refused = put(f"{server.url}/container_gateway/", "repository_list", {"repositories": []},
                  cert=cert, verify=str(pulp.ca_file))
    assert refused.status_code == 401
    assert snapshot(pulp_db) == before
    users = requests.get(f"{server.url}/container_gateway/users", cert=foreman_cert,
                         verify=str(pulp.ca_file), timeout=30)
    assert users.status_code == 200, users.text
    if web_server[0] == "apache":
        # foremanctl's own mapping to admin on Pulp's API, as deploy-foremanctl.md has it.
        def pulp_users(as_whom):
            return requests.get(f"{server.url}/pulp/api/v3/users/", cert=as_whom,
                                verify=str(pulp.ca_file), timeout=30).status_code

        assert (pulp_users(cert), pulp_users(foreman_cert)) == (403, 200)


def _status(ca_file, server, path, headers):
    """The status of a request sent byte for byte (requests folds a repeated header into one)."""
    context = ssl.create_default_context(cafile=str(ca_file))
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *headers]
        tls.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1])


@pytest.mark.parametrize("first", ["", "admin"])
def test_a_remote_user_sent_twice_is_nobody(pulp, web_server, first):
    """nginx before 1.23 checks only the first Remote-User: behind an empty one, a client's own
    passes it, and gunicorn joins the two (",admin"); the plugin drops that. A first one that is
    not empty nginx refuses; Apache removes every copy."""
    kind, server = web_server
    path = "/pulp/api/v3/users/"
    status = _status(pulp.ca_file, server, path, [f"Remote-User: {first}", "Remote-User: admin"])
    if kind == "nginx" and first:
        assert status == 400
    else:
        assert status == PULP_API_ANONYMOUS[kind]
    assert _status(pulp.ca_file, server, path, []) == PULP_API_ANONYMOUS[kind]


@pytest.fixture(scope="module")
def guarded_distribution(pulp):
    """A file distribution behind pulpcore's role-based content guard: only users it grants
    (and superusers) may fetch from it, at pulpcore-content."""
    admin, api = pulp.session(), f"{pulp.api_url}/pulp/api/v3"
    name = f"guarded-{uuid.uuid4().hex[:8]}"
    guard = admin.post(f"{api}/contentguards/core/rbac/", json={"name": name}, timeout=30)
    assert guard.status_code == 201, guard.text
    created = admin.post(f"{api}/distributions/file/file/", timeout=30, json={
        "name": name, "base_path": name, "content_guard": guard.json()["pulp_href"]})
    assert created.status_code == 202, created.text
    pulp.wait_task(created.json()["task"])
    return f"/pulp/content/{name}/"


@pytest.mark.parametrize("header", list(SPOOFED))
def test_no_header_a_client_sends_opens_guarded_content(pulp, web_server, guarded_distribution,
                                                        header):
    """pulpcore-content runs Pulp's authentication too, reading ``Remote_User`` as the remote
    user; Apache passes that spelling on unless told not to."""
    kind, server = web_server
    url = server.url + guarded_distribution
    client = session(pulp.ca_file)
    assert client.get(url, timeout=30).status_code == 403
    spoofed = client.get(url, headers={header: "admin"}, timeout=30)
    if header == "Remote-User" and OWN_REMOTE_USER[kind]:
        assert (spoofed.status_code, spoofed.text) == OWN_REMOTE_USER[kind]
    else:
        assert spoofed.status_code == 403
    # The victim's side: the admin, with her password, is let past the guard (the distribution
    # serves nothing yet: 404).
    assert client.get(url, auth=pulp.admin_auth, timeout=30).status_code == 404
