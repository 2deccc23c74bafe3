"""Hostile requests against the real stack (nginx as install.md sets it up, gunicorn, Django, the
plugin, PostgreSQL).

Raw HTTP over TLS, so that what no well-behaved client library would send (non-ASCII header
bytes, lying Content-Length, broken escapes) arrives as sent. Every answer must be below 500,
and after every refusal (4xx) the gateway's tables must be exactly as before: no partial write.
The property tests in ``tests/unit/test_fuzz_*.py`` cover the same endpoints in depth, in
process; here a bounded number of generated requests goes through the real server too.
"""

import http.client
import json
import re
import socket
import ssl
import uuid
from collections import Counter
from urllib.parse import quote, urlencode

import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from devtools.clients import NATIVE_API_PATH, Skopeo
from devtools.clients import basic_authorization as basic
from devtools.rack import encode
from pulp_katello_gateway.app import settings as defaults
from pulp_katello_gateway.app.logins.verification import SECRET_MAX_LENGTH
from pulp_katello_gateway.app.names import name_problem
from pulp_katello_gateway.app.registry.token import MAX_SCOPES
from pulp_katello_gateway.tests.database import snapshot
from pulp_katello_gateway.tests.functional.gateway_http import PUSH_PATH as PUSH

NATIVE = NATIVE_API_PATH
FORM = "application/x-www-form-urlencoded"
SURROGATE = re.compile("[\ud800-\udfff]")
REAL_HTTP = settings(max_examples=25)

class Raw:
    """One request per connection, bytes as given. A server may answer a request over its limits
    before reading all of it and close the connection: the answer is then read (as curl does)
    instead of failing on a write that raced with that close."""

    def __init__(self, pulp, secrets):
        self.pulp = pulp
        self.secrets = secrets
        self.context = ssl.create_default_context(cafile=str(pulp.ca_file))
        self.admin = basic(*pulp.admin_auth)

    def __call__(self, method, path, headers=(), body=b"", declared_length=None,
                 as_the_web_server=False):
        """``as_the_web_server``: straight to pulpcore-api's socket, as the web server passes
        on what it lets through (nginx buffers a body whole before it passes it on)."""
        head = [f"{method} {path} HTTP/1.1".encode("ascii"),
                f"Host: 127.0.0.1:{self.pulp.api_port}".encode(), b"Connection: close"]
        for name, value in dict(headers).items():  # str values as http.client sends them
            value = value if isinstance(value, bytes) else value.encode("latin-1")
            head.append(name.encode() + b": " + value)
        if body or declared_length is not None:
            head.append(b"Content-Length: %d" % (declared_length or len(body)))
        with self._connect(as_the_web_server) as connection:
            try:
                connection.sendall(b"\r\n".join(head) + b"\r\n\r\n" + body)
            except OSError:  # closed by the server right after it answered: the answer waits
                pass
            response = http.client.HTTPResponse(connection, method=method)
            response.begin()
            content = response.read()
        if response.status >= 400:
            self.secrets.error_bodies.append((f"{method} {path[:80]} -> {response.status}",
                                              content))
        return response.status, content

    def _connect(self, to_the_socket):
        if to_the_socket:
            connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            connection.settimeout(120)
            connection.connect(str(self.pulp.api_socket))
            return connection
        plain = socket.create_connection(("127.0.0.1", self.pulp.api_port), timeout=120)
        return self.context.wrap_socket(plain, server_hostname="127.0.0.1")


@pytest.fixture(scope="module")
def raw(pulp, secret_registry):
    return Raw(pulp, secret_registry)


@pytest.fixture
def unchanged(pulp_db):
    """Call with an answer: a refusal must have left every table as it was before the test."""
    before = snapshot(pulp_db)

    def check(status, content=b""):
        assert status < 500, content[:300]
        if status >= 400:
            assert snapshot(pulp_db) == before, f"a {status} changed the database"

    return check


# -- the token endpoint ----------------------------------------------------------------------


