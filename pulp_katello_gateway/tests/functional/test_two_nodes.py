"""Two pulpcore-api nodes on one database give the same answers at once.

Node A is the stack's own API, node B a second pulpcore-api on another port. All the state the
decision needs (grants, cached logins, throttle counters) lives in PostgreSQL, so whatever is
written through one node (a Katello push, a revocation, a failed login) is what the other
decides by at its very next request.
"""

import uuid

import pytest

from devtools.clients import NATIVE_API_PATH
from pulp_katello_gateway.app import settings as defaults
from pulp_katello_gateway.tests.functional.gateway_http import Registry

NATIVE_USERS = NATIVE_API_PATH + "users/"


@pytest.fixture(scope="module")
def node_b(api_nodes, pulp, secret_registry):
    url = api_nodes.start("api-b")
    yield Registry(url, pulp.ca_file, secret_registry)
    api_nodes.stop("api-b")


@pytest.fixture(scope="module")
def late_repository(make_world):
    """A protected repository with the image, granted to nobody yet."""
    return make_world("two-nodes", {"late": True}).repos["late"]


@pytest.fixture
def push_through(push_katello):
    """Katello's capsule-sync push, sent to ``node``; every step must succeed."""
    return lambda node: push_katello(node.base_url)


def test_push_through_one_node_is_honoured_by_the_other_at_once(
    katello, push_through, gateway, node_b, gateway_world, new_user, late_repository
):
    granted = gateway_world.repos["granted"]
    user = new_user()
    assert node_b.pull(granted, user["auth"])[1].status_code == 200  # logged in through B
    assert node_b.granted(late_repository, user["auth"]) == []

    katello.set_user_repositories(user["login"], [granted, late_repository])
    push_through(gateway)
    token, manifest = node_b.pull(late_repository, user["auth"])
    assert (token.status_code, manifest.status_code) == (200, 200)
    # A token from one node pulls from the other (one key, one issuer).
    from_a = gateway.ok_token(f"repository:{late_repository}:pull", auth=user["auth"],
                              service=node_b.host)
    assert node_b.manifest(late_repository, from_a).status_code == 200

    katello.set_user_repositories(user["login"], [granted])
    push_through(node_b)
    assert gateway.granted(late_repository, user["auth"]) == []
    assert node_b.granted(late_repository, user["auth"]) == []
    assert node_b.granted(granted, user["auth"]) == ["pull"]


def test_dropping_cached_logins_through_one_node_is_honoured_by_both(
    pulp, katello, gateway, node_b, gateway_world, new_user, secret_registry
):
    granted = gateway_world.repos["granted"]
    user = new_user()
    assert gateway.pull(granted, user["auth"])[1].status_code == 200
    new_password = f"pw2-{uuid.uuid4().hex}"
    secret_registry.add(new_password)
    katello.set_password(user["login"], new_password)
    # The old password still works from the shared cache, on both nodes ...
    assert gateway.granted(granted, user["auth"]) == ["pull"]
    assert node_b.granted(granted, user["auth"]) == ["pull"]

    admin = pulp.session()
    listed = admin.get(f"{node_b.base_url}{NATIVE_USERS}", params={"login": user["login"]})
    href = listed.json()["results"][0]["pulp_href"]
    dropped = admin.post(f"{node_b.base_url}{href}drop_cached_logins/")
    assert dropped.status_code == 200
    assert dropped.json() == {"login": user["login"], "dropped": 1}

    # ... until an admin drops it through one node: then neither accepts it.
    for node in (gateway, node_b):
        refused = node.token(f"repository:{granted}:pull", auth=user["auth"])
        assert refused.status_code == 401, node.base_url
    assert gateway.granted(granted, (user["login"], new_password)) == ["pull"]
    assert node_b.granted(granted, (user["login"], new_password)) == ["pull"]


def test_removal_by_a_push_through_one_node_is_honoured_by_both(
    katello, push_through, gateway, node_b, gateway_world, new_user
):
    granted = gateway_world.repos["granted"]
    repository = f"{gateway_world.prefix}/two-nodes-{uuid.uuid4().hex[:6]}"
    katello.add_repository(repository, auth_required=True)
    push_through(gateway)
    kept = new_user(repositories=[granted, repository])
    removed = new_user(repositories=[granted, repository])
    for user in (kept, removed):
        assert gateway.granted(repository, user["auth"]) == ["pull"]  # login: grants fetched

    katello.remove_user(removed["login"])  # Foreman deleted the user
    push_through(node_b)
    for node in (gateway, node_b):
        assert node.granted(repository, removed["auth"]) == [], node.base_url  # still cached
        assert node.granted(granted, removed["auth"]) == [], node.base_url
        assert node.granted(repository, kept["auth"]) == ["pull"], node.base_url

    katello.remove_repository(repository)  # Katello no longer serves the repository
    push_through(gateway)
    for node in (gateway, node_b):
        assert node.granted(repository, kept["auth"]) == [], node.base_url
        assert node.granted(granted, kept["auth"]) == ["pull"], node.base_url


def test_throttling_counts_failures_from_both_nodes(katello, gateway, node_b, new_user):
    user = new_user()
    limit = min(defaults.KATELLO_GATEWAY_THROTTLE_ADDRESS_FAILURES,
                defaults.KATELLO_GATEWAY_THROTTLE_LOGIN_FAILURES)
    asked = katello.request_count("/v2/token")
    for attempt in range(limit):
        node = (gateway, node_b)[attempt % 2]
        assert node.token(auth=(user["login"], f"guess-{attempt}")).status_code == 401
    assert katello.request_count("/v2/token") == asked + limit

    for node in (gateway, node_b):
        throttled = node.token(auth=user["auth"])  # even the right password
        assert throttled.status_code == 429, node.base_url
        assert int(throttled.headers["Retry-After"]) > 0
    assert katello.request_count("/v2/token") == asked + limit
