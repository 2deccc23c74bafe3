"""Every push endpoint under hostile bodies, as JSON and as Katello's Rack form: property tests.

Bodies are Katello's payloads with one thing broken (a value of another type, a missing or extra
key, a duplicate, a control character, an enormous name), arbitrary JSON, arbitrary form keys
and raw bytes. Whatever arrives: never a 5xx; a refused body (4xx) changes nothing at all; an
accepted one leaves no grant pointing at a row that does not exist (PostgreSQL does not enforce
those foreign keys, ``writes.py`` does).
"""

import json

import pytest
from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st

from devtools.rack import encode
from pulp_katello_gateway.app.models import ForemanUser

from .conftest import FORM, database_state, push_url, put_json

pytestmark = pytest.mark.django_db

PUTS = ["repository_list", "user_repository_mapping", "update_hosts", "host_repository_mapping",
        "update_host_repositories"]
FUZZ = settings(max_examples=150)


@pytest.fixture
def pushed(katello_client):
    """A state a few pushes produced."""
    for login in ("admin", "bob"):
        ForemanUser.objects.create_for_login(login)
    repos = [{"repository": name, "auth_required": name != "lib-pub"}
             for name in ("prod-a", "prod-b", "lib-pub")]
    assert put_json(katello_client, "repository_list", {"repositories": repos}).status_code == 200
    assert put_json(katello_client, "user_repository_mapping", {"users": [
        {"admin": repos[:1]}, {"bob": repos[1:]}]}).status_code == 200
    assert put_json(katello_client, "update_hosts", {"hosts": [{"uuid": "h-1"}]}).status_code == 200
    assert put_json(katello_client, "host_repository_mapping",
                    {"hosts": [{"h-1": repos}]}).status_code == 200
    return katello_client


def dangling_grants():
    """Grants naming a user, host or repository that is gone."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM katello_gateway_userrepositorygrant g WHERE NOT EXISTS"
            " (SELECT FROM katello_gateway_foremanuser u WHERE u.pulp_id = g.foreman_user_id)"
            " OR NOT EXISTS (SELECT FROM katello_gateway_katellorepository r"
            " WHERE r.pulp_id = g.repository_id)"
        )
        users = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM katello_gateway_hostrepositorygrant g WHERE NOT EXISTS"
            " (SELECT FROM katello_gateway_consumerhost h WHERE h.pulp_id = g.host_id)"
            " OR NOT EXISTS (SELECT FROM katello_gateway_katellorepository r"
            " WHERE r.pulp_id = g.repository_id)"
        )
        return users + cursor.fetchone()[0]


def check(response, before):
    assert response.status_code in (200, 400, 413, 415), (
        response.status_code, response.content[:300])
    if response.status_code != 200:
        assert database_state() == before
        assert "Traceback" not in response.content.decode("utf-8", "replace")
    assert dangling_grants() == 0


# -- strategies ------------------------------------------------------------------------------

NASTY = ["", " ", "\x00", "a\x00b", "\t", "\x7f", "a" * 256, "a" * 255, "prod-a", "lib-pub",
         "admin", "h-1", "日本/🐳", "\u202e", "x'; DROP TABLE katello_gateway_katellorepository;--",
         "a[b]", "]", "[", "%", "\\", "\\N", "\t\n\r", "\ud7ff", "true", "nil", "a\ud800",
         "\udfff"]  # lone surrogates: JSON carries them, UTF-8 (and PostgreSQL) cannot
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
    st.sampled_from(NASTY), st.text(max_size=20),
    st.sampled_from(["true", "false", "TRUE", "False", "yes", "1"]),
)
anything = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.one_of(st.sampled_from(NASTY), st.text(max_size=8)),
                                            inner, max_size=4)),
    max_leaves=20,
)
names = st.one_of(st.sampled_from(NASTY), st.text(max_size=12))
flags = st.one_of(st.booleans(), st.sampled_from(["true", "false", "TRUE", "maybe", "", None]),
                  anything)


def entry():
    """A ``{repository, auth_required}`` entry, sometimes broken."""
    return st.one_of(
        st.fixed_dictionaries({"repository": names, "auth_required": flags}),
        st.fixed_dictionaries({"repository": names}),
        st.fixed_dictionaries({"auth_required": flags}),
        st.fixed_dictionaries({"repository": names, "auth_required": flags,
                               "extra": anything}),
        anything,
    )


entries = st.one_of(st.lists(entry(), max_size=4), st.none(), anything)
principals = st.one_of(st.sampled_from(["admin", "bob", "h-1", "nobody"]), names)
payloads = {
    "repository_list": st.fixed_dictionaries({"repositories": entries}),
    "user_repository_mapping": st.fixed_dictionaries(
        {"users": st.one_of(st.lists(st.dictionaries(principals, entries, max_size=3),
                                     max_size=3), anything)}),
    "update_hosts": st.fixed_dictionaries(
        {"hosts": st.one_of(st.lists(st.one_of(st.fixed_dictionaries({"uuid": names}), anything),
                                     max_size=4), anything)}),
    "host_repository_mapping": st.fixed_dictionaries(
        {"hosts": st.one_of(st.lists(st.dictionaries(principals, entries, max_size=3),
                                     max_size=3), anything)}),
}
payloads["update_host_repositories"] = payloads["host_repository_mapping"]
bodies = st.one_of(
    st.sampled_from(PUTS).flatmap(lambda endpoint: st.tuples(st.just(endpoint),
                                                             payloads[endpoint])),
    st.tuples(st.sampled_from(PUTS), anything),
    st.tuples(st.sampled_from(PUTS), st.dictionaries(st.sampled_from(
        ["repositories", "users", "hosts", "other"]), anything, min_size=1, max_size=2)),
)


def form_body(payload):
    """Katello's encoding of ``payload`` when RestClient can encode it, else raw form pairs."""
    try:
        return encode(payload).encode()
    except (TypeError, AttributeError, UnicodeEncodeError):
        return json.dumps(payload).encode()  # not a form at all


