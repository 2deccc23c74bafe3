"""The token endpoint of the real stack, over HTTPS: Katello's decision, the Foreman login cache,
throttling, revocation by push, Foreman outages, and JWTs pulp_container's registry accepts.

Plain HTTP requests (what every registry client sends) keep these fast; the real clients are in
``test_logins.py``. Every test uses its own users (and, where it changes them, its own
repositories), so the session-wide stack and stand-in can be shared.
"""


import jwt
import pytest

from pulp_katello_gateway.app import settings as defaults
from pulp_katello_gateway.tests.functional.gateway_http import push_url

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
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


class Registry:
    """Raw registry requests against the stack."""

    def __init__(self, pulp):
        self.pulp = pulp
        self.http = pulp.session(auth=None)

    def token(self, *scopes, auth=None):
        params = [("service", self.pulp.registry)] + [("scope", scope) for scope in scopes]
        if auth:
            params.append(("account", auth[0]))
        return self.http.get(f"{self.pulp.api_url}/token/", params=params, auth=auth, timeout=30)

    def ok_token(self, *scopes, auth=None):
        response = self.token(*scopes, auth=auth)
        assert response.status_code == 200, response.text
        return response.json()["token"]

    def manifest(self, repository, token, reference="latest"):
        return self.http.get(
            f"{self.pulp.api_url}/v2/{repository}/manifests/{reference}",
            headers={"Authorization": f"Bearer {token}", "Accept": OCI_MANIFEST},
            timeout=30,
        )

    def pull(self, repository, auth=None):
        """What a client does for one pull: a token, then the manifest; returns the manifest
        response."""
        token = self.ok_token(f"repository:{repository}:pull", auth=auth)
        return self.manifest(repository, token)

    def claims(self, token):
        """Verified the way pulp_container's TokenAuthentication verifies it."""
        key = (self.pulp.state / "secrets" / "token_public_key.pem").read_bytes()
        return jwt.decode(
            token, key, algorithms=["ES256"], issuer=f"{self.pulp.api_url}/token/",
            audience=self.pulp.registry,
        )


@pytest.fixture(scope="module")
def registry(pulp):
    return Registry(pulp)


def access(registry, token):
    return {entry["name"]: entry["actions"] for entry in registry.claims(token)["access"]}


# -- tokens and what pulp_container does with them ---------------------------------------------


def test_token_answer_and_jwt_accepted_by_the_registry(registry, world, user, pulp):
    granted = world.repos["granted"]
    response = registry.token(f"repository:{granted}:pull", auth=user["auth"])

    assert response.status_code == 200
    body = response.json()
    assert {"token", "access_token", "expires_in", "issued_at"} <= set(body)
    assert body["token"] == body["access_token"]
    assert body["expires_in"] >= 60
    claims = registry.claims(body["token"])
    assert claims["sub"] == f"foreman:{user['login']}"
    assert claims["aud"] == pulp.registry
    assert claims["iss"] == f"{pulp.api_url}/token/"
    assert claims["access"] == [{"type": "repository", "name": granted, "actions": ["pull"]}]

    manifest = registry.manifest(granted, body["token"])
    assert manifest.status_code == 200
    assert manifest.headers["Docker-Content-Digest"] == world.digest
    # The scope-less login token opens /v2/ (what podman login checks).
    login_token = registry.ok_token(auth=user["auth"])
    ping = registry.http.get(
        f"{pulp.api_url}/v2/", headers={"Authorization": f"Bearer {login_token}"}, timeout=30
    )
    assert ping.status_code == 200


def test_personal_access_token_works_like_the_password(registry, world, user):
    response = registry.pull(world.repos["granted"], auth=(user["login"], user["pat"]))
    assert response.status_code == 200


