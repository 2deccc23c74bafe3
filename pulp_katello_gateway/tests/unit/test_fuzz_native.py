"""The Pulp-native API (``/pulp/api/v3/katello_gateway/``) and the cached-login revocation under
hostile input: property tests.

Filters with any value (broken regular expressions, NULs, unicode, injection strings), bodies
of any shape, ids that are not ids: each input has one expected answer, which ``expected_list``
and ``expected_explain`` work out from the rules below (not from what the code did), and a
refused request names its problem and changes nothing.

The rules, per kind of query parameter (the last value counts when one repeats):

- an unknown parameter: 400 ``Invalid Filter``, whatever its value;
- ``limit``, ``offset``, ``fields``, ``exclude_fields``, ``minimal``: never refused (a limit or
  offset that is not a number is Pulp's default page, one beyond PostgreSQL's bigint is capped);
- ``auth_required``: never refused (a value that is not a boolean does not filter);
- text filters (names, logins, uuids, ``granted_*``, the pull record's fields): 400 for a NUL
  (PostgreSQL text cannot hold one), and for ``__regex``/``__iregex`` a pattern PostgreSQL
  cannot compile (asked of PostgreSQL itself, on another connection); blank means no filter;
- ``kind``: one of the four kinds, or empty; ``since``/``until``: an ISO date or date-time, or
  empty; ``ordering``: comma-separated ``[-]field`` of the endpoint's fields (empty items are
  skipped); ``pulp_id__in``: UUIDs; ``pulp_href__in``: PRNs or hrefs, no empty item (Pulp's
  rule for an href changed in pulpcore 3.107, pulp/pulpcore#6237: older lines need a path that
  resolves to a view with a pk, newer ones a path whose last segment is a UUID);
  ``prn__in``: PRNs (``prn:<type>:<UUID>``); ``q``: an expression of ``filter="value"`` terms
  (texts drawn here hold no ``=`` unless listed in ``Q_EXPRESSIONS``, so any other is a syntax
  error).
"""

import json
import re
import uuid
from importlib.metadata import version
from urllib.parse import quote, urlencode, urlparse

import pytest
from django.contrib.auth import get_user_model
from django.urls import Resolver404, resolve
from django.utils.dateparse import parse_date, parse_datetime
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from devtools.clients import NATIVE_API_PATH
from pulp_katello_gateway.app.models import ForemanUser
from pulp_katello_gateway.tests.unit.katello_api import database_state
from pulp_katello_gateway.tests.unit.native_api import FILTERS, ORDERING

pytestmark = pytest.mark.django_db

API = NATIVE_API_PATH
FUZZ = settings(max_examples=120)
KINDS = {"foreman", "host", "pulp", "anonymous"}
PAGING = {"limit", "offset", "fields", "exclude_fields", "minimal"}
UNKNOWN = ["unknown", "a%s", "%(x)s", "%"]
COMMON = ["pulp_id__in", "pulp_href__in", "prn__in", "q", "ordering", *sorted(PAGING), *UNKNOWN]
NASTY = ["(", "[[[", "*", "a{1,2", "\\", "(?<x>a)", "a++", "[[:alpha:]", "\x00", "%", "_", "",
         "prod-a", "admin", "h-1", "日本", "' OR '1'='1", "-name", "pk,-pk", "name__regex=\"(\"",
         "login=\"admin\" AND login__regex=\"(\"", "NOT name__iregex=\"[\"", "99999999999999999999",
         "-1", "9223372036854775808", ",", ",-name,", "/pulp/api/v3/", "prn:nothing",
         "/pulp/api/v3/katello_gateway/hosts/xyz/", "prn:a.b:xyz",
         "/pulp/api/v3/katello_gateway/hosts/00000000-0000-0000-0000-000000000000/",
         "00000000-0000-0000-0000-000000000000", " ", " , ", "pk,,", "a\x00b", "2024-01-01",
         " 2024-01-01T10:00:00Z ", "foreman", " foreman", "{00000000-0000-0000-0000-000000000000}",
         "login=\"admin\"", "name=\"prod-a\""]
# ``q`` expressions and the endpoints where they are valid (elsewhere: 400).
Q_EXPRESSIONS = {
    'name__regex="("': set(),  # a pattern PostgreSQL rejects
    'login="admin" AND login__regex="("': set(),
    'NOT name__iregex="["': set(),
    'login="admin"': {"users", "pulls"},
    'name="prod-a"': {"repositories"},
    "' OR '1'='1": set(),  # a syntax error
}
assert {value for value in NASTY if "=" in value} == set(Q_EXPRESSIONS)

NUL = "Null characters are not allowed."
HREF_BY_LAST_SEGMENT = Version(version("pulpcore")) >= Version("3.107")