# -- properties ------------------------------------------------------------------------------


@FUZZ
@given(case=bodies)
def test_json_pushes_never_fail_and_refusals_change_nothing(pushed, case):
    endpoint, payload = case
    before = database_state()
    try:
        body = json.dumps(payload)
    except ValueError:
        return
    response = pushed.put(push_url(endpoint), data=body, content_type="application/json")
    check(response, before)


@FUZZ
@given(case=bodies)
def test_form_pushes_never_fail_and_refusals_change_nothing(pushed, case):
    endpoint, payload = case
    before = database_state()
    response = pushed.put(push_url(endpoint), data=form_body(payload), content_type=FORM)
    check(response, before)


form_keys = st.text(st.sampled_from("repositorisuha[]_ 0129%+&=;\x00\xff"), max_size=30)


@FUZZ
@given(endpoint=st.sampled_from(PUTS),
       pairs=st.lists(st.tuples(form_keys, st.one_of(st.none(), form_keys)), max_size=8),
       raw=st.binary(max_size=60),
       content_type=st.sampled_from([FORM, "application/json", f"{FORM}; charset=latin-1"]))
def test_arbitrary_form_fields_and_bytes_never_fail(pushed, endpoint, pairs, raw, content_type):
    body = "&".join(key if value is None else f"{key}={value}" for key, value in pairs)
    for data in (body.encode("utf-8", "surrogatepass"), raw):
        before = database_state()
        response = pushed.put(push_url(endpoint), data=data, content_type=content_type)
        check(response, before)


@FUZZ
@given(endpoint=st.sampled_from([*PUTS, "users"]),
       method=st.sampled_from(["GET", "POST", "PATCH", "DELETE", "OPTIONS", "HEAD"]),
       body=st.binary(max_size=40))
def test_other_methods_change_nothing(pushed, endpoint, method, body):
    before = database_state()
    response = pushed.generic(method, push_url(endpoint), body, content_type=FORM)
    assert response.status_code < 500
    if endpoint != "users" or method not in ("GET", "HEAD", "OPTIONS"):
        assert response.status_code == (200 if method == "OPTIONS" else 405)
    assert database_state() == before


# -- what the fuzzing found, pinned ------------------------------------------------------------


@pytest.mark.parametrize("endpoint, body", [
    ("repository_list", '{"repositories": [{"repository": "a\\ud800", "auth_required": true}]}'),
    ("update_hosts", '{"hosts": [{"uuid": "\\udfff"}]}'),
    ("update_host_repositories", '{"hosts": [{"h\\ud800": []}]}'),
    ("user_repository_mapping", '{"users": [{"admin": [{"repository": "\\ud800",'
                                ' "auth_required": true}]}]}'),
])
def test_lone_surrogates_are_refused_whole(pushed, endpoint, body):
    """JSON can carry them, PostgreSQL cannot store them: they were a 500 mid-write."""
    before = database_state()
    response = pushed.put(push_url(endpoint), data=body, content_type="application/json")
    assert response.status_code == 400
    assert "may not contain lone surrogates" in response.content.decode()
    assert database_state() == before