def test_hostile_token_requests(raw, unchanged, new_user, gateway_world):
    user = new_user()
    granted = gateway_world.repos["granted"]
    scope = quote(f"repository:{granted}:pull", safe="")
    cases = [
        # (request, expected status)
        # The web server's limits come first (nginx: request line and headers within its
        # buffers, a body within client_max_body_size, 1 MB on /token/).
        (("GET", "/token/?service=x&" + "&".join([f"scope={scope}"] * 1200)), 414),
        (("GET", "/token/?service=x&" + "&".join(["scope=repository:a:pull"] * (MAX_SCOPES + 1))),
         400),
        (("GET", "/token/?service=x&scope=%ff%fe&scope=%00&scope=%c3%28"), 200),
        (("GET", "/token/?service=%ff%00&scope=repository:127.0.0.1:5000/" + scope), 200),
        (("GET", "/token/?scope=" + scope), 400),  # no service
        (("GET", "/token/?service=x", {"Authorization": b"Basic \xff\xfe"}), 401),
        (("GET", "/token/?service=x", {"Authorization": "Basic %%%"}), 401),
        (("GET", "/token/?service=x", {"Authorization": basic(b"\xff", b"\xfe")}), 401),
        (("GET", "/token/?service=x", {"Authorization": "Basic " + "QUFB" * 2500}), 400),
        (("GET", "/token/?service=x",
          {"Authorization": basic(user["login"], "s" * (SECRET_MAX_LENGTH + 1))}), 401),
        (("GET", "/token/?service=x", {"Authorization": basic("日本-" + user["login"], "€")}), 401),
        (("GET", "/token/?service=x", {"Authorization": basic("a\x00b", "x")}), 401),
        (("GET", "/token/?service=x", {"Authorization": "Bearer " + "x" * 5000}), 200),
        (("GET", "/token/?service=x", {"X-Forwarded-For": "1.2.3.4, \x00"}), 400),
        (("GET", "/token/?service=x", {"X-RHSM-SSL-Client-Cert": "-----BEGIN%%%"}), 200),
        (("PUT", "/token/?service=x"), 405),
        (("DELETE", "/token/?service=x"), 405),
        (("PATCH", "/token/?service=x"), 405),
        (("POST", "/token/", {"Content-Type": FORM},
          b"grant_type=password&username=%ff&password=x&service=y"), 401),
        (("POST", "/token/", {"Content-Type": FORM},
          b"grant_type=password&username=a&service=y&password=" + b"x" * 3_000_000), 413),
        (("POST", "/token/", {"Content-Type": FORM},
          b"grant_type=password&username=a&service=y&password=" + b"x" * 100_000), 401),
        (("POST", "/token/", {"Content-Type": FORM},
          ("grant_type=password&service=y&username=" + quote(user["login"]) + "&password="
           + quote(user["password"]) + "&scope=" + "+".join([scope] * (MAX_SCOPES + 1))
           ).encode()), 400),
        (("POST", "/token/", {"Content-Type": "application/json"},
          b'{"grant_type": "password", "username": "\\ud800", "password": "x", "service": "y"}'),
         400),
        (("POST", "/token/", {"Content-Type": "application/json"},
          b'{"grant_type": "password", "username": {"a": 1}}'), 400),
        (("POST", "/token/", {"Content-Type": "application/json"}, b"[" * 100_000), 400),
        (("POST", "/token/", {"Content-Type": "multipart/form-data; boundary=zz"},
          b"--zz\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\npassword\r\n"
          b"--zz--"), 400),
        (("POST", "/token/", {"Content-Type": "application/xml"}, b"<x/>"), 415),
    ]
    answers = []
    for request, expected in cases:
        status, content = raw(*request)
        unchanged(status, content)
        answers.append((request[0], request[1][:70], status, expected))
    assert [a for a in answers if a[2] != a[3]] == []


