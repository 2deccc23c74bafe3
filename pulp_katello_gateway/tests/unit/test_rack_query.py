"""katello/rack_query.py, the Rack form decoder: Katello's exact bodies, Rack's corner cases,
and a round-trip property.

The property encodes with ``devtools.rack.encode`` (an independent port of RestClient's
encoder) and decodes with ours, so the two ends Katello and the gateway use must agree.
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devtools.rack import encode
from pulp_katello_gateway.app.katello.rack_query import (
    DEPTH_LIMIT,
    FormDecodeError,
    TooManyEntries,
    _Decoder,
    parse_nested_query,
)
from pulp_katello_gateway.app.katello.serializers import (
    HostGrantsSerializer,
    HostListSerializer,
    RepositoryListSerializer,
    UserGrantsSerializer,
)


def parse(body):
    return parse_nested_query(body.encode() if isinstance(body, str) else body)


# Katello's wire examples (reference §2.3) and what Rack makes of them.
def test_repository_list():
    body = (
        "repositories[][repository]=org-prod-busybox&repositories[][auth_required]=true"
        "&repositories[][repository]=id%2F1%2F2%2Fcontainer-push-repo"
        "&repositories[][auth_required]=false"
    )
    assert parse(body) == {
        "repositories": [
            {"repository": "org-prod-busybox", "auth_required": "true"},
            {"repository": "id/1/2/container-push-repo", "auth_required": "false"},
        ]
    }


def test_empty_list_is_a_bare_key_meaning_nil():
    assert parse("repositories") == {"repositories": None}


def test_user_mapping_merges_every_login_into_the_last_hash():
    body = (
        "users[][admin][][repository]=org-prod-busybox&users[][admin][][auth_required]=true"
        "&users[][bob][][repository]=org-prod-web&users[][bob][][auth_required]=true"
        "&users[][carol]"
    )
    assert parse(body) == {
        "users": [
            {
                "admin": [{"repository": "org-prod-busybox", "auth_required": "true"}],
                "bob": [{"repository": "org-prod-web", "auth_required": "true"}],
                "carol": None,
            }
        ]
    }


def test_hosts():
    assert parse("hosts[][uuid]=2f1c&hosts[][uuid]=9a0b") == {
        "hosts": [{"uuid": "2f1c"}, {"uuid": "9a0b"}]
    }


def test_host_mapping():
    body = "hosts[][2f1c][][repository]=org-prod-busybox&hosts[][2f1c][][auth_required]=true"
    assert parse(body) == {
        "hosts": [{"2f1c": [{"repository": "org-prod-busybox", "auth_required": "true"}]}]
    }


# Rack's own rules.
@pytest.mark.parametrize(
    "body, expected",
    [
        ("a=1&a=2", {"a": "2"}),
        ("a[]=1&a[]=2", {"a": ["1", "2"]}),
        ("a[]", {"a": [None]}),
        ("a=", {"a": ""}),
        ("q=a+b%20c%2Bd%40e", {"q": "a b c+d@e"}),
        ("%61%5B%5D=x", {"a": ["x"]}),  # escaped brackets still nest
        ("a[b][c]=1&a[b][d]=2", {"a": {"b": {"c": "1", "d": "2"}}}),
        ("a[][b]=1&a[][c]=2&a[][b]=3", {"a": [{"b": "1", "c": "2"}, {"b": "3"}]}),
        (
            "a[][b][c]=1&a[][b][d]=2&a[][b][c]=3",
            {"a": [{"b": {"c": "1", "d": "2"}}, {"b": {"c": "3"}}]},
        ),
        ("a[][]=1&a[][]=2", {"a": [["1"], ["2"]]}),
        ("a[][b]=1&a[][]=2", {"a": [{"b": "1"}]}),  # a list after a hash entry is dropped
        ("a[=1", {"a[": "1"}),
        ("[a]=1", {"[a]": "1"}),
        ("a]=1", {"a]": "1"}),
        ("a[b]c=1", {"a": {"b": {"c": "1"}}}),  # Rack 3: text after "]" nests once more
        ("=x&&b=1&", {"b": "1"}),
        ("a=%E2%9C%93", {"a": "\u2713"}),
        ("a=\xe2\x9c\x93", {"a": "\u2713"}),
    ],
)
def test_rack_rules(body, expected):
    assert parse(body.encode("latin-1")) == expected


@pytest.mark.parametrize(
    "body, entries",
    [
        (b"a=1&b=2", 1),  # the outermost hash
        (b"a[]=1&a[]=2", 2),
        (b"a[][b]=1&a[][b]=2", 4),
        (b"a[b][c]=1&a[b][d]=2", 3),
        (b"a[][]=1&a[][]=2", 4),
        (b"a[][b]&a[][b]&a[][b]", 5),  # empty hashes cost as much as full ones
    ],
)
def test_entries_are_counted_up_to_the_limit(body, entries):
    assert parse_nested_query(body, max_entries=entries) == parse(body)
    with pytest.raises(TooManyEntries):
        parse_nested_query(body, max_entries=entries - 1)


@pytest.mark.parametrize(
    "body, message",
    [
        (b"a=%zz", "Invalid %-encoding"),
        (b"a=%4", "Invalid %-encoding"),
        (b"a%=1", "Invalid %-encoding"),
        (b"a=%ff", "not UTF-8"),
        (b"a=\xff", "not UTF-8"),
        (b"a[]=1&a[b]=2", "Expected a hash"),
        (b"a[b]=1&a[]=2", "Expected an array"),
        (b"a[b]=1&a[b][c]=2", "Expected a hash"),
        (b"a=1&a[]=2", "Expected an array"),
        (b"a" + b"[b]" * DEPTH_LIMIT + b"=1", "nested too deeply"),
    ],
)
def test_malformed_bodies_are_refused(body, message):
    with pytest.raises(FormDecodeError, match=message):
        parse(body)


def test_just_within_the_depth_limit():
    assert parse(b"a" + b"[b]" * (DEPTH_LIMIT - 1) + b"=1")


def test_many_fields_beyond_djangos_limits():
    """200 000 fields and ~8 MB: Django's QueryDict would stop at 1000 fields / 2.5 MB."""
    body = "&".join(
        f"repositories[][repository]=repo-{i:06d}&repositories[][auth_required]=true"
        for i in range(100_000)
    )
    repositories = parse(body)["repositories"]
    assert len(repositories) == 100_000
    assert repositories[-1] == {"repository": "repo-099999", "auth_required": "true"}


