"""Operators' answers on the real stack: who pulled what (skopeo pulls as a Foreman user, a host
and anonymously), explain/ agreeing with what skopeo can pull, the ACL state on two nodes, and a
host following its content view without a capsule sync."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest

from devtools.clients import NATIVE_API_PATH, Skopeo
from devtools.net import wait_until
from pulp_katello_gateway.tests.functional.gateway_http import Registry
from pulp_katello_gateway.tests.functional.listing_clients import host_cert_dir

NATIVE = NATIVE_API_PATH
KINDS = ("granted", "private", "public", "host")
CONCURRENT_PULLS = 20


@pytest.fixture(scope="module")
def world(make_world):
    """Repositories granted (to the user carol), private (to nobody), public, host (to the
    host)."""
    return make_world("ans", {kind: kind != "public" for kind in KINDS},
                      users={"carol": ["granted"]}, hosts={"host": ["host"]})


def _carol(world):
    """(login, password) of the world's Foreman user."""
    return world.users["carol"]["auth"]


def _pulls(client, **filters):
    response = client.get(NATIVE + "pulls/", params={**filters, "limit": 1000}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["results"]


@pytest.fixture
def admin(pulp):
    return _Prefixed(pulp.session(), pulp.api_url)


class _Prefixed:
    """A requests session whose paths are relative to one API node."""

    def __init__(self, http, base_url):
        self.http, self.base_url = http, base_url

    def get(self, path, **kwargs):
        return self.http.get(self.base_url + path, **kwargs)


def test_pulls_are_recorded_with_who_pulled(pulp, nginx, world, admin, tmp_path):
    repos = world.repos
    user = Skopeo(pulp.certs_dir, tmp_path)
    user.copy(f"docker://{pulp.registry}/{repos['granted']}:latest",
              f"oci:{tmp_path / 'user'}:latest", src_creds=_carol(world))
    refused = user.copy(f"docker://{pulp.registry}/{repos['private']}:latest",
                        f"oci:{tmp_path / 'refused'}:latest", src_creds=_carol(world),
                        check=False)
    assert refused.returncode != 0
    Skopeo(pulp.certs_dir, tmp_path).copy(
        f"docker://{pulp.registry}/{repos['public']}:latest", f"oci:{tmp_path / 'anon'}:latest")
    Skopeo(world.host_certs["host"], tmp_path).copy(
        f"docker://{nginx.registry}/{repos['host']}:latest", f"oci:{tmp_path / 'host'}:latest")

    ours = [r for r in _pulls(admin, digest=world.digest) if r["repository"] in repos.values()
            and r["kind"] != "pulp"]  # the admin's own pushes and checks are not the question
    seen = {(r["kind"], r["login"] or r["host_uuid"], r["repository"]) for r in ours}
    assert seen == {
        ("foreman", _carol(world)[0], repos["granted"]),
        ("anonymous", "", repos["public"]),
        ("host", world.hosts["host"], repos["host"]),
    }
    assert all(r["reference"] == "latest" and r["count"] >= 1 for r in ours)
    host_row = next(r for r in ours if r["kind"] == "host")
    assert host_row["client_address"] == "127.0.0.1"  # the client behind nginx, not nginx


def test_concurrent_pulls_of_one_identity_are_each_recorded_once(
    pulp, nginx, world, admin, secret_registry
):
    """Twenty manifest GETs at once by one Foreman user and twenty by one host (its certificate
    through nginx) all land on their identity's one row, each counted once."""
    repos, certs = world.repos, world.host_certs["host"]
    pullers = {
        ("foreman", _carol(world)[0], repos["granted"]):
            (Registry(pulp.api_url, pulp.ca_file, secret_registry), _carol(world)),
        ("host", world.hosts["host"], repos["host"]):
            (Registry(nginx.url, pulp.ca_file, secret_registry,
                      cert=(str(certs / "client.cert"), str(certs / "client.key"))), None),
    }

    def counts():
        return _counts(admin, world, pullers)

    before = counts()
    tokens = {key: registry.ok_token(f"repository:{key[2]}:pull", auth=auth)
              for key, (registry, auth) in pullers.items()}
    with ThreadPoolExecutor(2 * CONCURRENT_PULLS) as pool:
        statuses = list(pool.map(
            lambda key: pullers[key][0].manifest(key[2], tokens[key]).status_code,
            [key for key in pullers for _ in range(CONCURRENT_PULLS)],
        ))
    assert statuses == [200] * (2 * CONCURRENT_PULLS)
    after = counts()
    for key in pullers:
        assert len(after[key]) == 1, key
        assert after[key][0] == sum(before[key]) + CONCURRENT_PULLS, key


def test_a_node_with_the_pull_record_off_serves_pulls_and_records_none(
    api_nodes, pulp, world, admin, secret_registry
):
    """``KATELLO_GATEWAY_PULL_RECORD = False`` on one node: its pulls are served and not recorded;
    the rows other nodes keep are untouched and they go on counting."""
    key = ("foreman", _carol(world)[0], world.repos["granted"])
    nodes = {"main": Registry(pulp.api_url, pulp.ca_file, secret_registry)}
    url = api_nodes.start("api-no-record", env={"PULP_KATELLO_GATEWAY_PULL_RECORD": "false"},
                          workers=1)
    try:
        nodes["off"] = Registry(url, pulp.ca_file, secret_registry)

        def pull(node):
            token = nodes[node].ok_token(f"repository:{key[2]}:pull", auth=_carol(world))
            assert nodes[node].manifest(key[2], token).status_code == 200

        pull("main")
        recorded = _counts(admin, world, [key])[key]
        assert len(recorded) == 1
        for _ in range(3):
            pull("off")
        assert _counts(admin, world, [key])[key] == recorded
        pull("main")
        assert _counts(admin, world, [key])[key] == [recorded[0] + 1]
    finally:
        api_nodes.stop("api-no-record")


def _counts(admin, world, keys):
    """The pull counts of ``world``'s image on each (kind, login or host uuid, repository)."""
    rows = _pulls(admin, digest=world.digest)
    return {key: [r["count"] for r in rows
                  if (r["kind"], r["login"] or r["host_uuid"], r["repository"]) == key]
            for key in keys}


def _can_pull(pulp, nginx, world, who, repository, tmp_path):
    if who == "host":
        client, registry, creds = Skopeo(world.host_certs["host"], tmp_path), nginx.registry, None
    else:
        client, registry = Skopeo(pulp.certs_dir, tmp_path), pulp.registry
        creds = _carol(world) if who == "user" else None
    inspected = client.inspect(f"docker://{registry}/{repository}:latest", creds=creds,
                               check=False)
    return isinstance(inspected, dict)


@pytest.mark.parametrize("who", ["user", "host", "anonymous"])
def test_explain_agrees_with_what_skopeo_can_pull(pulp, nginx, world, admin, tmp_path, who):
    identity = {"user": {"login": _carol(world)[0]}, "host": {"host": world.hosts["host"]},
                "anonymous": {}}[who]
    for repository in world.repos.values():
        explained = admin.get(NATIVE + "explain/", params={**identity, "repository": repository},
                              timeout=30)
        assert explained.status_code == 200, explained.text
        pulls = explained.json()["actions"] == ["pull"]
        assert pulls == _can_pull(pulp, nginx, world, who, repository, tmp_path), (
            repository, explained.json())


def test_the_acl_state_follows_a_push_and_is_the_same_on_two_nodes(
    katello, push_katello, api_nodes, world, admin
):
    other = _Prefixed(admin.http, api_nodes.start("status-node"))
    before = admin.get(NATIVE + "status/", timeout=60).json()
    assert other.get(NATIVE + "status/", timeout=60).json() == before

    katello.add_repository(f"{world.repos['granted']}-extra", auth_required=True)
    push_katello()
    after = admin.get(NATIVE + "status/", timeout=60).json()
    assert other.get(NATIVE + "status/", timeout=60).json() == after
    pushed, was = after["endpoints"]["repository_list"], before["endpoints"]["repository_list"]
    assert pushed["count"] == was["count"] + 1
    assert pushed["fingerprint"] != was["fingerprint"]
    assert pushed["last_push"] > was["last_push"]
    assert after["stale"] is False


def test_a_host_follows_its_content_view_without_a_capsule_sync(
    pulp, katello, push_katello, api_nodes, world, consumer_ca, tmp_path, secret_registry
):
    """A node refreshing hosts whose grants are older than a second; the host's certificate is
    passed as the web server would (the node is told to trust 127.0.0.1)."""
    repos, host = world.repos, str(uuid.uuid4())
    katello.add_host(host, repositories=[repos["granted"]])
    push_katello()
    url = api_nodes.start("refresh-node", env={
        "PULP_KATELLO_GATEWAY_HOST_REFRESH_INTERVAL": "1",
        "PULP_KATELLO_GATEWAY_TRUSTED_PROXIES": '["127.0.0.1"]',
    })
    certs = host_cert_dir(tmp_path / "certs", pulp.ca_file, consumer_ca, host)
    header = quote((certs / "client.cert").read_text())
    as_host = Registry(url, pulp.ca_file, secret_registry,
                       headers={"X-RHSM-SSL-Client-Cert": header})

    assert as_host.granted(repos["granted"]) == ["pull"]
    assert as_host.granted(repos["private"]) == []

    # Katello moves the host to another content view: the next requests pick it up.
    katello.add_host(host, repositories=[repos["private"]])
    wait_until(lambda: as_host.granted(repos["private"]) == ["pull"], 90, interval=0.5,
               what="the host's refreshed grants")
    assert as_host.granted(repos["granted"]) == []

    # Foreman hangs: requests are answered at once from the grants the host has.
    katello.add_host(host, repositories=[repos["granted"]])
    katello.set_fault("hang", paths=["/v2/_catalog"])
    try:
        # Each request may start a refresh (the grants are older than a second): ask until one
        # hangs in Foreman.
        wait_until(lambda: as_host.granted(repos["private"]) == ["pull"]
                   and katello.hanging("/v2/_catalog") >= 1, 90, interval=0.5,
                   what="a refresh hanging on Foreman")
        # While Foreman still has not answered:
        assert as_host.granted(repos["private"]) == ["pull"]
        assert as_host.granted(repos["granted"]) == []
    finally:
        katello.set_fault(None)
    wait_until(lambda: as_host.granted(repos["granted"]) == ["pull"], 90, interval=0.5,
               what="the refresh once Foreman answers again")