def test_non_ascii_password_logs_in_with_real_clients(
    katello, gateway, pulp, gateway_world, secret_registry, tmp_path
):
    """A Foreman password beyond ASCII reaches Foreman as the client sent it (UTF-8)."""
    user = gateway_world.new_user(tag="jürgen", password=f"pässwörd-€-日本-{uuid.uuid4().hex[:8]}")
    login, password = user["auth"]
    token, manifest = gateway.pull(gateway_world.repos["granted"], (login, password))
    assert (token.status_code, manifest.status_code) == (200, 200)
    target = tmp_path / "pulled"
    Skopeo(pulp.certs_dir, tmp_path).copy(
        f"docker://{pulp.registry}/{gateway_world.repos['granted']}:latest",
        f"oci:{target}:latest", src_creds=(login, password),
    )
    assert gateway_world.digest in (target / "index.json").read_text()


# -- the push API ----------------------------------------------------------------------------


def test_hostile_pushes_are_refused_whole(raw, unchanged, gateway_world):
    repos = gateway_world.repos
    admin = {"Authorization": raw.admin}
    # Valid entries that would change the world (open the protected repository) come first,
    # the broken one last: a partial write would be visible.
    opened = [{"repository": repos["granted"], "auth_required": False}]
    cases = [
        ("repository_list", FORM, encode({"repositories": [
            *opened, {"repository": "", "auth_required": True}]}).encode(), 400),
        ("repository_list", FORM, b"repositories[][repository]=%ff&"
                                  b"repositories[][auth_required]=true", 400),
        ("repository_list", FORM, b"repositories[][repository]=a&repositories[][repository][x]=1",
         400),
        ("repository_list", "application/json", json.dumps({"repositories": [
            *opened, {"repository": "a\x00", "auth_required": True}]}).encode(), 400),
        ("repository_list", "application/json", json.dumps({"repositories": [
            *opened, *opened]}).encode(), 400),
        ("repository_list", "application/json", json.dumps({"repositories": [
            *opened, {"repository": "x" * 256, "auth_required": True}]}).encode(), 400),
        ("repository_list", "application/json; charset=latin-1", b'{"repositories": [', 400),
        ("repository_list", "application/json", b"\xff\xfe{\x00", 400),
        ("repository_list", "application/json", b'{"repositories": NaN}', 400),
        ("repository_list", FORM, b"%zz=1" + b"&a=b" * 1_000_000, 400),
        ("repository_list", "text/plain", b"repositories", 415),
        ("user_repository_mapping", "application/json", json.dumps({"users": [
            {"nobody-" + uuid.uuid4().hex: opened},
            {"someone": [{"repository": repos["granted"], "auth_required": "maybe"}]},
        ]}).encode(), 400),
        ("update_hosts", "application/json", json.dumps({"hosts": [
            {"uuid": "fresh-" + uuid.uuid4().hex}, {"uuid": ["not", "a", "string"]}]}).encode(),
         400),
        ("update_hosts", FORM, b"hosts[][uuid]=a&hosts[][uuid]=a", 400),
        ("host_repository_mapping", "application/json", json.dumps({"hosts": [
            {gateway_world.hosts["host"]: []}, {"x": "not a list"}]}).encode(), 400),
        ("update_host_repositories", "application/json", json.dumps({"hosts": [
            {"new-" + uuid.uuid4().hex: opened}, {"\t": opened}, {"y": [1]}]}).encode(), 400),
    ]
    answers = []
    for endpoint, content_type, body, expected in cases:
        status, content = raw("PUT", f"{PUSH}{endpoint}/",
                              {**admin, "Content-Type": content_type}, body)
        unchanged(status, content)
        answers.append((endpoint, body[:50], status, expected))
    # A body announced as larger than KATELLO_GATEWAY_PUSH_MAX_BYTES is refused unread.
    status, content = raw("PUT", f"{PUSH}repository_list/", {**admin, "Content-Type": FORM},
                          b"repositories", declared_length=300 * 1024 * 1024,
                          as_the_web_server=True)
    unchanged(status, content)
    answers.append(("repository_list", b"<300 MiB announced>", status, 413))
    for method in ("POST", "PATCH", "DELETE"):
        status, content = raw(method, f"{PUSH}repository_list/", admin)
        unchanged(status, content)
        answers.append((method, b"", status, 405))
    status, content = raw("PUT", f"{PUSH}repository_list/", {"Content-Type": FORM},
                          b"repositories")
    unchanged(status, content)
    answers.append(("no credentials", b"", status, 401))
    assert [a for a in answers if a[2] != a[3]] == []


