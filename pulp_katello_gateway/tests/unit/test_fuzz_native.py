"""The Pulp-native API (``/pulp/api/v3/katello_gateway/``) and the cached-login revocation under
hostile input: property tests.

Filters with any value (broken regular expressions, NULs, unicode, injection strings), bodies
of any shape, ids that are not ids: never a 5xx, and a refused write changes nothing.
"""

import json
from urllib.parse import quote, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pulp_katello_gateway.app.models import (
    ForemanUser,
)

from .conftest import database_state, push_url, put_json

pytestmark = pytest.mark.django_db

API = "/pulp/api/v3/katello_gateway/"
FUZZ = settings(max_examples=120)
LOOKUPS = ["", "__iexact", "__in", "__contains", "__icontains", "__startswith",
           "__istartswith", "__regex", "__iregex"]
FILTERS = {
    "repositories": [f"name{lookup}" for lookup in LOOKUPS]
    + ["auth_required", "granted_to_user", "granted_to_host"],
    "users": [f"login{lookup}" for lookup in LOOKUPS] + ["granted_repository"],
    "hosts": ["uuid", "uuid__in", "granted_repository"],
    "pulls": ["digest", "repository", "login", "kind", "host", "since", "until"],
}
COMMON = ["pulp_id__in", "pulp_href__in", "prn__in", "q", "ordering", "limit", "offset",
          "fields", "exclude_fields", "minimal", "unknown", "a%s", "%(x)s", "%"]
NASTY = ["(", "[[[", "*", "a{1,2", "\\", "(?<x>a)", "a++", "[[:alpha:]", "\x00", "%", "_", "",
         "prod-a", "admin", "h-1", "日本", "' OR '1'='1", "-name", "pk,-pk", "name__regex=\"(\"",
         "login=\"admin\" AND login__regex=\"(\"", "NOT name__iregex=\"[\"", "99999999999999999999",
         "-1", "9223372036854775808", ",", ",-name,", "/pulp/api/v3/", "prn:nothing",
         "00000000-0000-0000-0000-000000000000"]


@pytest.fixture
def data(katello_client):
    for login in ("admin", "bob"):
        ForemanUser.objects.create_for_login(login)
    repos = [{"repository": name, "auth_required": True} for name in ("prod-a", "prod-b")]
    put_json(katello_client, "repository_list", {"repositories": repos})
    put_json(katello_client, "user_repository_mapping", {"users": [{"admin": repos}]})
    put_json(katello_client, "update_hosts", {"hosts": [{"uuid": "h-1"}]})
    put_json(katello_client, "host_repository_mapping", {"hosts": [{"h-1": repos}]})


values = st.one_of(st.sampled_from(NASTY), st.text(max_size=20))


@FUZZ
@given(endpoint=st.sampled_from(sorted(FILTERS)), data_=st.data())
def test_list_filters_never_fail(admin_client, data, endpoint, data_):
    names = st.sampled_from(FILTERS[endpoint] + COMMON)
    query = data_.draw(st.lists(st.tuples(names, values), max_size=4))
    response = admin_client.get(f"{API}{endpoint}/?{urlencode(query)}")
    assert response.status_code in (200, 400), (query, response.status_code)


@pytest.mark.parametrize("endpoint", sorted(FILTERS))
def test_every_parameter_alone_with_every_nasty_value(admin_client, data, endpoint):
    """The sweep random draws rarely reach (``ordering=,`` and ``limit=2**63`` slipped past
    them): each parameter on its own with each listed value."""
    for name in FILTERS[endpoint] + COMMON:
        for value in NASTY:
            query = urlencode([(name, value)])
            response = admin_client.get(f"{API}{endpoint}/?{query}")
            assert response.status_code in (200, 400), (query, response.status_code)


@pytest.mark.parametrize("name", ["repository", "login", "host", "action", "unknown"])
def test_explain_with_every_nasty_value(admin_client, data, name):
    """explain/ answers or refuses (400, or 404 for an unknown login or host), never fails."""
    for value in NASTY:
        query = {"repository": "prod-a", name: value}
        response = admin_client.get(f"{API}explain/", query)
        assert response.status_code in (200, 400, 404), (query, response.status_code)


