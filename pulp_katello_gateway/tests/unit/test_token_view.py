"""The token endpoint as a client sees it, through Django's full request path (middleware,
URL override, DRF): status codes, bodies, headers, and JWTs pulp_container can verify."""

from datetime import datetime
from urllib.parse import urlencode

import jwt
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from devtools.clients import basic_authorization as basic
from pulp_katello_gateway.app.models import ForemanUser

pytestmark = pytest.mark.django_db

SERVICE = "registry.example.com:8443"
PASSWORD = "alice-password-1"


@pytest.fixture
def foreman(foreman_with):
    return foreman_with(
        {
            "repositories": {
                "kat/a": {"auth_required": True},
                "kat/b": {"auth_required": True},
                "kat/pub": {"auth_required": False},
            },
            "users": {"alice": {"password": PASSWORD, "repositories": ["kat/a"]}},
        },
        KATELLO_GATEWAY_THROTTLE_ADDRESS_FAILURES=2,
        KATELLO_GATEWAY_FOREMAN_READ_TIMEOUT=2,
    )


def get_token(client, *scopes, auth=None, service=SERVICE, **headers):
    query = {"scope": list(scopes)}
    if service is not None:
        query["service"] = service
    if auth:
        headers["HTTP_AUTHORIZATION"] = auth
    return client.get("/token/", query, **headers)


def claims(token):
    """Verified exactly as pulp_container's TokenAuthentication does it."""
    with open(settings.PUBLIC_KEY_PATH, "rb") as key:
        return jwt.decode(
            token,
            key.read(),
            algorithms=[settings.TOKEN_SIGNATURE_ALGORITHM],
            issuer=settings.TOKEN_SERVER,
            audience=SERVICE,
        )


def test_anonymous_token_has_the_registry_token_fields(client, foreman):
    response = get_token(client, "repository:kat/pub:pull", "repository:kat/a:pull")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "access_token", "expires_in", "issued_at"}
    assert body["token"] == body["access_token"]
    assert isinstance(body["expires_in"], int) and body["expires_in"] >= 60
    datetime.fromisoformat(body["issued_at"].replace("Z", "+00:00"))
    decoded = claims(body["token"])
    assert decoded["sub"] == ""
    assert decoded["access"] == [
        {"type": "repository", "name": "kat/pub", "actions": ["pull"]},
        {"type": "repository", "name": "kat/a", "actions": []},
    ]
    assert decoded["exp"] - decoded["iat"] == body["expires_in"]
    assert jwt.get_unverified_header(body["token"])["kid"].count(":") == 11
    assert foreman.request_count() == 0


def test_foreman_user_gets_requested_intersected_with_allowed(client, foreman):
    response = get_token(
        client,
        "repository:kat/a:pull,push",
        "repository:kat/b:pull",
        "repository:registry.example.com:8443/kat/a:pull",
        auth=basic("alice", PASSWORD),
    )
    assert response.status_code == 200  # a partial grant is not an error
    decoded = claims(response.json()["token"])
    assert decoded["sub"] == "foreman:alice"
    assert decoded["access"] == [
        {"type": "repository", "name": "kat/a", "actions": ["pull"]},
        {"type": "repository", "name": "kat/b", "actions": []},
        {"type": "repository", "name": "registry.example.com:8443/kat/a", "actions": []},
    ]


def test_cached_login_costs_a_few_queries_and_no_foreman_call(
    client, foreman, django_assert_max_num_queries
):
    """The hot path (every podman command of a logged-in user): domain, throttle, local-user
    check, Foreman user, its cached logins, then the repository, whether a local user may change
    what serves it, and the grant. No Foreman."""
    assert get_token(client, auth=basic("alice", PASSWORD)).status_code == 200  # the login
    foreman.reset_counters()
    with django_assert_max_num_queries(8):
        response = get_token(client, "repository:kat/a:pull", auth=basic("alice", PASSWORD))
    assert response.status_code == 200
    assert claims(response.json()["token"])["access"][0]["actions"] == ["pull"]
    assert foreman.request_count() == 0


