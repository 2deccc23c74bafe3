"""The token endpoint of the real stack, over HTTPS: Katello's decision, the Foreman login cache,
throttling, revocation by push, Foreman outages, and JWTs pulp_container's registry accepts.

Plain HTTP requests (what every registry client sends) keep these fast; the real clients are in
``test_logins.py``. Every test uses its own users (and, where it changes them, its own
repositories), so the session-wide stack and stand-in can be shared.
"""

import pytest

from pulp_katello_gateway.app import settings as defaults
from pulp_katello_gateway.tests.functional.gateway_http import push_url

KINDS = ("granted", "private", "public", "dropped-grant", "dropped-repo", "dropped-user")


@pytest.fixture(scope="module")
def world(make_world):
    """Repositories with the tiny image, Katello's view of them, and Katello's ACL pushed.

    ``granted`` and the ``dropped-*`` repositories are protected and granted to the test's users;
    ``private`` is protected and granted to nobody; ``public`` needs no login.
    """
    return make_world("tok", {kind: kind != "public" for kind in KINDS})


@pytest.fixture
def user(world):
    """A fresh Foreman user (password and personal access token) granted ``granted``."""
    return world.new_user()


@pytest.fixture(scope="module")
def public_key(pulp):
    """The stack's token signing key, to verify tokens as pulp_container's registry does."""
    return (pulp.state / "secrets" / "token_public_key.pem").read_bytes()


# -- tokens and what pulp_container does with them ---------------------------------------------


def test_token_answer_and_jwt_accepted_by_the_registry(gateway, world, user, pulp, public_key):
    granted = world.repos["granted"]
    response = gateway.token(f"repository:{granted}:pull", auth=user["auth"])

    assert response.status_code == 200
    body = response.json()
    assert {"token", "access_token", "expires_in", "issued_at"} <= set(body)
    assert body["token"] == body["access_token"]
    assert body["expires_in"] >= 60
    claims = gateway.claims(body["token"], public_key)
    assert claims["sub"] == f"foreman:{user['login']}"
    assert claims["aud"] == pulp.registry
    assert claims["iss"] == f"{pulp.api_url}/token/"
    assert claims["access"] == [{"type": "repository", "name": granted, "actions": ["pull"]}]

    manifest = gateway.manifest(granted, body["token"])
    assert manifest.status_code == 200
    assert manifest.headers["Docker-Content-Digest"] == world.digest
    # The scope-less login token opens /v2/ (what podman login checks).
    login_token = gateway.ok_token(auth=user["auth"])
    assert gateway.get("/v2/", login_token).status_code == 200


def test_personal_access_token_works_like_the_password(gateway, world, user):
    assert gateway.pull(world.repos["granted"], auth=user["pat_auth"])[1].status_code == 200


def test_partial_grant_is_200_with_requested_intersected_with_allowed(
    gateway, world, user, pulp, public_key
):
    repos = world.repos
    token = gateway.ok_token(
        f"repository:{repos['granted']}:pull,push",
        f"repository:{repos['private']}:pull",
        f"repository:{repos['public']}:pull",
        f"repository:{pulp.registry}/{repos['granted']}:pull",  # host:port in the name
        auth=user["auth"],
    )
    assert gateway.access(token, public_key) == {
        repos["granted"]: ["pull"],
        repos["private"]: [],
        repos["public"]: ["pull"],
        f"{pulp.registry}/{repos['granted']}": [],
    }
    # The odd scope did not void the others: the token pulls what it grants.
    assert gateway.manifest(repos["granted"], token).status_code == 200
    assert gateway.manifest(repos["public"], token).status_code == 200
    assert gateway.manifest(repos["private"], token).status_code == 401


def _normalized(response, name):
    return (
        response.status_code,
        response.text.replace(name, "<name>"),
        response.headers.get("WWW-Authenticate", "").replace(name, "<name>"),
        response.headers.get("Content-Type"),
    )


@pytest.mark.parametrize("who", ["foreman user", "anonymous"])
def test_forbidden_repository_answers_exactly_like_a_missing_one(
    gateway, world, user, public_key, who
):
    auth = user["auth"] if who == "foreman user" else None
    forbidden, missing = world.repos["private"], f"{world.prefix}/does-not-exist"

    answers = []
    for name in (forbidden, missing):
        token = gateway.ok_token(f"repository:{name}:pull", auth=auth)
        assert gateway.access(token, public_key) == {name: []}
        answers.append(_normalized(gateway.manifest(name, token), name))
    assert answers[0] == answers[1]
    assert answers[0][0] == 401 and 'error="insufficient_scope"' in answers[0][2]


def test_anonymous_pull_of_public_repository_never_asks_foreman(gateway, world, katello):
    before = katello.request_count()
    assert gateway.pull(world.repos["public"])[1].status_code == 200
    token, manifest = gateway.pull(world.repos["granted"])
    assert (token.status_code, manifest.status_code) == (200, 401)
    assert katello.request_count() == before


def test_cached_login_is_checked_without_foreman(gateway, world, user, katello, public_key):
    gateway.ok_token(auth=user["auth"])  # the login: Foreman verifies and lists the catalog
    before = katello.request_count()
    for _ in range(10):
        token = gateway.ok_token(f"repository:{world.repos['granted']}:pull",
                                 auth=user["auth"])
        assert gateway.access(token, public_key) == {world.repos["granted"]: ["pull"]}
    assert katello.request_count() == before


def test_users_appear_in_katellos_user_list_after_their_first_login(gateway, user, pulp):
    users_url = push_url(pulp.api_url) + "users"
    admin = pulp.session()
    assert user["login"] not in admin.get(users_url).json()["users"]
    gateway.ok_token(auth=user["auth"])
    assert user["login"] in admin.get(users_url).json()["users"]


