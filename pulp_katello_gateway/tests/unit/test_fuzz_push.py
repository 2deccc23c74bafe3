"""Every push endpoint under hostile bodies, as JSON and as Katello's Rack form: property tests.

Each generated body belongs to a class with one known answer:

- Katello's payloads with valid names and flags (and the leniencies Katello relies on: extra
  keys, flags in any case, nil lists): 200, and the stored state is what the push says;
- such a payload with one thing broken in its last entry (a name that cannot be a name, a
  duplicate, a missing key, a flag that is not one, a value of another type): 400 naming that
  problem at its position, and nothing changed;
- bodies that do not hold the endpoint's field at all (other keys, arbitrary JSON, arbitrary
  form fields, raw bytes): 400, and nothing changed.

Whatever is accepted leaves no grant pointing at a row that does not exist (PostgreSQL does not
enforce those foreign keys, ``acl/writes.py`` does).
"""

import json

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from devtools.rack import encode
from pulp_katello_gateway.app.models import (
    ConsumerHost,
    ForemanUser,
    HostRepositoryGrant,
    KatelloRepository,
    UserRepositoryGrant,
)
from pulp_katello_gateway.tests.unit.katello_api import FORM, database_state, push_url

pytestmark = pytest.mark.django_db

PUTS = ["repository_list", "user_repository_mapping", "update_hosts", "host_repository_mapping",
        "update_host_repositories"]
FIELD = {"repository_list": "repositories", "user_repository_mapping": "users",
         "update_hosts": "hosts", "host_repository_mapping": "hosts",
         "update_host_repositories": "hosts"}
FUZZ = settings(max_examples=150)
ENCODINGS = ["json", "form"]


@pytest.fixture
def pushed(katello_world, katello_client):
    """A state a few pushes produced."""
    katello_world({"prod-a": True, "prod-b": True, "lib-pub": False},
                  users={"admin": ["prod-a"], "bob": ["prod-b", "lib-pub"]},
                  hosts={"h-1": ["prod-a", "prod-b", "lib-pub"]})
    return katello_client


def dangling_grants():
    """Grants naming a user, host or repository that is gone."""
    repositories = KatelloRepository.objects.values("pk")
    users = UserRepositoryGrant.objects.exclude(
        foreman_user_id__in=ForemanUser.objects.values("pk"), repository_id__in=repositories)
    hosts = HostRepositoryGrant.objects.exclude(
        host_id__in=ConsumerHost.objects.values("pk"), repository_id__in=repositories)
    return users.count() + hosts.count()


def put(client, endpoint, payload, encoding):
    if encoding == "json":
        body, content_type = json.dumps(payload), "application/json"
    else:
        body, content_type = encode(payload).encode(), FORM
    return client.put(push_url(endpoint), data=body, content_type=content_type)


def _strings(value):
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return [str(value)]


def check_refused(response, before, *fragments):
    """A 400 whose body names the problem (every fragment), and nothing changed."""
    body = response.content.decode("utf-8", "replace")
    assert response.status_code == 400, (response.status_code, body[:300])
    messages = " ".join(_strings(response.json()))
    for fragment in fragments:
        assert fragment in messages, (fragment, messages[:300])
    assert "Traceback" not in body
    assert database_state() == before


# -- valid payloads ----------------------------------------------------------------------------

GOOD_NAMES = ["prod-a", "prod-b", "lib-pub", "日本/🐳", "\u202e", "a[b]", "]", "%", "\\N", "true",
              "nil", "a" * 255, " padded ", "x'; DROP TABLE repositories;--"]
names = st.one_of(
    st.sampled_from(GOOD_NAMES),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cc",)), min_size=1, max_size=12)
    .filter(str.strip),
)
# Principals are hash keys in Katello's form: Rack would read brackets in them as nesting.
principals = st.one_of(st.sampled_from(["admin", "bob", "h-1", "nobody"]),
                       names.filter(lambda name: "[" not in name and "]" not in name))
flags = st.one_of(st.booleans(), st.sampled_from(["true", "false", "TRUE", "False", "tRuE"]))