def test_partial_grant_is_200_with_requested_intersected_with_allowed(
    registry, world, user, pulp
):
    repos = world.repos
    token = registry.ok_token(
        f"repository:{repos['granted']}:pull,push",
        f"repository:{repos['private']}:pull",
        f"repository:{repos['public']}:pull",
        f"repository:{pulp.registry}/{repos['granted']}:pull",  # host:port in the name
        auth=user["auth"],
    )
    assert access(registry, token) == {
        repos["granted"]: ["pull"],
        repos["private"]: [],
        repos["public"]: ["pull"],
        f"{pulp.registry}/{repos['granted']}": [],
    }
    # The odd scope did not void the others: the token pulls what it grants.
    assert registry.manifest(repos["granted"], token).status_code == 200
    assert registry.manifest(repos["public"], token).status_code == 200
    assert registry.manifest(repos["private"], token).status_code == 401


def _normalized(response, name):
    return (
        response.status_code,
        response.text.replace(name, "<name>"),
        response.headers.get("WWW-Authenticate", "").replace(name, "<name>"),
        response.headers.get("Content-Type"),
    )


@pytest.mark.parametrize("who", ["foreman user", "anonymous"])
def test_forbidden_repository_answers_exactly_like_a_missing_one(registry, world, user, who):
    auth = user["auth"] if who == "foreman user" else None
    forbidden, missing = world.repos["private"], f"{world.prefix}/does-not-exist"

    answers = []
    for name in (forbidden, missing):
        token = registry.ok_token(f"repository:{name}:pull", auth=auth)
        assert access(registry, token) == {name: []}
        answers.append(_normalized(registry.manifest(name, token), name))
    assert answers[0] == answers[1]
    assert answers[0][0] == 401 and 'error="insufficient_scope"' in answers[0][2]


def test_anonymous_pull_of_public_repository_never_asks_foreman(registry, world, katello):
    before = katello.request_count()
    assert registry.pull(world.repos["public"]).status_code == 200
    assert registry.pull(world.repos["granted"]).status_code == 401
    assert katello.request_count() == before


def test_cached_login_is_checked_without_foreman(registry, world, user, katello):
    registry.ok_token(auth=user["auth"])  # the login: Foreman verifies and lists the catalog
    before = katello.request_count()
    for _ in range(10):
        token = registry.ok_token(f"repository:{world.repos['granted']}:pull",
                                  auth=user["auth"])
        assert access(registry, token) == {world.repos["granted"]: ["pull"]}
    assert katello.request_count() == before


def test_users_appear_in_katellos_user_list_after_their_first_login(registry, user, pulp):
    users_url = push_url(pulp.api_url) + "users"
    admin = pulp.session()
    assert user["login"] not in admin.get(users_url).json()["users"]
    registry.ok_token(auth=user["auth"])
    assert user["login"] in admin.get(users_url).json()["users"]


