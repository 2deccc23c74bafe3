"""Session fixtures: a real Pulp stack with this plugin, the Katello stand-in, real clients."""

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from devtools import docs
from devtools.apache import (
    FOREMANCTL_REMOTE_USER,
    Apache,
    foremanctl_push_user,
    install_md_defines,
)
from devtools.clients import Podman, Skopeo
from devtools.katello_standin.server import KatelloStandin
from devtools.net import free_port, unix_http_status, wait_until
from devtools.nginx import Nginx, remote_user_map
from devtools.oci import build_image
from devtools.pg import Database
from devtools.pki import CertificateAuthority
from devtools.stack import PulpStack
from pulp_katello_gateway.tests.functional.api_nodes import ApiNodes
from pulp_katello_gateway.tests.functional.gateway_http import Registry, SecretRegistry, push_url
from pulp_katello_gateway.tests.functional.listing_clients import host_cert_dir
from pulp_katello_gateway.tests.functional.worlds import World


def pytest_collection_modifyitems(items):
    for item in items:
        if "/functional/" in str(item.fspath):
            item.add_marker(pytest.mark.functional)


@pytest.fixture(scope="session")
def work_dir(tmp_path_factory):
    base = os.environ.get("KATELLO_GATEWAY_TEST_TMP")
    path = Path(base) / "functional" if base else tmp_path_factory.mktemp("functional")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def katello():
    """The Katello stand-in Pulp asks about Foreman logins."""
    standin = KatelloStandin()
    standin.start()
    yield standin
    standin.stop()


@pytest.fixture(scope="session")
def consumer_ca(work_dir):
    """Katello's CA that signs hosts' subscription-manager consumer certificates."""
    return CertificateAuthority(work_dir / "katello-ca", common_name="Katello test CA")


@pytest.fixture(scope="session")
def pulp(work_dir, katello, consumer_ca):
    """Pulp with this plugin as install.md lays it out: pulpcore-api and pulpcore-content on
    its socket units, nginx (its server, both snippets) in front on ``pulp.api_url``, its
    settings (remote-user authentication on), and pulpcore-worker."""
    default = settings.DATABASES["default"]
    database = Database(
        host=default["HOST"] or "127.0.0.1",
        port=int(default["PORT"] or 5432),
        user=default["USER"],
        password=default["PASSWORD"],
        name=f"{default['NAME']}_functional",
    )
    database.recreate()
    stack = PulpStack(
        work_dir / "pulp",
        database,
        settings={
            "KATELLO_GATEWAY_FOREMAN_URL": katello.url,
            "KATELLO_GATEWAY_CONSUMER_CA_FILE": str(consumer_ca.cert_path),
            # Every client of this suite sends from one address and every test's failed logins
            # reach the one stand-in: the counts across logins (one address, all of Foreman)
            # would make one test's verdict depend on the failures of those run before it. The
            # per-login counts keep their defaults; tests/unit/test_logins.py covers all four.
            "KATELLO_GATEWAY_THROTTLE_CLIENT_FAILURES": 1_000_000,
            "KATELLO_GATEWAY_THROTTLE_FOREMAN_FAILURES": 1_000_000,
            # The stand-in, unlike Foreman, never blocks the capsule's address (check W008).
            "KATELLO_GATEWAY_FOREMAN_FAILED_LOGIN_ATTEMPTS_LIMIT": 0,
        },
        behind_web_server=True,
    )
    stack.prepare()
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def socket_dir():
    """Where install.md's sockets go instead of /run: a directory the web servers' user may
    enter (pytest's directories are root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="pulp-sockets-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def content_socket(pulp, socket_dir):
    """pulpcore-content on install.md's socket unit, behind both web servers."""
    unit = docs.socket_unit("pulpcore-content", socket_dir / "content.sock")
    pulp.start_content("content-on-socket", socket_unit=unit)
    wait_until(lambda: unix_http_status(unit.path, "/pulp/content/") == 200, 90,
               what="pulpcore-content on its socket")
    yield unit.path
    pulp.stop_process("content-on-socket")


def _api_on_socket(pulp, name, socket_dir, port, env=None):
    """A plain-HTTP pulpcore-api node on install.md's socket unit with install.md's settings, for
    the web server at 127.0.0.1:``port``; returns the socket's path."""
    unit = docs.socket_unit("pulpcore-api", socket_dir / f"{name}.sock")
    origin = f"https://127.0.0.1:{port}"
    pulp.start_api(
        name, tls=False, socket_unit=unit,
        env={"PULP_TOKEN_SERVER": f"{origin}/token/", **(env or {})},
        settings_text=docs.pulp_settings(CONTENT_ORIGIN=origin,
                                         KATELLO_GATEWAY_API_SOCKET=str(unit.path)),
    )
    return unit.path