def as_bool(flag):
    return flag if isinstance(flag, bool) else flag.lower() == "true"


@st.composite
def repository_entries(draw, min_size=0):
    """``[{repository, auth_required}, …]`` with distinct names; sometimes an extra key."""
    chosen = draw(st.lists(names, unique=True, min_size=min_size, max_size=4))
    entries = []
    for name in chosen:
        entry = {"repository": name, "auth_required": draw(flags)}
        if draw(st.booleans()) and draw(st.booleans()):
            entry["extra"] = draw(names)  # ignored, as by the Ruby gateway
        entries.append(entry)
    return entries


@st.composite
def valid_payloads(draw, endpoint):
    field = FIELD[endpoint]
    if endpoint == "repository_list":
        return {field: draw(repository_entries())}
    if endpoint == "update_hosts":
        uuids = draw(st.lists(principals, unique=True, max_size=4))
        return {field: [{"uuid": uuid} for uuid in uuids]}
    keys = draw(st.lists(principals, unique=True, max_size=3))
    mapping = {key: draw(repository_entries()) for key in keys}
    if draw(st.booleans()):  # one hash per principal (JSON) or one for all (as Rack merges them)
        return {field: [{key: entries} for key, entries in mapping.items()]}
    return {field: [mapping] if mapping else []}


def grants_of(model, principal):
    return set(model.objects.values_list(f"{principal}", "repository__name"))


def expected_state(endpoint, payload):
    """What the tables hold after ``payload`` was accepted, from the state before it."""
    repositories = dict(KatelloRepository.objects.values_list("name", "auth_required"))
    logins = set(ForemanUser.objects.values_list("login", flat=True))
    hosts = set(ConsumerHost.objects.values_list("uuid", flat=True))
    users = grants_of(UserRepositoryGrant, "foreman_user__login")
    host_grants = grants_of(HostRepositoryGrant, "host__uuid")
    value = payload[FIELD[endpoint]]
    if endpoint == "repository_list":
        repositories = {e["repository"]: as_bool(e["auth_required"]) for e in value}
        protected = {name for name, flag in repositories.items() if flag}
        users = {(who, name) for who, name in users if name in protected}
        host_grants = {(who, name) for who, name in host_grants if name in protected}
    elif endpoint == "update_hosts":
        hosts = {entry["uuid"] for entry in value}
        host_grants = {(who, name) for who, name in host_grants if who in hosts}
    else:
        mapping = {key: entries for element in value for key, entries in element.items()}
        pushed = {(key, e["repository"]) for key, entries in mapping.items() for e in entries
                  if as_bool(e["auth_required"]) and repositories.get(e["repository"])}
        if endpoint == "user_repository_mapping":
            users = {(who, name) for who, name in pushed if who in logins}
        elif endpoint == "host_repository_mapping":
            host_grants = {(who, name) for who, name in pushed if who in hosts}
        else:  # update_host_repositories: the listed hosts only, created when new
            hosts |= set(mapping)
            host_grants = {(who, name) for who, name in host_grants if who not in mapping}
            host_grants |= pushed
    return repositories, hosts, users, host_grants


def state():
    return (dict(KatelloRepository.objects.values_list("name", "auth_required")),
            set(ConsumerHost.objects.values_list("uuid", flat=True)),
            grants_of(UserRepositoryGrant, "foreman_user__login"),
            grants_of(HostRepositoryGrant, "host__uuid"))


@FUZZ
@given(data=st.data(), endpoint=st.sampled_from(PUTS), encoding=st.sampled_from(ENCODINGS))
def test_valid_pushes_are_stored_as_sent(pushed, data, endpoint, encoding):
    payload = data.draw(valid_payloads(endpoint))
    expected = expected_state(endpoint, payload)
    response = put(pushed, endpoint, payload, encoding)
    assert response.status_code == 200, (payload, response.content[:300])
    assert state() == expected
    assert dangling_grants() == 0


# -- one thing broken --------------------------------------------------------------------------