def test_login_token_without_scope_has_empty_access(client, foreman):
    response = get_token(client, auth=basic("alice", PASSWORD))
    assert response.status_code == 200
    assert claims(response.json()["token"])["access"] == []


def test_missing_service_is_400(client, foreman):
    response = get_token(client, "repository:kat/pub:pull", service=None)
    assert response.status_code == 400
    assert response.json() == {"detail": "No service name provided."}


INVALID, MALFORMED = "Invalid username/password.", "Malformed Basic credentials."


@pytest.mark.parametrize(
    "auth,detail",
    [
        (basic("alice", "wrong"), INVALID),
        (basic("nobody", PASSWORD), INVALID),
        (basic("", PASSWORD), INVALID),  # Katello would call this anonymous: not a 503
        (basic("ali\x00ce", PASSWORD), INVALID),  # PostgreSQL cannot compare it: not a 500
        ("Basic %%%", MALFORMED),
    ],
)
def test_bad_credentials_are_401_with_a_basic_challenge(client, foreman, auth, detail):
    response = get_token(client, auth=auth)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic ")
    assert response.json() == {"detail": detail}


def test_throttled_login_is_429_with_retry_after(client, foreman):
    for _ in range(2):
        assert get_token(client, auth=basic("alice", "wrong")).status_code == 401
    asked = foreman.request_count()

    response = get_token(client, auth=basic("alice", PASSWORD))
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= settings.KATELLO_GATEWAY_THROTTLE_WINDOW
    assert foreman.request_count() == asked


def test_foreman_down_is_503_with_a_message(client, foreman):
    foreman.set_fault("down")
    response = get_token(client, "repository:kat/a:pull", auth=basic("alice", PASSWORD))
    assert response.status_code == 503
    assert response.json() == {
        "detail": "Cannot verify the login now: Foreman cannot be reached. Try again later."
    }
    # Anonymous tokens never need Foreman.
    assert get_token(client, "repository:kat/pub:pull").status_code == 200


# -- OAuth2 POST -----------------------------------------------------------------------------


def post_token(client, data, content_type=None):
    if content_type:
        return client.post("/token/", data, content_type=content_type)
    return client.post("/token/", data)  # multipart form, like a browser


def form(**fields):
    return {"service": SERVICE, "client_id": "containerd-client", **fields}


@pytest.mark.parametrize("encoding", ["urlencoded", "json"])
def test_oauth2_password_grant(client, foreman, encoding):
    data = form(
        grant_type="password",
        username="alice",
        password=PASSWORD,
        scope="repository:kat/a:pull repository:kat/b:pull",
    )
    if encoding == "urlencoded":
        response = post_token(client, urlencode(data), "application/x-www-form-urlencoded")
    else:
        response = post_token(client, data, "application/json")
    assert response.status_code == 200
    body = response.json()
    assert body["access_token"] == body["token"]
    assert body["scope"] == "repository:kat/a:pull"  # granted scopes only, space-separated
    assert body["expires_in"] >= 60 and body["issued_at"]
    assert claims(body["access_token"])["sub"] == "foreman:alice"


@pytest.mark.parametrize(
    "data,error",
    [
        (form(grant_type="refresh_token", refresh_token="opaque"), "unsupported_grant_type"),
        (form(grant_type="authorization_code", code="x"), "unsupported_grant_type"),
        (form(username="alice", password=PASSWORD), "unsupported_grant_type"),
        (form(grant_type="password", password=PASSWORD), "invalid_request"),
    ],
)
def test_oauth2_other_requests_are_clear_400s(client, foreman, data, error):
    response = post_token(client, data)
    assert response.status_code == 400
    assert response.json()["error"] == error
    assert response.json()["error_description"]