@FUZZ
@given(endpoint=st.sampled_from(sorted(FILTERS)), key=values,
       method=st.sampled_from(["GET", "DELETE", "PATCH", "PUT"]))
def test_detail_requests_with_any_id_never_fail(admin_client, data, endpoint, key, method):
    before = database_state()
    response = admin_client.generic(method, f"{API}{endpoint}/{quote(key, safe='')}/",
                                    "{}", content_type="application/json")
    assert response.status_code in (400, 404, 405), response.status_code
    assert database_state() == before


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.sampled_from(NASTY),
              st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=10,
)


@FUZZ
@given(body=st.one_of(st.fixed_dictionaries({"login": json_values}), json_values),
       endpoint=st.sampled_from(sorted(FILTERS)))
def test_creating_with_any_body_never_fails(admin_client, data, body, endpoint):
    before = database_state()
    response = admin_client.post(f"{API}{endpoint}/", json.dumps(body),
                                 content_type="application/json")
    if endpoint != "users":
        assert response.status_code == 405
    else:
        login = body.get("login") if isinstance(body, dict) else None
        assert response.status_code in (201, 400), (body, response.status_code)
        if response.status_code == 201:
            assert ForemanUser.objects.filter(login=login).exists()
            ForemanUser.objects.filter(login=login).delete()
    assert database_state() == before


@FUZZ
@given(login=values)
def test_dropping_cached_logins_of_any_login_never_fails(katello_client, data, login):
    before = database_state()
    response = katello_client.delete(push_url(f"users/{quote(login, safe='')}/cached_logins/"))
    if "/" in login or not login:
        assert response.status_code == 404  # not this route
    else:
        assert response.status_code == 200, (login, response.status_code)
        assert response.json() == {"login": login, "dropped": 0}
    assert database_state() == before


# -- what the fuzzing found, pinned ------------------------------------------------------------


@pytest.mark.parametrize("endpoint, query", [
    ("repositories", "name__regex=("),
    ("repositories", "name__iregex=[[["),
    ("users", "login__regex=a{2,1}"),
    ("users", "login__iregex=\\"),
])
def test_bad_regular_expression_is_400_not_500(admin_client, data, endpoint, query):
    response = admin_client.get(f"{API}{endpoint}/?{query}")
    assert response.status_code == 400
    assert "Not a valid regular expression." in response.content.decode()


@pytest.mark.parametrize("query", ["a%25s=1", "%25=1", "x%25d%25s=null&login=admin"])
def test_unknown_parameter_with_a_percent_sign_is_400_not_500(admin_client, data, query):
    """Found by schemathesis: pulpcore %-formats the name of an unknown filter."""
    for endpoint in FILTERS:
        response = admin_client.get(f"{API}{endpoint}/?{query}")
        assert response.status_code == 400
        assert "Invalid Filter" in response.content.decode()


def test_good_regular_expression_still_filters(admin_client, data):
    response = admin_client.get(f"{API}repositories/?{urlencode({'name__regex': '^prod-[a]$'})}")
    assert response.status_code == 200
    assert [repo["name"] for repo in response.json()["results"]] == ["prod-a"]


@pytest.mark.parametrize("body", ['{"login": "a\\ud800"}', "[" * 100_000, '{"login": ' * 50_000])
def test_odd_json_bodies_are_400_not_500(admin_client, data, body):
    before = database_state()
    response = admin_client.post(f"{API}users/", body, content_type="application/json")
    assert response.status_code == 400
    assert database_state() == before


def test_dropping_cached_logins_of_an_impossible_login_drops_nothing(katello_client, data):
    response = katello_client.delete(push_url("users/a%00b/cached_logins/"))
    assert response.status_code == 200
    assert response.json() == {"login": "a\x00b", "dropped": 0}
