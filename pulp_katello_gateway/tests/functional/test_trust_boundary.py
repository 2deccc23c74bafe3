"""Identities come from the web server only: whoever reaches pulpcore-api another way gains
nothing, on any path.

pulpcore-api on install.md's socket unit (owned by the web server's user, mode 0600) cannot be
opened by another local user; pulpcore-api on a TCP port (install.md's settings, remote-user
authentication on) ignores every identity header, since only the socket is trusted. The web
server itself still names Katello's user and hosts (test_webserver.py, test_hosts.py).
"""

import os
import pwd
import re
import subprocess
from urllib.parse import quote

import pytest
import requests

from devtools import docs
from devtools.apache import FOREMANCTL_REMOTE_USER
from devtools.clients import KATELLO_PUSH_PATH
from devtools.net import free_port, wait_until
from devtools.stack import BIN
from pulp_katello_gateway.tests.database import snapshot
from pulp_katello_gateway.tests.functional.gateway_http import Registry

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="being another local user needs root")


def _curl_socket(socket_path, user, path):
    """curl over ``socket_path`` as the local ``user``, naming itself admin in Remote-User."""
    return subprocess.run(
        ["curl", "--silent", "--output", "/dev/null", "--write-out", "%{http_code}",
         "--unix-socket", str(socket_path), "-H", "Remote-User: admin", f"http://localhost{path}"],
        user=user, capture_output=True, text=True, timeout=60,
    )


@as_root
def test_another_local_user_cannot_open_pulps_socket(nginx):
    """install.md's socket unit: ``SocketUser`` the web server's, ``SocketMode=0600``."""
    unit = docs.socket_unit("pulpcore-api", nginx.api_socket)
    made = nginx.api_socket.stat()
    assert (made.st_mode & 0o777, made.st_uid) == (unit.mode, _uid(unit.user))
    assert (unit.mode, unit.user) == (0o600, "www-data")
    refused = _curl_socket(nginx.api_socket, "nobody", "/pulp/api/v3/users/")
    assert refused.returncode == 7, refused  # curl: could not connect
    # The web server's user connects, and is believed: that is what the socket is for.
    assert _curl_socket(nginx.api_socket, unit.user, "/pulp/api/v3/users/").stdout == "200"


def _uid(user):
    return pwd.getpwnam(user).pw_uid


@pytest.fixture(scope="module")
def tcp_node(pulp):
    """pulpcore-api on a loopback port with install.md's settings (remote-user authentication
    on), as install.md had it before sockets: every local user can connect."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    pulp.start_api("api-on-tcp", port, tls=False, env={"PULP_TOKEN_SERVER": f"{url}/token/"},
                   settings_text=docs.pulp_settings(CONTENT_ORIGIN=pulp.api_url,
                                                    KATELLO_GATEWAY_API_SOCKET=None))

    def up():
        try:
            return requests.get(f"{url}/v2/", timeout=5).status_code == 401
        except OSError:
            return False

    wait_until(up, 90, what="pulpcore-api on a TCP port")
    yield url
    pulp.stop_process("api-on-tcp")


@pytest.fixture(scope="module")
def world(make_world):
    return make_world("trust", {"granted": True}, hosts={"host": ["granted"]})


def test_remote_user_sent_to_pulps_port_is_nobody(pulp, tcp_node, pulp_db):
    """What an attacker on the machine sends straight to the port: admin's name, on the REST
    API and on Katello's push API (which would replace Katello's repository list)."""
    attacker = requests.Session()
    attacker.headers["Remote-User"] = "admin"
    before = snapshot(pulp_db)
    assert attacker.get(f"{tcp_node}/pulp/api/v3/users/", timeout=30).status_code == 401
    pushed = attacker.put(f"{tcp_node}{KATELLO_PUSH_PATH}repository_list",
                          json={"repositories": []}, timeout=30)
    assert pushed.status_code == 401
    assert snapshot(pulp_db) == before
    # The owner still gets in with her password.
    owner = requests.get(f"{tcp_node}/pulp/api/v3/users/", auth=pulp.admin_auth, timeout=30)
    assert owner.status_code == 200


def test_a_host_certificate_sent_to_pulps_port_is_nobody(pulp, nginx, tcp_node, world,
                                                          secret_registry):
    """A host's certificate is public; without its key it names nobody, except from the web
    server, which checked the key in the TLS handshake."""
    repository = world.repos["granted"]
    through_nginx = Registry(nginx.url, pulp.ca_file, secret_registry, cert=world.host_cert())
    assert through_nginx.granted(repository) == ["pull"]
    forged = Registry(tcp_node, pulp.ca_file, secret_registry, headers={
        "X-RHSM-SSL-Client-Cert": quote((world.host_certs["host"] / "client.cert").read_text())})
    assert forged.granted(repository) == []


def _manage(pulp, node, *args, env=None):
    """``pulpcore-manager args`` with API node ``node``'s settings file and ``env``."""
    return subprocess.run(
        [str(BIN / "pulpcore-manager"), *args],
        env={**pulp.env(), "PULP_SETTINGS": str(pulp.state / f"settings-{node}.py"),
             **(env or {})},
        capture_output=True, text=True, timeout=120, cwd=pulp.state,
    )