def test_identical_values_share_one_string():
    """Memory at a million pairs depends on it."""
    first, second = parse("a[]=some-repository&a[]=some-repository")["a"]
    assert first is second


# Round trip: RestClient's encoding (devtools.rack) decoded by us gives the logical payload back,
# in the shape Rack produces: an empty list arrives as nil, and logins of a mapping all land in
# one hash.
text = st.text(st.characters(codec="utf-8"), max_size=12)
key = st.text(
    st.characters(codec="utf-8", exclude_characters="[]"), min_size=1, max_size=12
)
flag = st.sampled_from(["true", "false"])
entries = st.lists(st.fixed_dictionaries({"repository": text, "auth_required": flag}), max_size=4)


def _nil_if_empty(items):
    return items or None


repository_lists = entries.map(lambda items: {"repositories": _nil_if_empty(items)})
mappings = st.dictionaries(key, entries.map(_nil_if_empty), max_size=4).map(
    lambda by_login: {"users": [by_login] if by_login else None}
)
host_lists = st.lists(st.fixed_dictionaries({"uuid": text}), max_size=4).map(
    lambda items: {"hosts": _nil_if_empty(items)}
)


@settings(max_examples=300)
@given(st.one_of(repository_lists, mappings, host_lists))
def test_restclient_encoding_round_trips(payload):
    assert parse(encode(payload)) == payload


# Form and JSON are two spellings of one payload: after validation they must agree.
names = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"], exclude_characters="[]"),
    min_size=1,
    max_size=20,
).filter(str.strip)
katello_entries = st.lists(names, unique=True, max_size=5).flatmap(
    lambda repos: st.tuples(*(st.booleans() for _ in repos)).map(
        lambda flags: [
            {"repository": r, "auth_required": f} for r, f in zip(repos, flags, strict=True)
        ]
    )
)
katello_payloads = st.one_of(
    katello_entries.map(lambda items: (RepositoryListSerializer, {"repositories": items})),
    st.dictionaries(names, katello_entries, max_size=4).map(
        lambda by_login: (UserGrantsSerializer, {"users": [{k: v} for k, v in by_login.items()]})
    ),
    st.lists(names, unique=True, max_size=5).map(
        lambda uuids: (HostListSerializer, {"hosts": [{"uuid": u} for u in uuids]})
    ),
    st.dictionaries(names, katello_entries, max_size=4).map(
        lambda by_uuid: (HostGrantsSerializer, {"hosts": [{k: v} for k, v in by_uuid.items()]})
    ),
)


