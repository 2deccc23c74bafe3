"""The token endpoint under hostile input: property tests through Django's full request path.

Whatever a client sends (scopes with ports, ``::``, hundreds of scopes, unicode, injection
strings, broken Basic headers, odd methods and bodies), the answer is the one the rules below
give for it (``expected_get``, ``expected_post``), never echoes the password, and a refused
request writes nothing but the failed-login counter. Foreman is the Katello stand-in, knowing
alice and jürgen. The cases the fuzzing found are pinned as plain tests at the end.

The rules, in the order the endpoint applies them:

- GET: a Basic header that is not base64 of UTF-8 ``login:secret`` is 401 (other schemes, and
  empty ``:`` credentials, are anonymous); no ``service`` is 400; more than ``MAX_SCOPES``
  scopes are 400; credentials are 401 unless they are a Foreman user's (a login that cannot be
  a name is nobody's); then a token, whatever the scopes say (a scope it cannot grant is left
  out of the token, never refused);
- POST: ``grant_type`` other than ``password`` is 400 ``unsupported_grant_type``; a field that
  is not a UTF-8 string, or no username, is 400 ``invalid_request``; then as GET.
"""

import base64
import json
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devtools.clients import basic_authorization as basic
from pulp_katello_gateway.app.logins.verification import SECRET_MAX_LENGTH
from pulp_katello_gateway.app.names import NAME_MAX_LENGTH
from pulp_katello_gateway.app.registry.token import MAX_RESOURCES, MAX_SCOPES
from pulp_katello_gateway.tests.unit.katello_api import database_state

pytestmark = pytest.mark.django_db

PASSWORD = "alice-password-1"
MARK = "S3cr3t~"  # every fuzzed password starts with it, so a leak is recognisable
FUZZ = settings(max_examples=150)


@pytest.fixture
def foreman(foreman_with):
    return foreman_with(
        {
            "repositories": {
                "kat/a": {"auth_required": True}, "kat/pub": {"auth_required": False},
            },
            "users": {
                "alice": {"password": PASSWORD, "repositories": ["kat/a"]},
                "jürgen": {"password": "pässwörd-€-日本", "repositories": ["kat/a"]},
            },
        },
        KATELLO_GATEWAY_FOREMAN_READ_TIMEOUT=5,
        # Fuzzed logins fail a lot: the throttle (a 429) must not hide the other answers.
        KATELLO_GATEWAY_THROTTLE_ADDRESS_FAILURES=10**6,
        KATELLO_GATEWAY_THROTTLE_LOGIN_FAILURES=10**6,
    )


# -- strategies ------------------------------------------------------------------------------

HOSTILE = [
    "", ":", "::", ":::", "repository", "repository:", "repository::", "repository::pull",
    "repository:kat/a", "repository:kat/a:", "repository:kat/a:pull,push,delete,*",
    "repository:localhost:5000/kat/a:pull", "repository:[::1]:5000/kat/a:pull",
    "repository:kat/a:pull:pull", "registry:catalog:*", "registry:catalog:pull",
    "repository(plugin):kat/a:pull", "repository:kat/%:pull", "repository:kat/_:pull",
    "repository:kat/a';DROP TABLE katello_gateway_katellorepository;--:pull",
    "repository:${jndi:ldap://x/a}:pull", "repository:../../etc/passwd:pull",
    "repository:kat/a\x00:pull", "repository:kat/ä/日本/🐳:pull", "repository:\u202ekat/a:pull",
    "repository:" + "a" * 5000 + ":pull",
]
text = st.text(st.characters(codec="utf-8"), max_size=40)
names = st.one_of(st.sampled_from(["kat/a", "kat/pub", "kat/none", "localhost:5000/kat/a"]),
                  text)
actions = st.lists(st.sampled_from(["pull", "push", "delete", "*", "", "PULL"]), max_size=3)
scopes = st.one_of(
    st.sampled_from(HOSTILE),
    st.builds(lambda t, n, a: f"{t}:{n}:{','.join(a)}",
              st.sampled_from(["repository", "registry", "", "x"]), names, actions),
    text,
)
scope_lists = st.one_of(st.lists(scopes, max_size=5),
                        st.integers(MAX_SCOPES - 1, MAX_SCOPES + 2).map(
                            lambda n: ["repository:kat/pub:pull"] * n))