# (bad value, the problem named, JSON only: the form would carry it as a valid string)
BAD_NAMES = [
    ("", "may not be blank", False), (" \t", "may not be blank", False),
    ("a\x00b", "may not contain control characters", False),
    ("\x7f", "may not contain control characters", False),
    ("tab\there", "may not contain control characters", False),
    ("a" * 256, "may not be longer than 255 characters", False),
    ("a\ud800", "may not contain lone surrogates", True),
    (5, "must be a string", True), (None, "must be a string", True),
    (["x"], "must be a string", True),
]
BAD_FLAGS = [("maybe", False), ("", False), (None, False), ("1", False), (1, True), ([], True)]
BAD_LISTS = [("x", False), (5, True), ({"a": "b"}, False)]


@st.composite
def broken_entries(draw, where, encoding):
    """(entries, fragments): a list of repository entries whose last one is broken, and what
    the answer names: the position (Rack key syntax) and the problem."""
    entries = draw(repository_entries())
    index = len(entries)
    kinds = ["name", "flag", "no flag", "no name"] + (["repeat"] if entries else [])
    if encoding == "json":
        kinds.append("not a hash")
    kind = draw(st.sampled_from(kinds))
    if kind == "name":
        value, problem, _ = draw(st.sampled_from(
            [bad for bad in BAD_NAMES if encoding == "json" or not bad[2]]))
        if value is None and encoding == "form":
            assume(False)
        entries.append({"repository": value, "auth_required": True})
        return entries, [f"{where}[{index}][repository] {problem}."]
    if kind == "flag":
        value, _ = draw(st.sampled_from(
            [bad for bad in BAD_FLAGS if encoding == "json" or not bad[1]]))
        entries.append({"repository": "fresh-name", "auth_required": value})
        return entries, [f"{where}[{index}][auth_required] must be true or false."]
    if kind == "no flag":
        entries.append({"repository": "fresh-name"})
        return entries, [f"{where}[{index}][auth_required] is required."]
    if kind == "no name":
        entries.append({"auth_required": True})
        return entries, [f"{where}[{index}][repository] is required."]
    if kind == "repeat":
        name = entries[0]["repository"]
        entries.append({"repository": name, "auth_required": True})
        return entries, [f"{where}[{index}][repository] repeats {name!r}."]
    entries.append("x")
    return entries, [f"{where}[{index}] must be a hash."]


@st.composite
def broken_payloads(draw, endpoint, encoding):
    """(payload, fragments) with one thing broken, last, where the endpoint checks it."""
    field = FIELD[endpoint]
    shape = draw(st.sampled_from(["list", "entries", "principal"]))
    if shape == "list":
        value, _ = draw(st.sampled_from(
            [bad for bad in BAD_LISTS if encoding == "json" or not bad[1]]))
        return {field: value}, [f"{field} must be a list."]
    if endpoint == "repository_list":
        entries, fragments = draw(broken_entries(field, encoding))
        return {field: entries}, fragments
    if endpoint == "update_hosts":
        uuids = draw(st.lists(principals, unique=True, max_size=3))
        index = len(uuids)
        # Katello's nil or blank uuids are skipped, not refused: only non-blank ones here.
        value, problem, _ = draw(st.sampled_from(
            [bad for bad in BAD_NAMES if bad[0] is not None and (
                not isinstance(bad[0], str) or bad[0].strip())
             and (encoding == "json" or not bad[2])]))
        if shape == "principal" and uuids:
            value, problem = uuids[0], f"repeats {uuids[0]!r}"
        return ({field: [{"uuid": uuid} for uuid in [*uuids, value]]},
                [f"{field}[{index}][uuid] {problem}."])
    keys = draw(st.lists(principals.filter(lambda key: key != "who"), unique=True, max_size=2))
    elements = [{key: draw(repository_entries())} for key in keys]
    index = 0 if encoding == "form" else len(elements)  # Rack merges them into one hash
    if shape == "principal":
        # A key is always a string; blank host keys are skipped like blank uuids.
        bad = [b for b in BAD_NAMES if isinstance(b[0], str) and not b[2]
               and (endpoint == "user_repository_mapping" or b[0].strip())]
        if encoding == "form":  # a NUL or tab survives a form key; keep only those
            bad = [b for b in bad if b[0] and "[" not in b[0]]
        value, problem, _ = draw(st.sampled_from(bad))
        elements.append({value: []})
        return {field: elements}, [f"{field}[{index}] key {value!r} {problem}."]
    entries, fragments = draw(broken_entries(f"{field}[{index}][who]", encoding))
    elements.append({"who": entries})
    return {field: elements}, fragments