def test_hostile_revocations_and_native_api_requests(raw, unchanged):
    admin = {"Authorization": raw.admin}
    cases = [
        ("POST", f"{NATIVE}users/%00/drop_cached_logins/", 400),  # nginx: no NUL in a path
        ("POST", f"{NATIVE}users/%ff/drop_cached_logins/", 404),
        ("POST", f"{NATIVE}users/{'a' * 3000}/drop_cached_logins/", 404),
        ("POST", f"{NATIVE}users/..%2f..%2fadmin/drop_cached_logins/", 404),
        ("DELETE", f"{PUSH}users/admin/cached_logins/", 404),  # not on Katello's push root
        ("GET", f"{NATIVE}users/?login__regex=(", 400),
        ("GET", f"{NATIVE}repositories/?name__iregex=%5B%5B%5B", 400),
        ("GET", f"{NATIVE}repositories/?name=%00", 400),
        ("GET", f"{NATIVE}users/?login=%ff", 200),
        ("GET", f"{NATIVE}hosts/?uuid__in=%00,a", 400),
        ("GET", f"{NATIVE}users/%ff/", 404),
        ("DELETE", f"{NATIVE}hosts/not-a-uuid/", 404),
        ("DELETE", f"{NATIVE}repositories/00000000-0000-0000-0000-000000000000/", 405),
        ("GET", "/v1/search?q=%ff&n=99999999999999999999", 200),
        ("GET", "/v1/search?q=%00", 400),
        ("GET", "/v2/_catalog?n=%ff", 401),
        ("GET", "/v2/%ff/manifests/latest", 401),
    ]
    answers = []
    for method, path, expected in cases:
        status, content = raw(method, path, admin)
        unchanged(status, content)
        answers.append((method, path[:70], status, expected))
    assert [a for a in answers if a[2] != a[3]] == []


# -- generated requests through the real server --------------------------------------------

scopes = st.one_of(
    st.sampled_from(["repository:a:pull", "::", "repository:localhost:5000/a:pull,push",
                     "registry:catalog:*", "repository:ä/日本:pull", "repository:';--:*"]),
    st.text(max_size=30),
)
secrets_ = st.text(max_size=30).map(lambda text: "Fz~" + text)


# Failed Foreman logins per folded login sent from this address by the test below, as the
# throttle counts them (other tests log in with tagged names, which these random texts miss).
_FAILED = Counter()


def expected_token_status(login, secret, service):
    """The one status ``GET /token/`` answers (the endpoint's order of checks)."""
    if login is None:
        return 200 if service else 400  # anonymous
    if not service:
        return 400
    login, _, secret = f"{login}:{secret}".partition(":")  # the first ":" ends the login
    if name_problem(login):
        return 401  # no user has such a login: refused without asking anybody
    folded = login.lower()
    if _FAILED[folded] >= min(defaults.KATELLO_GATEWAY_THROTTLE_ADDRESS_FAILURES,
                              defaults.KATELLO_GATEWAY_THROTTLE_LOGIN_FAILURES):
        return 429
    _FAILED[folded] += 1  # Foreman says no: nobody has a "Fz~" password
    return 401


@REAL_HTTP
@given(scope_list=st.lists(scopes, max_size=6), service=st.text(max_size=20),
       login=st.one_of(st.none(), st.text(max_size=20)), secret=secrets_)
def test_generated_token_requests(raw, pulp_db, secret_registry, scope_list, service, login,
                                  secret):
    before = snapshot(pulp_db)
    secret_registry.add(secret)
    headers = {"Authorization": basic(login, secret)} if login is not None else {}
    query = urlencode([("service", service), *(("scope", scope) for scope in scope_list)])
    status, content = raw("GET", f"/token/?{query}", headers)
    assert status == expected_token_status(login, secret, service), content[:300]
    if len(secret) > 8:
        assert secret.encode() not in content
    if status >= 400:
        assert snapshot(pulp_db) == before