def test_oauth2_password_grant_and_refresh_token(registry, world, user, pulp):
    granted, private = world.repos["granted"], world.repos["private"]
    response = registry.http.post(
        f"{pulp.api_url}/token/",
        data={
            "grant_type": "password",
            "username": user["login"],
            "password": user["password"],
            "service": pulp.registry,
            "client_id": "containerd-client",
            "scope": f"repository:{granted}:pull repository:{private}:pull",
        },
        timeout=30,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["scope"] == f"repository:{granted}:pull"
    assert {"access_token", "expires_in", "issued_at"} <= set(body)
    assert registry.manifest(granted, body["access_token"]).status_code == 200

    refresh = registry.http.post(
        f"{pulp.api_url}/token/",
        data={"grant_type": "refresh_token", "refresh_token": "x", "service": pulp.registry,
              "client_id": "containerd-client"},
        timeout=30,
    )
    assert refresh.status_code == 400
    assert refresh.json()["error"] == "unsupported_grant_type"


# -- wrong credentials, throttling, Foreman outages -------------------------------------------


def test_wrong_password_is_401(registry, user):
    response = registry.token(auth=(user["login"], "not-the-password"))
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid username/password."}


def test_repeated_failures_are_throttled_without_asking_foreman(registry, katello, world, user):
    # Foreman is asked until the login's count from this address, or from anywhere, is full.
    limit = min(defaults.KATELLO_GATEWAY_THROTTLE_ADDRESS_FAILURES,
                defaults.KATELLO_GATEWAY_THROTTLE_LOGIN_FAILURES)
    before = katello.request_count("/v2/token")
    for attempt in range(limit):
        response = registry.token(auth=(user["login"], f"guess-{attempt}"))
        assert response.status_code == 401
    assert katello.request_count("/v2/token") == before + limit

    for secret in ("another-guess", user["password"]):
        throttled = registry.token(auth=(user["login"], secret))
        assert throttled.status_code == 429
        assert 0 < int(throttled.headers["Retry-After"]) <= defaults.KATELLO_GATEWAY_THROTTLE_WINDOW
    assert katello.request_count("/v2/token") == before + limit

    # Somebody else logging in from the same address is not affected.
    other = world.new_user(tag="other")
    assert registry.pull(world.repos["granted"], auth=other["auth"]).ok


@pytest.mark.parametrize(
    "fault",
    [{"mode": "down"}, {"mode": "error", "status": 500}, {"mode": "error", "status": 502},
     {"mode": "garbage", "kind": "html"}],
    ids=["down", "500", "502", "html"],
)
def test_foreman_unavailable_without_cached_login_is_503(registry, katello, world, user, fault):
    try:
        katello.set_fault(**fault)
        response = registry.token(f"repository:{world.repos['granted']}:pull",
                                  auth=user["auth"])
        anonymous = registry.pull(world.repos["public"])
    finally:
        katello.set_fault(None)
    assert response.status_code == 503
    assert response.json()["detail"].startswith("Cannot verify the login now:")
    assert anonymous.status_code == 200  # anonymous pulls never depend on Foreman
    # Once Foreman is back, the same login works (the outage was not counted as a failure).
    assert registry.pull(world.repos["granted"], auth=user["auth"]).status_code == 200


def test_cached_login_keeps_working_while_foreman_is_down(registry, katello, world, user):
    assert registry.pull(world.repos["granted"], auth=user["auth"]).status_code == 200
    try:
        katello.set_fault("down")
        responses = [registry.pull(world.repos["granted"], auth=user["auth"])
                     for _ in range(3)]
    finally:
        katello.set_fault(None)
    assert [response.status_code for response in responses] == [200] * 3


# -- revocation by Katello pushes ---------------------------------------------------------------


def test_grant_removed_by_a_push_is_gone_at_the_next_token(
    registry, katello, world, user, push_katello
):
    repo = world.repos["dropped-grant"]
    katello.set_user_repositories(user["login"], [world.repos["granted"], repo])
    assert registry.pull(repo, auth=user["auth"]).status_code == 200  # login: grants refreshed

    katello.set_user_repositories(user["login"], [world.repos["granted"]])
    push_katello()

    token = registry.ok_token(f"repository:{repo}:pull", auth=user["auth"])  # a cached login
    assert access(registry, token) == {repo: []}
    assert registry.manifest(repo, token).status_code == 401
    assert registry.pull(world.repos["granted"], auth=user["auth"]).status_code == 200


def test_repository_removed_by_a_push_is_gone_at_the_next_token(
    registry, katello, world, user, push_katello
):
    repo = world.repos["dropped-repo"]
    katello.set_user_repositories(user["login"], [repo])
    assert registry.pull(repo, auth=user["auth"]).status_code == 200

    katello.remove_repository(repo)
    push_katello()

    token = registry.ok_token(f"repository:{repo}:pull", auth=user["auth"])
    assert access(registry, token) == {repo: []}
    assert registry.manifest(repo, token).status_code == 401


def test_user_removed_by_a_push_loses_its_grants_at_the_next_token(
    registry, katello, world, user, push_katello
):
    repo = world.repos["dropped-user"]
    katello.set_user_repositories(user["login"], [repo])
    assert registry.pull(repo, auth=user["auth"]).status_code == 200
    # Katello pushes a user mapping only when it knows one of the gateway's users: keep one.
    witness = world.new_user(repositories=[repo], tag="witness")
    assert registry.pull(repo, auth=witness["auth"]).status_code == 200

    katello.remove_user(user["login"])
    push_katello()

    token = registry.ok_token(f"repository:{repo}:pull", auth=user["auth"])  # still cached
    assert access(registry, token) == {repo: []}
    assert registry.pull(repo, auth=witness["auth"]).status_code == 200
