"""The Pulp-native API under /pulp/api/v3/katello_gateway/: reads, filters, admin writes."""

import pytest
from django.contrib.auth import get_user_model
from openapi_spec_validator import validate

from devtools.clients import KATELLO_PUSH_PATH, NATIVE_API_PATH
from pulp_katello_gateway.app.models import ConsumerHost, ForemanUser, HostRepositoryGrant
from pulp_katello_gateway.tests.unit.native_api import FILTERS, ORDERING, PATHS

pytestmark = pytest.mark.django_db

API = NATIVE_API_PATH


@pytest.fixture
def data(katello_world):
    katello_world({"org/a": True, "org/b": True, "org/open": False},
                  users={"alice": ["org/a", "org/b"], "bob": ["org/b"]},
                  hosts={"h1": ["org/a"], "h2": []})


def names(response, field):
    """The ``field`` values of a list response, as a set (order is pulpcore's: newest first)."""
    assert response.status_code == 200, response.content
    return {item[field] for item in response.json()["results"]}


def test_repositories_and_their_filters(katello_client, data):
    get = katello_client.get
    assert names(get(API + "repositories/"), "name") == {"org/a", "org/b", "org/open"}
    assert names(get(API + "repositories/?granted_to_user=alice"), "name") == {"org/a", "org/b"}
    # Foreman's spelling of the login does not matter (its lower_login), a look-alike's does.
    assert names(get(API + "repositories/?granted_to_user=ALICE"), "name") == {"org/a", "org/b"}
    assert names(get(API + "repositories/?granted_to_user=al%C4%B1ce"), "name") == set()
    assert names(get(API + "repositories/?granted_to_host=h1"), "name") == {"org/a"}
    assert names(get(API + "repositories/?auth_required=false"), "name") == {"org/open"}
    assert names(get(API + "repositories/?name__startswith=org/o"), "name") == {"org/open"}
    ordered = get(API + "repositories/?ordering=-name").json()["results"]
    assert [item["name"] for item in ordered] == ["org/open", "org/b", "org/a"]


@pytest.mark.parametrize("endpoint", ["repositories/", "users/", "hosts/"])
def test_pages_past_postgresql_integers(katello_client, data, endpoint):
    """A limit or offset beyond bigint (schemathesis sent 2**63) means "all" or "past the end"."""
    huge = 2**63
    everything = katello_client.get(f"{API}{endpoint}?limit={huge}")
    assert everything.status_code == 200, everything.content
    assert len(everything.json()["results"]) == everything.json()["count"] > 0
    assert everything.json()["next"] is None
    beyond = katello_client.get(f"{API}{endpoint}?offset={huge}&limit={huge * 10}")
    assert beyond.status_code == 200, beyond.content
    assert beyond.json()["results"] == []
    first = katello_client.get(f"{API}{endpoint}?limit=1")
    assert len(first.json()["results"]) == 1 and "offset=1" in first.json()["next"]


@pytest.mark.parametrize("endpoint", ["repositories/", "users/", "hosts/"])
def test_empty_names_in_ordering_are_skipped(katello_client, data, endpoint):
    """``ordering=,`` (found by schemathesis) reads as no ordering; pulpcore's endpoints 500."""
    default = katello_client.get(f"{API}{endpoint}").json()["results"]
    for query in ("ordering=,", "ordering=,,"):
        response = katello_client.get(f"{API}{endpoint}?{query}")
        assert response.status_code == 200, response.content
        assert response.json()["results"] == default


def test_empty_names_around_an_ordering_keep_it(katello_client, data):
    response = katello_client.get(f"{API}repositories/?ordering=,-name,")
    assert [item["name"] for item in response.json()["results"]] == ["org/open", "org/b", "org/a"]
    refused = katello_client.get(f"{API}repositories/?ordering=,nope")
    assert refused.status_code == 400
    assert "nope is not one of the available choices" in refused.json()["ordering"][0]


def test_repository_detail(katello_client, data):
    first = katello_client.get(API + "repositories/?name=org/a").json()["results"][0]
    assert first["pulp_href"].startswith(API + "repositories/")
    assert first["prn"].startswith("prn:katello_gateway.katellorepository:")
    detail = katello_client.get(first["pulp_href"]).json()
    assert (detail["name"], detail["auth_required"]) == ("org/a", True)


def test_users_and_hosts_with_filters(katello_client, data):
    get = katello_client.get
    assert names(get(API + "users/"), "login") == {"alice", "bob"}
    assert names(get(API + "users/?granted_repository=org/b"), "login") == {"alice", "bob"}
    assert names(get(API + "users/?login=bob"), "username") == {"foreman:bob"}
    assert names(get(API + "hosts/"), "uuid") == {"h1", "h2"}
    assert names(get(API + "hosts/?granted_repository=org/a"), "uuid") == {"h1"}
    user = get(API + "users/?login=bob").json()["results"][0]["user"]
    assert user == f"/pulp/api/v3/users/{ForemanUser.objects.get(login='bob').user_id}/"