@pytest.fixture(scope="session")
def nginx(pulp, work_dir, consumer_ca, socket_dir, content_socket):
    """The capsule's web server: nginx as install.md sets it up (TLS, optional client
    certificates, Pulp's upstreams on install.md's sockets, Pulp's locations and the shipped
    snippets) in front of a second API node with install.md's settings (remote-user
    authentication on, the socket the only trusted peer).
    """
    port = free_port()
    api_socket = _api_on_socket(pulp, "api-behind-nginx", socket_dir, port)
    yield from _serving(pulp, "api-behind-nginx", Nginx(
        work_dir / "nginx", remote_user_map=remote_user_map(work_dir / "nginx"), port=port,
        api_socket=api_socket, content_upstream=f"unix:{content_socket}",
        server_cert=pulp.tls / "server.crt", server_key=pulp.tls / "server.key",
        client_ca=consumer_ca.cert_path,
    ))


@pytest.fixture(scope="session")
def apache(pulp, work_dir, consumer_ca, socket_dir, content_socket):
    """The capsule's web server as Katello lays it out: Apache httpd as install.md sets it
    up (mod_ssl, optional client certificates, Pulp's upstreams on install.md's sockets, Pulp's
    paths and the shipped snippets) and foremanctl's mapping of Foreman's certificate to Pulp's
    admin, on the API and (deploy-foremanctl.md's Define) the push API, in front of a third API
    node with install.md's settings under foremanctl's remote-user environment.
    """
    port = free_port()
    api_socket = _api_on_socket(pulp, "api-behind-apache", socket_dir, port,
                                env=FOREMANCTL_REMOTE_USER)
    yield from _serving(pulp, "api-behind-apache", Apache(
        work_dir / "apache", port=port, api_socket=api_socket,
        content_upstream=f"unix:{content_socket}|http://pulpcore-content",
        server_cert=pulp.tls / "server.crt", server_key=pulp.tls / "server.key",
        client_ca=consumer_ca.cert_path, push_user=foremanctl_push_user(),
    ))


def _serving(pulp, node, proxy):
    """Start ``proxy`` in front of API node ``node``, wait until Pulp answers through it, yield
    it; stop both afterwards."""
    proxy.start()
    session = pulp.session(auth=None)
    wait_until(lambda: _challenges(session, f"{proxy.url}/v2/"), 90,
               what=f"Pulp behind {proxy.name}")
    yield proxy
    proxy.stop()
    pulp.stop_process(node)


@pytest.fixture(scope="session")
def foreman_cn():
    """The CN install.md's examples give Foreman's certificate (nginx map and Apache alike)."""
    return install_md_defines()["KATELLO_GATEWAY_FOREMAN_CN"]


@pytest.fixture(scope="session")
def foreman_cert(consumer_ca, work_dir, foreman_cn):
    """Foreman's client certificate (cert, key), issued by Katello's CA."""
    directory = work_dir / "foreman-cert"
    directory.mkdir(exist_ok=True)
    consumer_ca.issue(foreman_cn, directory / "client.cert", directory / "client.key")
    return str(directory / "client.cert"), str(directory / "client.key")


def _challenges(session, url):
    """Pulp answers the registry ping with 401 (nginx says 502 while Pulp is still starting)."""
    try:
        return session.get(url, timeout=5).status_code == 401
    except OSError:
        return False


@pytest.fixture(scope="session")
def oci_image(work_dir):
    """A local OCI layout with one tiny image tagged ``latest``; returns (layout, digest)."""
    layout = work_dir / "oci-image"
    return layout, build_image(layout)


@pytest.fixture
def skopeo(pulp, tmp_path):
    return Skopeo(pulp.certs_dir, tmp_path)


@pytest.fixture
def unique_repo():
    return f"test/{uuid.uuid4().hex[:12]}"


# -- podman and Katello pushes (token and login tests) ----------------------------------------


@pytest.fixture(scope="session")
def podman_storage(work_dir):
    """One vfs image store for the session (creating one costs more than a pull)."""
    path = work_dir / "podman"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def podman(pulp, podman_storage, tmp_path):
    """podman with a fresh auth file (no stored logins) for each test."""
    return Podman(podman_storage, tmp_path / "podman-auth.json", pulp.certs_dir)