names = st.one_of(st.sampled_from(["", " ", "\x00", "x" * 256, "日本", "%", "\\N", "a+b&c=d"]),
                  st.text(st.characters(exclude_characters="[]"), max_size=12))
bad_entries = st.one_of(
    st.fixed_dictionaries({"repository": st.sampled_from(["", " ", "\x00", "x" * 256]),
                           "auth_required": st.booleans()}),
    st.fixed_dictionaries({"repository": names, "auth_required": st.sampled_from(
        ["maybe", "", "1", None])}),
    st.fixed_dictionaries({"repository": names}),
    st.lists(names, max_size=2),
)
entries = st.lists(st.fixed_dictionaries({"repository": names, "auth_required": st.booleans()}),
                   max_size=3)


def _unique(items):
    """Entries with distinct repository names (a repeat would already make the body bad)."""
    seen, kept = set(), []
    for item in items:
        if item["repository"] not in seen:
            seen.add(item["repository"])
            kept.append(item)
    return kept


@REAL_HTTP
@given(endpoint=st.sampled_from(["repository_list", "user_repository_mapping",
                                 "host_repository_mapping", "update_host_repositories"]),
       good=entries.map(_unique), bad=bad_entries, as_json=st.booleans(),
       principal=names.filter(str.strip))
def test_generated_pushes_with_a_bad_entry_are_refused_whole(
    raw, pulp_db, gateway_world, endpoint, good, bad, as_json, principal
):
    """Good entries (one opening a protected repository) followed by a bad one."""
    good = [{"repository": gateway_world.repos["granted"], "auth_required": False},
            *[e for e in good if e["repository"] != gateway_world.repos["granted"]]]
    listed = [*good, bad]
    payload = ({"repositories": listed} if endpoint == "repository_list" else
               {"users" if endpoint.startswith("user") else "hosts": [{principal: listed}]})
    if as_json:  # JSON may carry lone surrogates too
        content_type, body = "application/json", json.dumps(payload).encode()
    else:
        assume(not SURROGATE.search(json.dumps(payload, ensure_ascii=False)))
        # RestClient writes a list after hash entries as `key[][]=…`, which Rack folds into the
        # previous entry and drops: on the wire that body is the good entries alone.
        assume(not isinstance(bad, list))
        content_type, body = FORM, encode(payload).encode()
    before = snapshot(pulp_db)
    status, content = raw("PUT", f"{PUSH}{endpoint}/",
                          {"Authorization": raw.admin, "Content-Type": content_type}, body)
    assert status == 400, (status, content[:300])
    assert snapshot(pulp_db) == before


# -- the Pulp-native API, generated from its OpenAPI schema (schemathesis) -------------------


@pytest.fixture(scope="module")
def native_api_schema(pulp):
    """Pulp's OpenAPI schema, cut down to the plugin's endpoints."""
    raw = pulp.session().get(f"{pulp.api_url}/pulp/api/v3/docs/api.json", timeout=300).json()
    raw["paths"] = {path: item for path, item in raw["paths"].items()
                    if path.startswith(NATIVE)}
    assert len(raw["paths"]) == 6  # repositories, users, hosts, pulls, explain, status
    return schemathesis.openapi.from_dict(raw)


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_native_api_from_its_schema(native_api_schema, pulp, pulp_db, mode):
    """Every operation, with requests that follow the schema and requests that break it."""
    admin = pulp.session()
    operations = [result.ok() for result in native_api_schema.get_all_operations()]
    assert {operation.method.upper() for operation in operations} == {"GET", "POST"}

    @settings(max_examples=30, suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data):
        operation = data.draw(st.sampled_from(operations))
        case = data.draw(operation.as_strategy(GenerationMode(mode)))
        before = snapshot(pulp_db)
        response = case.call(base_url=pulp.api_url, session=admin, verify=str(pulp.ca_file),
                             timeout=60)
        assert response.status_code < 500, (case.as_curl_command(), response.text[:300])
        if response.status_code >= 400:
            assert snapshot(pulp_db) == before
        if case.method == "POST" and response.status_code == 201:  # a made-up user: remove it
            assert admin.delete(pulp.api_url + response.json()["pulp_href"]).status_code == 204

    run()