@pytest.mark.parametrize("body", ["[1, 2]", '"password"', "3"])
def test_oauth2_body_that_is_not_an_object_is_400_not_500(client, foreman, body):
    response = post_token(client, body, "application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_oauth2_fields_must_be_strings(client, foreman):
    data = form(grant_type="password", username="alice", password=PASSWORD, scope=["a", "b"])
    response = post_token(client, data, "application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_oauth2_wrong_password_is_401_and_missing_service_400(client, foreman):
    response = post_token(client, form(grant_type="password", username="alice", password="no"))
    assert response.status_code == 401
    data = form(grant_type="password", username="alice", password=PASSWORD)
    del data["service"]
    assert post_token(client, data).status_code == 400


def test_scope_with_a_nul_is_refused_not_a_500(client, foreman):
    response = get_token(client, "repository:kat/\x00pub:pull", "repository:kat/pub:pull")
    assert response.status_code == 200
    assert claims(response.json()["token"])["access"] == [
        {"type": "repository", "name": "kat/\x00pub", "actions": []},
        {"type": "repository", "name": "kat/pub", "actions": ["pull"]},
    ]


@pytest.fixture
def root(db):
    return get_user_model().objects.create_superuser("root", password="root-password-1")


def test_a_remote_user_header_is_nobody_on_the_token_endpoint(
    client, foreman, remote_user_authentication, root
):
    """A client's own Remote-User header must not make it the Pulp admin (issue 14)."""
    response = get_token(client, "repository:kat/a:pull", HTTP_REMOTE_USER="root")
    assert response.status_code == 200
    decoded = claims(response.json()["token"])
    assert decoded["sub"] == ""
    assert decoded["access"] == [{"type": "repository", "name": "kat/a", "actions": []}]


def test_search_ignores_a_remote_user_header(client, foreman, remote_user_authentication, root):
    response = client.get("/v1/search", {"q": "kat"}, HTTP_REMOTE_USER="root")
    assert response.status_code == 200
    assert [result["name"] for result in response.json()["results"]] == ["kat/pub"]


def test_remote_user_is_believed_only_when_enabled(
    client, foreman, remote_user_authentication, root, settings
):
    settings.KATELLO_GATEWAY_TOKEN_REMOTE_AUTHENTICATION = True
    response = get_token(client, "repository:kat/a:pull", HTTP_REMOTE_USER="root")
    assert claims(response.json()["token"])["sub"] == "root"


def test_explain_takes_the_identity_the_token_endpoint_takes_for_each_secret(
    client, admin_client, foreman
):
    """``alice`` is a local Pulp user and, declared by an admin, a Foreman user: her Pulp
    password makes the token endpoint take the local user, Foreman's the Foreman user. explain/
    answers for the first and lists the second, each with what its token grants."""
    get_user_model().objects.create_user("alice", password="alice-pulp-password")
    ForemanUser.objects.create_for_login("alice")
    scope = "repository:kat/a:pull"

    def token_actions(password):
        response = get_token(client, scope, auth=basic("alice", password))
        assert response.status_code == 200, response.content
        decoded = claims(response.json()["token"])
        return decoded["sub"], decoded["access"][0]["actions"]

    with_pulp_password, with_foreman_password = (token_actions("alice-pulp-password"),
                                                 token_actions(PASSWORD))
    assert with_pulp_password[0] == "alice" and with_foreman_password[0] == "foreman:alice"
    assert with_pulp_password[1] != with_foreman_password[1]  # the two really differ here

    explained = admin_client.get("/pulp/api/v3/katello_gateway/explain/",
                                 {"login": "alice", "repository": "kat/a"})
    assert explained.status_code == 200, explained.content
    body = explained.json()
    assert (body["identity"], body["actions"]) == ("pulp", with_pulp_password[1])
    [other] = body["other_candidates"]
    assert (other["identity"], other["actions"]) == ("foreman", with_foreman_password[1])
    assert "Pulp password" in body["with"] and "Foreman" in other["with"]