@pytest.fixture
def data(katello_world):
    katello_world({"prod-a": True, "prod-b": True},
                  users={"admin": ["prod-a", "prod-b"], "bob": []},
                  hosts={"h-1": ["prod-a", "prod-b"]})


@pytest.fixture
def postgres_compiles(other_session):
    """PostgreSQL's own verdict on a regular expression, asked on another connection."""

    def compiles(pattern):
        try:
            other_session.execute("SELECT '' ~ %s", [pattern])
        except Exception:  # noqa: BLE001 - any refusal (invalid pattern, NUL) means no
            return False
        return True

    return compiles


def _is_uuid(value):
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _is_prn(item):
    """``prn:<type>:<pk>``, as Pulp reads one: the type is not checked, the pk must be a UUID."""
    parts = item.split(":")
    return len(parts) == 3 and parts[0] == "prn" and _is_uuid(parts[2])


def _href_problem(item):
    """Why Pulp refuses ``item`` of ``pulp_href__in``; None: it names a pk."""
    if item.startswith("prn:"):
        return None if _is_prn(item) else "PRN not valid"
    path = urlparse(item).path
    if HREF_BY_LAST_SEGMENT:
        return None if _is_uuid(path.rstrip("/").rsplit("/", 1)[-1]) else "URI not valid"
    try:
        match = resolve(path)
    except Resolver404:
        return "URI not valid"
    if "pk" not in match.kwargs:
        return "URI does not contain an unqualified resource PK"
    return None if _is_uuid(match.kwargs["pk"]) else "URI not valid"


def _is_date(value):
    try:
        return bool(parse_datetime(value) or parse_date(value))
    except ValueError:  # well formed, out of range
        return False


def problem(endpoint, name, value, compiles):
    """The 400 message fragment parameter ``name=value`` earns on ``endpoint``; None: no problem."""
    if name in UNKNOWN:
        return "Invalid Filter"
    if name in PAGING or name == "auth_required":
        return None
    items = value.split(",")
    if name == "kind":
        return None if value in KINDS | {""} else "Select a valid choice"
    if name in ("since", "until"):
        return None if value == "" or _is_date(value.strip()) else "Enter a valid date/time."
    if name == "ordering":
        fields = ORDERING[endpoint]
        bad = [item for item in items if item and item.removeprefix("-") not in fields]
        return "Select a valid choice" if bad else None
    if name == "pulp_id__in":
        bad = [item for item in items if item.strip() and not _is_uuid(item.strip())]
        return "Enter a valid UUID." if bad else None
    if "\x00" in value:
        return NUL
    if name == "pulp_href__in":
        return next(filter(None, map(_href_problem, items)), None) if value else None
    if name == "prn__in":
        return None if value == "" or all(map(_is_prn, items)) else "PRN"
    if name == "q":
        if not value.strip():
            return None
        if endpoint in Q_EXPRESSIONS.get(value, ()):
            return None
        return "q"  # the body is {"q": [why]}: a syntax error, an unknown filter, a bad pattern
    if name.endswith("regex") and value.strip() and not compiles(value.strip()):
        return "Not a valid regular expression."
    return None


def expected_list(endpoint, query, compiles):
    """(status, the problems a 400 names) for ``GET <endpoint>/?<query>``."""
    problems = {problem(endpoint, name, value, compiles) for name, value in dict(query).items()}
    problems.discard(None)
    return (400, problems) if problems else (200, set())


def check_list(client, endpoint, query, compiles):
    before = database_state()
    response = client.get(f"{API}{endpoint}/?{urlencode(query)}")
    status, problems = expected_list(endpoint, query, compiles)
    body = response.content.decode()
    assert response.status_code == status, (query, response.status_code, body[:300])
    if status == 400:
        assert any(json.dumps(fragment)[1:-1] in body for fragment in problems), (query, body)
    else:
        assert isinstance(response.json()["results"], list)
    assert database_state() == before


values = st.one_of(st.sampled_from(NASTY), st.text(max_size=20).filter(lambda t: "=" not in t))


@FUZZ
@given(endpoint=st.sampled_from(sorted(FILTERS)), data_=st.data())
def test_list_filters_answer_as_the_rules_say(admin_client, data, postgres_compiles, endpoint,
                                              data_):
    names = st.sampled_from(FILTERS[endpoint] + COMMON)
    query = data_.draw(st.lists(st.tuples(names, values), max_size=4))
    check_list(admin_client, endpoint, query, postgres_compiles)


@pytest.mark.parametrize("endpoint", sorted(FILTERS))
def test_every_parameter_alone_with_every_nasty_value(admin_client, data, postgres_compiles,
                                                      endpoint):
    """The sweep random draws rarely reach (``ordering=,`` and ``limit=2**63`` slipped past
    them): each parameter on its own with each listed value."""
    for name in FILTERS[endpoint] + COMMON:
        for value in NASTY:
            check_list(admin_client, endpoint, [(name, value)], postgres_compiles)