@FUZZ
@given(data=st.data(), endpoint=st.sampled_from(PUTS), encoding=st.sampled_from(ENCODINGS))
def test_a_broken_push_is_refused_whole_naming_the_problem(pushed, data, endpoint, encoding):
    payload, fragments = data.draw(broken_payloads(endpoint, encoding))
    before = database_state()
    response = put(pushed, endpoint, payload, encoding)
    check_refused(response, before, *fragments)


# -- no field at all ---------------------------------------------------------------------------

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
    st.text(max_size=20),
)
anything = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=20,
)


@FUZZ
@given(endpoint=st.sampled_from(PUTS), payload=anything)
def test_json_without_the_field_is_refused(pushed, endpoint, payload):
    """Arbitrary JSON (a scalar, a list, an object of other keys), or not quite JSON, is not
    the push."""
    field = FIELD[endpoint]
    assume(not (isinstance(payload, dict) and field in payload))
    before = database_state()
    response = pushed.put(push_url(endpoint), data=json.dumps(payload),
                          content_type="application/json")
    try:
        json.dumps(payload, allow_nan=False)
    except ValueError:  # Python writes Infinity, which is not JSON
        check_refused(response, before, "JSON parse error")
        return
    if isinstance(payload, dict) and payload:
        check_refused(response, before, f"{field} is missing; the body has")
    elif isinstance(payload, dict):
        check_refused(response, before, "This field is required.")
    else:
        check_refused(response, before)


form_keys = st.text(st.sampled_from("repositorisuha[]_ 0129%+&=;\x00\xff"), max_size=30)


@FUZZ
@given(endpoint=st.sampled_from(PUTS),
       pairs=st.lists(st.tuples(form_keys, st.one_of(st.none(), form_keys)), max_size=8),
       raw=st.binary(max_size=60),
       content_type=st.sampled_from([FORM, "application/json", f"{FORM}; charset=latin-1"]))
def test_arbitrary_form_fields_and_bytes_are_refused(pushed, endpoint, pairs, raw, content_type):
    """Bodies that never spell the endpoint's field: not a form Rack accepts, not JSON, or a
    form of other fields. (Drawn from an alphabet that can spell ``users`` or ``hosts``; those
    draws are skipped, their answer depends on the rest.)"""
    body = "&".join(key if value is None else f"{key}={value}" for key, value in pairs)
    field = FIELD[endpoint].encode()
    for data in (body.encode("utf-8", "surrogatepass"), raw):
        if field in data:
            continue
        before = database_state()
        response = pushed.put(push_url(endpoint), data=data, content_type=content_type)
        check_refused(response, before)
        assert set(response.json()) & {"detail", FIELD[endpoint], "non_field_errors"}


@FUZZ
@given(endpoint=st.sampled_from([*PUTS, "users"]),
       method=st.sampled_from(["GET", "POST", "PATCH", "DELETE", "OPTIONS", "HEAD"]),
       body=st.binary(max_size=40))
def test_other_methods_change_nothing(pushed, endpoint, method, body):
    """OPTIONS is answered everywhere, GET (and HEAD) on ``users`` only; anything else is 405."""
    before = database_state()
    response = pushed.generic(method, push_url(endpoint), body, content_type=FORM)
    answered = method == "OPTIONS" or (endpoint == "users" and method in ("GET", "HEAD"))
    assert response.status_code == (200 if answered else 405)
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