logins = st.one_of(st.sampled_from(["alice", "jürgen", "admin", "", " ", "a:b", "a" * 300]),
                   text)
passwords = st.one_of(st.just(PASSWORD), text.map(lambda t: MARK + t))
latin1 = st.text(st.characters(codec="latin-1"), max_size=60)


# Each Authorization header comes with what it says by the Basic scheme, worked out from how it
# was made, never by decoding it: None (anonymous: no header, or another scheme; RFC 7235's
# scheme names are case-insensitive), MALFORMED, or (user-id, password). RFC 7617: user-pass is
# user-id ":" password, a user-id holds no colon, and clients send it in UTF-8.
def _typed(login, password):
    """What podman sends for ``login`` and ``password``."""
    user_id, colon, rest = login.partition(":")
    said = (user_id, f"{rest}:{password}") if colon else (login, password)
    return basic(login, password), said if any(said) else None


def _raw(user_pass):
    """Any bytes as user-pass: without UTF-8 or without a colon there are no credentials."""
    header = "Basic " + base64.b64encode(user_pass).decode()
    if b":" not in user_pass:
        return header, MALFORMED
    try:
        user_id, _, password = user_pass.decode("utf-8").partition(":")
    except UnicodeDecodeError:
        return header, MALFORMED
    return header, (user_id, password) if user_id or password else None


authorizations = st.one_of(
    st.just((None, None)),
    st.builds(_typed, logins, passwords),
    st.binary(max_size=40).map(_raw),
    # "!" is not base64: whatever else the value holds, it is not a credential.
    latin1.map(lambda value: ("Basic " + value + "!", MALFORMED)),
    latin1.map(lambda value: ("Bearer " + value, None)),
    latin1.filter(lambda value: value.partition(" ")[0].lower() != "basic").map(
        lambda value: (value, None)),
)


def _fuzzed_secret(said):
    """The fuzzed password among the credentials a header says, when there is one to look
    for in answers."""
    secret = said[1] if isinstance(said, tuple) else ""
    return secret if secret.startswith(MARK) and len(secret) > len(MARK) + 3 else None


MALFORMED = "Malformed Basic credentials."
USERS = {"alice": PASSWORD, "jürgen": "pässwörd-€-日本"}
INVALID = "Invalid username/password."
NO_SERVICE = "No service name provided."
TOO_MANY = "Too many scopes"


def _can_be_a_login(login):
    return bool(login.strip()) and len(login) <= NAME_MAX_LENGTH and not any(
        ord(char) < 0x20 or char == "\x7f" for char in login)


def expected_login(login, secret):
    """200 for a Foreman user's credentials (logins match in any case, as Foreman's), else
    401."""
    known = next((name for name in USERS if name.lower() == login.lower()), None)
    if _can_be_a_login(login) and known and USERS[known] == secret:
        return 200, "token"
    return 401, INVALID


def expected_get(credentials, service, scopes):
    """(status, what the body says) of ``GET /token/`` with a header that says
    ``credentials``."""
    if credentials == MALFORMED:
        return 401, MALFORMED
    if not service:
        return 400, NO_SERVICE
    if len(scopes) > MAX_SCOPES:
        return 400, TOO_MANY
    if credentials is None:
        return 200, "token"
    return expected_login(*credentials)


def _utf8_text(value):
    return isinstance(value, str) and not any(0xD800 <= ord(char) <= 0xDFFF for char in value)


def expected_post(data):
    """(status, what the body says) of ``POST /token/`` with fields ``data``."""
    if data.get("grant_type") != "password":
        return 400, "unsupported_grant_type"
    fields = {key: data.get(key, "") for key in ("username", "password", "scope", "service")}
    if not all(_utf8_text(value) for value in fields.values()) or not fields["username"]:
        return 400, "invalid_request"
    if not fields["service"]:
        return 400, NO_SERVICE
    if len(fields["scope"].split()) > MAX_SCOPES:
        return 400, TOO_MANY
    return expected_login(fields["username"], fields["password"])


def check(response, before, expected, secret=None):
    status, says = expected
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert says in response.content.decode(), response.content[:300]
    if secret is not None:
        assert secret.encode() not in response.content
    if response.status_code >= 400:
        assert database_state() == before