def _checked(pulp, node, env=None):
    """The message ids ``check --deploy --tag katello_gateway`` prints with ``node``'s settings."""
    checked = _manage(pulp, node, "check", "--deploy", "--tag", "katello_gateway", env=env)
    return re.findall(r"\(katello_gateway\.([CEWID]\d{3})\)", checked.stdout + checked.stderr)


def _classes(text):
    """The authentication class names a settings text lists, in order."""
    return re.findall(r"[\w.]+\.(\w+Authentication)\b", text)


def test_the_documented_settings_are_the_effective_authentication_classes(pulp, nginx, apache):
    """install.md's block replaces Pulp's list (no class twice, Basic first); under foremanctl's
    environment, which wins over the settings file, foremanctl's list is the one in effect, as
    deploy-foremanctl.md says."""
    shown = "from rest_framework.settings import api_settings as s; " \
            "print(' '.join(c.__module__ + '.' + c.__name__ " \
            "for c in s.DEFAULT_AUTHENTICATION_CLASSES))"
    install_md = _classes(docs.block("python", "REMOTE_USER_ENVIRON_NAME"))
    foremanctl = _classes(
        FOREMANCTL_REMOTE_USER["PULP_REST_FRAMEWORK__DEFAULT_AUTHENTICATION_CLASSES"])
    assert install_md[0] == "BasicAuthentication" and foremanctl[0] == "SessionAuthentication"
    on_nginx = _manage(pulp, "api-behind-nginx", "shell", "-c", shown)
    assert _classes(on_nginx.stdout) == install_md, on_nginx.stderr
    on_apache = _manage(pulp, "api-behind-apache", "shell", "-c", shown,
                        env=FOREMANCTL_REMOTE_USER)
    assert _classes(on_apache.stdout) == foremanctl, on_apache.stderr


def test_check_deploy_passes_the_documented_set_ups_and_warns_of_a_trusted_port(
    pulp, nginx, apache, tcp_node, push_katello
):
    """install.md's settings on its socket, merged into Pulp's defaults (nginx's node) or under
    foremanctl's environment (Apache's): no warning of the trust boundary's. The stand-in Foreman
    is plain HTTP on loopback (W004)."""
    push_katello()
    assert _checked(pulp, "api-behind-nginx") == ["W004"]
    assert _checked(pulp, "api-behind-apache", FOREMANCTL_REMOTE_USER) == ["W004"]
    trusting_the_port = {"PULP_KATELLO_GATEWAY_TRUSTED_PROXIES": '["unix", "127.0.0.1"]'}
    assert _checked(pulp, "api-on-tcp", trusting_the_port) == ["W004", "W010"]