@pytest.mark.parametrize("endpoint", ["repositories/", "users/", "hosts/"])
def test_reading_needs_the_role(anonymous_client, plain_client, katello_client, endpoint):
    assert anonymous_client.get(API + endpoint).status_code == 401
    assert plain_client.get(API + endpoint).status_code == 403
    assert katello_client.get(API + endpoint).status_code == 200


def test_repositories_are_read_only(admin_client, data):
    href = admin_client.get(API + "repositories/").json()["results"][0]["pulp_href"]
    assert admin_client.post(API + "repositories/", {"name": "x"}).status_code == 405
    assert admin_client.delete(href).status_code == 405


def test_admin_adds_a_foreman_user_ahead_of_its_first_login(admin_client, katello_client):
    response = admin_client.post(API + "users/", {"login": "carol", "verified_as": "CAROL"},
                                 format="json")
    assert response.status_code == 201, response.content
    assert response.json()["username"] == "foreman:carol"
    assert response.json()["verified_as"] == ""  # Foreman's to say, at her first login
    assert not get_user_model().objects.get(username="foreman:carol").has_usable_password()
    assert katello_client.get(f"{KATELLO_PUSH_PATH}users").json() == {"users": ["carol"]}


@pytest.mark.parametrize(
    "login, message",
    [("", "may not be blank"), ("  ", "may not be blank"), ("a\tb", "control characters")],
)
def test_bad_logins_are_refused(admin_client, login, message):
    response = admin_client.post(API + "users/", {"login": login}, format="json")
    assert response.status_code == 400
    assert message in response.content.decode()


def test_duplicate_login_is_refused(admin_client, data):
    response = admin_client.post(API + "users/", {"login": "alice"}, format="json")
    assert response.status_code == 400
    assert ForemanUser.objects.filter(login="alice").count() == 1


def test_deleting_a_user_deletes_its_pulp_user_and_grants(admin_client, data):
    href = admin_client.get(API + "users/?login=alice").json()["results"][0]["pulp_href"]
    assert admin_client.delete(href).status_code == 204
    assert not get_user_model().objects.filter(username="foreman:alice").exists()
    assert names(admin_client.get(API + "repositories/?granted_to_user=alice"), "name") == set()
    assert names(admin_client.get(API + "repositories/?granted_to_user=bob"), "name") == {"org/b"}


def test_deleting_a_host_revokes_its_grants(admin_client, data):
    href = admin_client.get(API + "hosts/?uuid=h1").json()["results"][0]["pulp_href"]
    assert admin_client.delete(href).status_code == 204
    assert not ConsumerHost.objects.filter(uuid="h1").exists()
    assert not HostRepositoryGrant.objects.exists()


def test_the_role_cannot_write(katello_client, data):
    assert katello_client.post(API + "users/", {"login": "x"}, format="json").status_code == 403
    href = katello_client.get(API + "hosts/").json()["results"][0]["pulp_href"]
    assert katello_client.delete(href).status_code == 403
    assert ConsumerHost.objects.count() == 2


def test_openapi_lists_the_native_api_but_not_the_push_api(admin_client):
    paths = admin_client.get("/pulp/api/v3/docs/api.json", {"pk_path": 1}).json()["paths"]
    ours = {path: set(operations) - {"parameters"}
            for path, operations in paths.items() if "katello_gateway" in path}
    assert ours == PATHS
    assert not [path for path in paths if "container_gateway" in path]


@pytest.mark.parametrize("endpoint", sorted(FILTERS))
def test_openapi_lists_every_filter_and_ordering_field(admin_client, endpoint):
    schema = admin_client.get("/pulp/api/v3/docs/api.json", {"pk_path": 1}).json()
    parameters = {
        parameter["name"]: parameter
        for parameter in schema["paths"][f"{API}{endpoint}/"]["get"]["parameters"]
    }
    assert set(FILTERS[endpoint]) <= set(parameters)
    orderings = set(parameters["ordering"]["schema"]["items"]["enum"])
    assert orderings == {f"{sign}{field}" for field in ORDERING[endpoint] for sign in ("", "-")}


def test_the_plugins_openapi_schema_is_valid_openapi(admin_client):
    """What client generators and pulp-glue read, checked by openapi-spec-validator: the
    plugin's component with its paths spelled out (Pulp's default ``{…_href}`` path keys are not
    OpenAPI paths, for every plugin)."""
    schema = admin_client.get(
        "/pulp/api/v3/docs/api.json", {"component": "katello_gateway", "pk_path": 1}
    ).json()
    validate(schema)
    assert set(schema["paths"]) == set(PATHS)