def _validated(serializer_class, data):
    serializer = serializer_class(data=data)
    assert serializer.is_valid(), serializer.errors
    return serializer.validated_data


@settings(max_examples=300)
@given(katello_payloads)
def test_form_and_json_validate_alike(case):
    serializer_class, payload = case
    from_form = _validated(serializer_class, parse(encode(payload)))
    assert from_form == _validated(serializer_class, payload)



# Mapping pushes take a shortcut (one regular expression instead of Rack's rules per field). Any
# sequence of mapping-like fields, however spelt, must decode exactly as the general decoder
# decodes it, refusals and entry counts included.
principal_spellings = st.sampled_from([
    b"admin", b"bob", b"ad%6Din", b"a+b", b"a%20b", b"x%5By", b"x%5Dy", b"%E2%9C%93", b"%ff",
    b"%zz", b"a=b", b"",
])
value_spellings = st.sampled_from([b"repo-1", b"repo-2", b"", b"true", b"false", b"r%2F1",
                                   b"a=b", b"%4"])


@st.composite
def mapping_fields(draw):
    key = draw(st.sampled_from([b"users", b"hosts"]))
    fields = []
    for _ in range(draw(st.integers(0, 8))):
        principal = draw(principal_spellings)
        shape = draw(st.sampled_from(["pair", "pair", "pair", "bare", "repository", "flag",
                                      "empty", "other key"]))
        prefix = key + b"[][" + principal + b"][]"
        if shape == "pair":
            fields += [prefix + b"[repository]=" + draw(value_spellings),
                       prefix + b"[auth_required]=" + draw(value_spellings)]
        elif shape == "bare":
            fields.append(key + b"[][" + principal + b"]")
        elif shape == "repository":
            fields.append(prefix + b"[repository]=" + draw(value_spellings))
        elif shape == "flag":
            fields.append(prefix + b"[auth_required]=" + draw(value_spellings))
        elif shape == "empty":
            fields.append(b"")
        else:
            fields.append(b"repositories[][repository]=" + draw(value_spellings))
    return b"&".join(fields)


def _decoded(decode, body):
    try:
        return "ok", decode(body)
    except (FormDecodeError, TooManyEntries) as exc:
        return type(exc).__name__, None


@settings(max_examples=500)
@given(mapping_fields(), st.one_of(st.none(), st.integers(0, 20)))
def test_mapping_bodies_decode_as_the_general_rules_say(body, max_entries):
    assert _decoded(lambda b: parse_nested_query(b, max_entries), body) == _decoded(
        lambda b: _Decoder(max_entries).decode(b), body)


def test_a_large_mapping_decodes_as_the_general_rules_say():
    """Past the chunk size the shortcut reads the body in pieces, never splitting a pair."""
    body = b"&".join(
        b"users[][user%d%%40example.com][][repository]=org-repo-%d"
        b"&users[][user%d%%40example.com][][auth_required]=%s"
        % (entry // 5000, entry, entry // 5000, b"true" if entry % 7 else b"false")
        for entry in range(60_000)
    ) + b"&users[][nobody%40example.com]"
    decoded = parse(body)
    assert decoded == _Decoder().decode(body)
    assert len(body) > 3 << 20 and len(decoded["users"][0]) == 13


def test_principals_listing_one_repository_share_an_entry_nobody_can_change():
    """The shortcut builds each distinct entry once; sharing is safe only because it is
    read-only, so a change through one principal can never show under another."""
    body = (b"users[][alice][][repository]=web&users[][alice][][auth_required]=true"
            b"&users[][bob][][repository]=web&users[][bob][][auth_required]=true")
    (users,) = parse(body)["users"]
    assert users == _Decoder().decode(body)["users"][0]
    with pytest.raises(TypeError):
        users["alice"][0]["repository"] = "db"
    assert users["bob"] == [{"repository": "web", "auth_required": "true"}]