def test_oauth2_password_grant_and_refresh_token(gateway, world, user):
    granted, private = world.repos["granted"], world.repos["private"]
    response = gateway.oauth_token(
        "password", "containerd-client", username=user["login"], password=user["password"],
        scope=f"repository:{granted}:pull repository:{private}:pull",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["scope"] == f"repository:{granted}:pull"
    assert {"access_token", "expires_in", "issued_at"} <= set(body)
    assert gateway.manifest(granted, body["access_token"]).status_code == 200

    refresh = gateway.oauth_token("refresh_token", "containerd-client", refresh_token="x")
    assert refresh.status_code == 400
    assert refresh.json()["error"] == "unsupported_grant_type"


# -- wrong credentials, throttling, Foreman outages -------------------------------------------


def test_wrong_password_is_401(gateway, user):
    response = gateway.token(auth=(user["login"], "not-the-password"))
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid username/password."}


def test_repeated_failures_are_throttled_without_asking_foreman(gateway, katello, world, user):
    # Foreman is asked until the login's count from this address, or from anywhere, is full.
    limit = min(defaults.KATELLO_GATEWAY_THROTTLE_ADDRESS_FAILURES,
                defaults.KATELLO_GATEWAY_THROTTLE_LOGIN_FAILURES)
    before = katello.request_count("/v2/token")
    for attempt in range(limit):
        response = gateway.token(auth=(user["login"], f"guess-{attempt}"))
        assert response.status_code == 401
    assert katello.request_count("/v2/token") == before + limit

    for secret in ("another-guess", user["password"]):
        throttled = gateway.token(auth=(user["login"], secret))
        assert throttled.status_code == 429
        assert 0 < int(throttled.headers["Retry-After"]) <= defaults.KATELLO_GATEWAY_THROTTLE_WINDOW
    assert katello.request_count("/v2/token") == before + limit

    # Somebody else logging in from the same address is not affected.
    other = world.new_user(tag="other")
    assert gateway.pull(world.repos["granted"], auth=other["auth"])[1].ok


@pytest.mark.parametrize(
    "fault",
    [{"mode": "down"}, {"mode": "error", "status": 500}, {"mode": "error", "status": 502},
     {"mode": "garbage", "kind": "html"}],
    ids=["down", "500", "502", "html"],
)
def test_foreman_unavailable_without_cached_login_is_503(gateway, katello, world, user, fault):
    try:
        katello.set_fault(**fault)
        response = gateway.token(f"repository:{world.repos['granted']}:pull",
                                 auth=user["auth"])
        anonymous = gateway.pull(world.repos["public"])
    finally:
        katello.set_fault(None)
    assert response.status_code == 503
    assert response.json()["detail"].startswith("Cannot verify the login now:")
    assert anonymous[1].status_code == 200  # anonymous pulls never depend on Foreman
    # Once Foreman is back, the same login works (the outage was not counted as a failure).
    assert gateway.pull(world.repos["granted"], auth=user["auth"])[1].status_code == 200


def test_cached_login_keeps_working_while_foreman_is_down(gateway, katello, world, user):
    assert gateway.pull(world.repos["granted"], auth=user["auth"])[1].status_code == 200
    try:
        katello.set_fault("down")
        responses = [gateway.pull(world.repos["granted"], auth=user["auth"])
                     for _ in range(3)]
    finally:
        katello.set_fault(None)
    assert [manifest.status_code for _, manifest in responses] == [200] * 3


# -- revocation by Katello pushes ---------------------------------------------------------------


def test_grant_removed_by_a_push_is_gone_at_the_next_token(
    gateway, katello, world, user, push_katello, public_key
):
    repo = world.repos["dropped-grant"]
    katello.set_user_repositories(user["login"], [world.repos["granted"], repo])
    assert gateway.pull(repo, auth=user["auth"])[1].status_code == 200  # login: grants refreshed

    katello.set_user_repositories(user["login"], [world.repos["granted"]])
    push_katello()

    token = gateway.ok_token(f"repository:{repo}:pull", auth=user["auth"])  # a cached login
    assert gateway.access(token, public_key) == {repo: []}
    assert gateway.manifest(repo, token).status_code == 401
    assert gateway.pull(world.repos["granted"], auth=user["auth"])[1].status_code == 200


def test_repository_removed_by_a_push_is_gone_at_the_next_token(
    gateway, katello, world, user, push_katello, public_key
):
    repo = world.repos["dropped-repo"]
    katello.set_user_repositories(user["login"], [repo])
    assert gateway.pull(repo, auth=user["auth"])[1].status_code == 200

    katello.remove_repository(repo)
    push_katello()

    token = gateway.ok_token(f"repository:{repo}:pull", auth=user["auth"])
    assert gateway.access(token, public_key) == {repo: []}
    assert gateway.manifest(repo, token).status_code == 401


def test_user_removed_by_a_push_loses_its_grants_at_the_next_token(
    gateway, katello, world, user, push_katello, public_key
):
    repo = world.repos["dropped-user"]
    katello.set_user_repositories(user["login"], [repo])
    assert gateway.pull(repo, auth=user["auth"])[1].status_code == 200
    # Katello pushes a user mapping only when it knows one of the gateway's users: keep one.
    witness = world.new_user(repositories=[repo], tag="witness")
    assert gateway.pull(repo, auth=witness["auth"])[1].status_code == 200

    katello.remove_user(user["login"])
    push_katello()

    token = gateway.ok_token(f"repository:{repo}:pull", auth=user["auth"])  # still cached
    assert gateway.access(token, public_key) == {repo: []}
    assert gateway.pull(repo, auth=witness["auth"])[1].status_code == 200