# -- properties ------------------------------------------------------------------------------


@FUZZ
@given(service=st.one_of(st.none(), text), scopes=scope_lists, account=st.one_of(st.none(), text),
       authorization=authorizations)
def test_token_get_never_fails_and_refusals_write_nothing(
    client, foreman, service, scopes, account, authorization
):
    authorization, said = authorization
    query = [("scope", scope) for scope in scopes]
    if service is not None:
        query.append(("service", service))
    if account is not None:
        query.append(("account", account))
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization is not None else {}
    before = database_state()
    response = client.get("/token/?" + urlencode(query), **headers)
    expected = expected_get(said, service, scopes)
    check(response, before, expected, _fuzzed_secret(said))


fields = st.one_of(text, st.none(), st.integers(), st.booleans(), st.lists(text, max_size=2),
                   st.dictionaries(text, text, max_size=2))


@FUZZ
@given(
    grant_type=st.one_of(st.just("password"), fields),
    username=st.one_of(logins, fields),
    password=st.one_of(passwords, fields),
    scope=st.one_of(scope_lists.map(" ".join), fields),
    service=st.one_of(st.just("registry.example.com"), fields),
    encoding=st.sampled_from(["form", "json", "json-with-surrogates"]),
)
def test_token_post_never_fails_and_refusals_write_nothing(
    client, foreman, grant_type, username, password, scope, service, encoding
):
    data = {"grant_type": grant_type, "username": username, "password": password,
            "scope": scope, "service": service}
    data = {key: value for key, value in data.items() if value is not None}
    if encoding == "form":  # a form carries strings only
        data = {k: v for k, v in data.items() if isinstance(v, str)}
        response_of = lambda: client.post(  # noqa: E731
            "/token/", urlencode(data), content_type="application/x-www-form-urlencoded")
    else:
        if encoding == "json-with-surrogates":  # JSON may carry lone surrogates, UTF-8 cannot
            data = {key: f"{value}\ud800" if isinstance(value, str) and key != "grant_type"
                    else value for key, value in data.items()}
        body = json.dumps(data)
        response_of = lambda: client.post(  # noqa: E731
            "/token/", body, content_type="application/json")
    expected = expected_post(data)
    before = database_state()
    response = response_of()
    secret = password if isinstance(password, str) and password.startswith(MARK) and len(
        password) > len(MARK) + 3 else None
    check(response, before, expected, secret)


@FUZZ
@given(method=st.sampled_from(["put", "patch", "delete", "options", "head", "trace"]),
       body=st.binary(max_size=200),
       content_type=st.sampled_from(["application/json", "application/x-www-form-urlencoded",
                                     "multipart/form-data; boundary=x", "text/plain", "",
                                     "application/json; charset=utf-16"]))
def test_other_methods_and_bodies_are_client_errors(client, foreman, method, body, content_type):
    """OPTIONS is answered, HEAD is an anonymous GET (the body is not read); others are 405."""
    before = database_state()
    response = client.generic(method.upper(), "/token/?service=x", body,
                              content_type=content_type)
    if method in ("options", "head"):
        assert response.status_code == 200
    else:
        check(response, before, (405, "not allowed"))


@FUZZ
@given(body=st.binary(max_size=300),
       content_type=st.sampled_from(["application/json", "application/x-www-form-urlencoded",
                                     "multipart/form-data; boundary=x", "text/plain"]))
def test_post_of_arbitrary_bytes_is_a_client_error(client, foreman, body, content_type):
    """No parser for a text/plain body (415); anything else, an empty body too (not parsed at
    all), is not a password grant (400)."""
    before = database_state()
    response = client.post("/token/", body, content_type=content_type)
    if content_type == "text/plain" and body:
        check(response, before, (415, "Unsupported media type"))
    else:
        assert response.status_code == 400, response.content[:300]
        assert database_state() == before


# -- what the fuzzing found, pinned ------------------------------------------------------------