def _name_problem(name, blank, too_long):
    """The message a trimmed name earns, checked in the serializers' order (each endpoint words
    blank and too long its own way); None: a valid name."""
    if not name:
        return blank
    if "\x00" in name:
        return NUL
    if len(name) > 255:
        return too_long
    if re.search(r"[\x00-\x1f\x7f]", name):
        return "may not contain control characters"
    return None


def expected_explain(name, value):
    """(status, message fragment) of ``explain/?repository=prod-a&<name>=<value>``."""
    if name == "unknown" or (value == "" and name != "repository"):
        return 200, None  # ignored; an empty optional parameter is one not given
    if name == "action":
        return (200, None) if value in ("pull", "push") else (400, "is not a valid choice")
    trimmed = value.strip()
    message = _name_problem(trimmed, "may not be blank", "may not be longer than 255 characters")
    if message:
        return 400, message
    if name == "login":
        known = trimmed.lower() in ("admin", "bob") or get_user_model().objects.filter(
            username=trimmed).exists()
        return (200, None) if known else (404, "No login")
    if name == "host":
        return (200, None) if trimmed == "h-1" else (404, "No host")
    return 200, None  # any repository name: the answer says which rule applies


@pytest.mark.parametrize("name", ["repository", "login", "host", "action", "unknown"])
def test_explain_with_every_nasty_value(admin_client, data, name):
    """explain/ answers, refuses (400: the value cannot be a name) or does not know the login
    or host (404), as ``expected_explain`` says."""
    for value in [*NASTY, "pull", "push", "ADMIN", "a" * 256, "bob\t"]:
        query = {"repository": "prod-a", name: value}
        response = admin_client.get(f"{API}explain/", query)
        status, fragment = expected_explain(name, value)
        assert response.status_code == status, (query, response.status_code, response.content)
        if fragment:
            assert fragment in response.content.decode(), (query, response.content)
        else:
            assert response.json()["repository"] == query["repository"].strip()


@FUZZ
@given(endpoint=st.sampled_from(sorted(FILTERS)), key=values,
       method=st.sampled_from(["GET", "DELETE", "PATCH", "PUT"]))
def test_detail_requests_with_any_id_are_not_found_or_not_allowed(admin_client, data, endpoint,
                                                                  key, method):
    """No object has such an id (404; an empty id or one with a slash or a dot makes no detail
    URL at all: DRF's routes take ``[^/.]+``); methods an endpoint does not offer are 405 first:
    nothing is updated in place, and only users and hosts can be deleted."""
    before = database_state()
    response = admin_client.generic(method, f"{API}{endpoint}/{quote(key, safe='')}/",
                                    "{}", content_type="application/json")
    not_allowed = method in ("PATCH", "PUT") or (
        method == "DELETE" and endpoint in ("repositories", "pulls"))
    if key == "" or "/" in key or "." in key:  # no detail URL
        not_allowed = False
    assert response.status_code == (405 if not_allowed else 404), (key, response.status_code)
    assert database_state() == before


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.sampled_from(NASTY),
              st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=10,
)


def expected_create(body):
    """(status, message fragment or the login created) of ``POST users/`` with ``body``."""
    if not isinstance(body, dict):
        return 400, "Invalid data"
    if "login" not in body:
        return 400, "This field is required."
    login = body["login"]
    if login is None:
        return 400, "This field may not be null."
    if isinstance(login, bool) or not isinstance(login, (str, int, float)):
        return 400, "Not a valid string."
    login = str(login).strip()  # numbers are taken as their text, as DRF's CharField does
    message = _name_problem(login, "This field may not be blank.",
                            "Ensure this field has no more than 255 characters.")
    if message:
        return 400, message
    if login in ("admin", "bob"):
        return 400, "already exists"
    return 201, login


@FUZZ
@given(body=st.one_of(st.fixed_dictionaries({"login": json_values}), json_values),
       endpoint=st.sampled_from(sorted(FILTERS)))
def test_creating_with_any_body_answers_as_the_rules_say(admin_client, data, body, endpoint):
    before = database_state()
    response = admin_client.post(f"{API}{endpoint}/", json.dumps(body),
                                 content_type="application/json")
    if endpoint != "users":
        assert response.status_code == 405
    else:
        status, detail = expected_create(body)
        assert response.status_code == status, (body, response.status_code, response.content)
        if status == 201:
            assert response.json()["login"] == detail
            ForemanUser.objects.filter(login=detail).delete()
        else:
            assert detail in response.content.decode(), (body, response.content)
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