@pytest.fixture(scope="session")
def push_katello(pulp, katello):
    """Run Katello's capsule-sync push of the stand-in's state (to the API node at ``through``,
    by default the stack's own); every step must succeed."""

    def push(through=None):
        steps = katello.push(
            push_url(through or pulp.api_url), auth=pulp.admin_auth, verify=str(pulp.ca_file)
        )
        assert [step for step in steps if step.status != 200] == []
        return steps

    return push


# -- worlds: repositories, Foreman users and hosts, in Pulp and in Katello's view ---------------


@pytest.fixture(scope="session")
def make_world(pulp, katello, consumer_ca, oci_image, work_dir, push_katello, secret_registry):
    """``make_world(tag, repositories, users=…, hosts=…)``: a ``World`` under a fresh prefix.

    ``repositories``: kind -> ``auth_required`` in Katello (``None``: a distribution only Pulp
    has); each gets ``image`` (``(layout, digest)``, default the tiny ``oci_image``) unless
    ``images`` names the kinds that do. ``users``/``hosts``: who -> the kinds granted. Katello's
    ACL is pushed unless ``push=False``.
    """

    def make(tag, repositories, *, users=None, hosts=None, images=None, image=None, push=True):
        prefix = f"{tag}-{uuid.uuid4().hex[:8]}"
        repos = {kind: f"{prefix}/{kind}" for kind in repositories}
        layout, digest = image or oci_image
        workdir = work_dir / "worlds" / prefix
        workdir.mkdir(parents=True)
        admin = Skopeo(pulp.certs_dir, workdir)
        for kind in repositories if images is None else images:
            admin.copy(f"oci:{layout}:latest", f"docker://{pulp.registry}/{repos[kind]}:latest",
                       dest_creds=pulp.admin_auth)
        for kind, auth_required in repositories.items():
            if auth_required is not None:
                katello.add_repository(repos[kind], auth_required=auth_required)
        world = World(prefix, repos, digest, layout, workdir, katello, secret_registry)
        for who, kinds in (users or {}).items():
            world.users[who] = world.new_user(repositories=[repos[k] for k in kinds], tag=who)
        for who, kinds in (hosts or {}).items():
            world.hosts[who] = host_uuid = str(uuid.uuid4())
            katello.add_host(host_uuid, repositories=[repos[k] for k in kinds])
            world.host_certs[who] = host_cert_dir(workdir / "host-certs" / who, pulp.ca_file,
                                                  consumer_ca, host_uuid)
        if push:
            push_katello()
        return world

    return make


# -- resilience and security tests (test_faults, test_two_nodes, test_hostile_input, ...) --------


@pytest.fixture(scope="session")
def secret_registry():
    """Every password, PAT and issued token the tests register, and every error body their
    sessions saw; ``test_secrets.py`` checks that none of those registered by then leaks."""
    return SecretRegistry()


@pytest.fixture(scope="session")
def pulp_db(pulp):
    """An autocommit connection to the stack's database, for checks and for ageing cache rows."""
    with pulp.database.connect() as conn:
        yield conn


@pytest.fixture(scope="session")
def gateway(pulp, secret_registry):
    """Registry requests against the stack's main API node."""
    return Registry(pulp.api_url, pulp.ca_file, secret_registry)


@pytest.fixture(scope="session")
def gateway_world(make_world):
    """The world of the resilience and security tests: ``granted`` (protected) is granted to
    the users of ``new_user``; ``private`` (protected) to nobody; ``public`` needs no login;
    ``host`` (protected) to the host ``hosts["host"]``. Tests that change grants use
    repositories of their own."""
    return make_world("gw", {"granted": True, "private": True, "public": False, "host": True},
                      hosts={"host": ["host"]})


@pytest.fixture
def new_user(gateway_world):
    """``new_user(repositories=…, tag=…)``: a fresh Foreman user (password and PAT) granted
    ``granted`` of ``gateway_world``; not logged in yet."""
    return gateway_world.new_user


@pytest.fixture(scope="session")
def api_nodes(pulp):
    """Start more pulpcore-api nodes on the stack's database: ``api_nodes.start(name, env=…)``
    returns the node's base URL; nodes still running at the end of the session are stopped."""
    nodes = ApiNodes(pulp)
    yield nodes
    nodes.stop_all()