@pytest.mark.parametrize("login, password", [("jürgen", "pässwörd-€-日本")])
def test_non_ascii_credentials_reach_foreman_as_utf8(client, foreman, login, password):
    """requests encoded them as Latin-1: a wrong password for ä, a 500 for € or 日本."""
    query = {"service": "r", "account": login, "scope": "repository:kat/a:pull"}
    response = client.get("/token/", query, HTTP_AUTHORIZATION=basic(login, password))
    assert response.status_code == 200
    assert response.json()["token"]
    post = client.post("/token/", {"grant_type": "password", "username": login,
                                   "password": password, "service": "r"})
    assert post.status_code == 200


@pytest.mark.parametrize("authorization", [
    "Basic ÿþ",  # gunicorn hands over non-ASCII header bytes as Latin-1 text
    "Basic \u00e9\u00e9\u00e9\u00e9",
    "Basic " + base64.b64encode(b"\xff\xfe:secret").decode(),
])
def test_non_ascii_or_non_utf8_basic_headers_are_401(client, foreman, authorization):
    response = client.get("/token/", {"service": "r"}, HTTP_AUTHORIZATION=authorization)
    assert response.status_code == 401
    assert response.json() == {"detail": "Malformed Basic credentials."}


def test_non_ascii_wrong_secret_of_a_user_with_a_token_is_401(client, foreman):
    """Found by fuzzing, in the Katello stand-in: it crashed comparing such a secret with the
    user's personal access tokens (the client got a 503)."""
    query = {"service": "r", "account": "alice"}
    assert client.get("/token/", query, HTTP_AUTHORIZATION=basic("alice", PASSWORD)).status_code \
        == 200  # alice now has a registry token in Foreman
    response = client.get("/token/", query, HTTP_AUTHORIZATION=basic("alice", "\x03M4´"))
    assert response.status_code == 401


def test_overlong_secret_is_401_without_asking_foreman(client, foreman):
    foreman.reset_counters()
    for size in (SECRET_MAX_LENGTH + 1, 100_000):
        response = client.post("/token/", {"grant_type": "password", "username": "alice",
                                           "password": "x" * size, "service": "r"})
        assert response.status_code == 401
        assert response.json() == {"detail": "Invalid username/password."}
    assert foreman.request_count() == 0


@pytest.mark.parametrize("field", ["username", "password", "scope"])
def test_lone_surrogates_in_json_are_400(client, foreman, field):
    data = {"grant_type": "password", "username": "alice", "password": PASSWORD,
            "scope": "repository:kat/a:pull", "service": "r"}
    body = json.dumps(data).replace(f'"{field}": "', f'"{field}": "\\ud800', 1)
    response = client.post("/token/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_json_nested_too_deeply_is_400(client, foreman):
    response = client.post("/token/", "[" * 100_000, content_type="application/json")
    assert response.status_code == 400


def test_too_many_scopes_are_refused_before_anything_else(client, foreman):
    foreman.reset_counters()
    scopes = [f"repository:kat/x{index}:pull" for index in range(MAX_SCOPES + 1)]
    response = client.get("/token/", {"service": "r", "scope": scopes},
                          HTTP_AUTHORIZATION=basic("alice", PASSWORD))
    assert response.status_code == 400
    assert "Too many scopes" in response.json()["detail"]
    post = client.post("/token/", {"grant_type": "password", "username": "alice",
                                   "password": PASSWORD, "service": "r",
                                   "scope": " ".join(scopes)})
    assert post.status_code == 400
    assert foreman.request_count() == 0
    repeated = ["repository:kat/x0:pull"] * MAX_SCOPES  # one repository, decided once
    assert client.get("/token/", {"service": "r", "scope": repeated}).status_code == 200


def test_too_many_repositories_are_refused_before_anything_else(client, foreman):
    """Each distinct repository is one decision (for a local user, pulp_container's permission
    checks): a token names at most MAX_RESOURCES of them, however the scopes spell them."""
    foreman.reset_counters()
    scopes = [f"repository:kat/x{index}:pull" for index in range(MAX_RESOURCES)]
    scopes += [f"repository:kat/x{index}:push" for index in range(MAX_RESOURCES)]
    assert client.get("/token/", {"service": "r", "scope": scopes}).status_code == 200
    response = client.get("/token/", {"service": "r", "scope": [*scopes, "repository:kat/y:pull"]},
                          HTTP_AUTHORIZATION=basic("alice", PASSWORD))
    assert response.status_code == 400
    assert "Too many repositories" in response.json()["detail"]
    assert foreman.request_count() == 0
