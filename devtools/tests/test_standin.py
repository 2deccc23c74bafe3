"""The Katello stand-in and the Rack form encoding behave like Katello and RestClient."""

import datetime
import json
import os
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from devtools import rack
from devtools.clients import KATELLO_PUSH_PATH
from devtools.katello_standin.push import PushStep, put
from devtools.katello_standin.server import KatelloStandin
from devtools.net import free_port

ROOT = Path(__file__).resolve().parents[2]

def get(katello, path, **kwargs):
    kwargs.setdefault("timeout", 5)
    return requests.get(katello.url + path, **kwargs)


# -- Rack / RestClient form encoding (reference §2.3) ---------------------------------------


def test_rack_repository_list():
    payload = {"repositories": [
        {"repository": "org-prod-busybox", "auth_required": True},
        {"repository": "id/1/2/container-push-repo", "auth_required": False},
    ]}
    assert rack.encode(payload) == (
        "repositories[][repository]=org-prod-busybox&repositories[][auth_required]=true"
        "&repositories[][repository]=id%2F1%2F2%2Fcontainer-push-repo"
        "&repositories[][auth_required]=false"
    )


def test_rack_empty_list_is_a_bare_key():
    assert rack.encode({"repositories": []}) == "repositories"
    assert rack.encode({"hosts": []}) == "hosts"


def test_rack_user_mapping_with_empty_user():
    payload = {"users": [
        {"admin": [{"repository": "org-prod-busybox", "auth_required": True}]},
        {"bob": [{"repository": "org-prod-web", "auth_required": True}]},
        {"carol": []},
    ]}
    assert rack.encode(payload) == (
        "users[][admin][][repository]=org-prod-busybox&users[][admin][][auth_required]=true"
        "&users[][bob][][repository]=org-prod-web&users[][bob][][auth_required]=true"
        "&users[][carol]"
    )


def test_rack_hosts():
    assert rack.encode({"hosts": [{"uuid": "2f1c"}, {"uuid": "9a0b"}]}) == (
        "hosts[][uuid]=2f1c&hosts[][uuid]=9a0b"
    )
    assert rack.encode(
        {"hosts": [{"2f1c": [{"repository": "org-prod-busybox", "auth_required": True}]}]}
    ) == "hosts[][2f1c][][repository]=org-prod-busybox&hosts[][2f1c][][auth_required]=true"


def test_rack_escaping_like_encode_www_form_component():
    assert rack.escape("a b/c@d~e*f-g.h_i") == "a+b%2Fc%40d%7Ee*f-g.h_i"
    assert rack.escape("é") == "%C3%A9"
    assert rack.encode({"user name": {"k": None, "empty": {}}}) == (
        "user+name[k]&user+name[empty]"
    )
    assert rack.encode({}) == ""
    with pytest.raises(TypeError):
        rack.encode([1])


# -- GET /v2/token (reference §3.1) ---------------------------------------------------------


def test_token_without_scope_and_account_is_unauthenticated_even_with_credentials(katello):
    for auth in (None, ("admin", "admin-pw"), ("admin", "wrong")):
        response = get(katello, "/v2/token", auth=auth, params={"service": "x"})
        assert response.status_code == 200
        body = response.json()
        assert body["token"] == "unauthenticated"
        assert body["expires_in"] == 180
        datetime.datetime.fromisoformat(body["issued_at"])
    assert katello.registry_token("admin") is None


def test_token_for_public_scope_is_unauthenticated(katello):
    params = {"scope": "repository:org-lib-public:pull", "account": "admin"}
    response = get(katello, "/v2/token", params=params, auth=("admin", "admin-pw"))
    assert response.json()["token"] == "unauthenticated"
    # Katello only recognises exactly ":pull"; anything else needs a login.
    params = {"scope": "repository:org-lib-public:pull,push"}
    assert get(katello, "/v2/token", params=params).status_code == 401


def test_token_with_password_is_a_stable_registry_pat(katello):
    params = {"account": "admin", "scope": "repository:org-prod-busybox:pull"}
    first = get(katello, "/v2/token", params=params, auth=("admin", "admin-pw")).json()
    assert first["token"] not in ("unauthenticated", "admin-pw")
    assert first["expires_in"] == 3600
    issued = datetime.datetime.fromisoformat(first["issued_at"])
    assert abs((datetime.datetime.now(datetime.UTC) - issued).total_seconds()) < 5
    assert katello.registry_token("admin") == first["token"]

    katello.users["admin"].registry_pat().created_at -= datetime.timedelta(minutes=10)
    second = get(katello, "/v2/token", params={"account": "admin"},
                 auth=("admin", "admin-pw")).json()
    assert second["token"] == first["token"]
    assert second["expires_in"] == 4200  # issued_at stays, the expiry slides
    assert datetime.datetime.fromisoformat(second["issued_at"]) < issued


def test_token_finds_the_login_in_any_case_as_foreman_does(katello):
    params = {"account": "ADMIN", "scope": "repository:org-prod-busybox:pull"}
    assert get(katello, "/v2/token", params=params, auth=("ADMIN", "admin-pw")).status_code == 200
    assert get(katello, "/v2/token", params=params, auth=("ADMIN", "Admin-pw")).status_code == 401
    assert katello.known_logins(["ADMIN", "admin"]) == ["admin"]  # Katello's where(login:)


def test_token_with_personal_access_token(katello):
    basic = get(katello, "/v2/token", params={"account": "bob"},
                auth=("bob", "bob-personal-token"))
    assert basic.status_code == 200
    registry_pat = basic.json()["token"]
    bearer = get(katello, "/v2/token", params={"account": "bob"},
                 headers={"Authorization": f"Bearer {registry_pat}"})
    assert bearer.status_code == 200
    assert bearer.json()["token"] == registry_pat
    configured = get(katello, "/v2/token", params={"account": "bob"},
                     headers={"Authorization": "Bearer bob-personal-token"})
    assert configured.json()["token"] == registry_pat


@pytest.mark.parametrize("auth", [("admin", "wrong"), ("nobody", "x"), None])
def test_token_bad_credentials_401(katello, auth):
    response = get(katello, "/v2/token", params={"account": "admin"}, auth=auth)
    assert response.status_code == 401
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"]["message"].startswith("Unable to authenticate user")
    bad_header = get(katello, "/v2/token", params={"account": "admin"},
                     headers={"Authorization": "Basic !!!"})
    assert bad_header.status_code == 401


def test_revoked_registry_pat(katello):
    params = {"account": "admin"}
    old = get(katello, "/v2/token", params=params, auth=("admin", "admin-pw")).json()["token"]
    katello.revoke_pat("admin", old)
    bearer = get(katello, "/v2/token", params=params, headers={"Authorization": f"Bearer {old}"})
    assert bearer.status_code == 401
    scoped = {"account": "admin", "scope": "repository:org-prod-busybox:pull"}
    refused = get(katello, "/v2/token", params=scoped, auth=("admin", "admin-pw"))
    assert refused.status_code == 401
    assert refused.headers["Www-Authenticate"].startswith('Bearer realm="http://127.0.0.1:')
    login = get(katello, "/v2/token", params=params, auth=("admin", "admin-pw"))  # podman login
    assert login.status_code == 200
    assert login.json()["token"] not in (old, "unauthenticated")
    assert get(katello, "/v2/token", params=scoped, auth=("admin", "admin-pw")).status_code == 200


def test_revoked_configured_pat_and_changed_password(katello):
    katello.revoke_pat("bob", "bob-personal-token")
    assert get(katello, "/v2/token", params={"account": "bob"},
               auth=("bob", "bob-personal-token")).status_code == 401
    katello.set_password("bob", "new-pw")
    assert get(katello, "/v2/token", params={"account": "bob"},
               auth=("bob", "bob-pw")).status_code == 401
    assert get(katello, "/v2/token", params={"account": "bob"},
               auth=("bob", "new-pw")).status_code == 200


def test_expired_registry_pat_is_refused_as_bearer(katello):
    katello.token_expiration_minutes = 0
    token = get(katello, "/v2/token", params={"account": "carol"},
                auth=("carol", "carol-pw")).json()["token"]
    response = get(katello, "/v2/_catalog", headers={"Authorization": f"Bearer {token}"})
    assert response.json()["repositories"] == ["org-lib-public"]


def test_post_token_is_not_routed(katello):
    assert requests.post(katello.url + "/v2/token", timeout=5).status_code == 404


# -- GET /v2/_catalog (reference §3.2) ------------------------------------------------------


def catalog(katello, **kwargs):
    response = get(katello, "/v2/_catalog", **kwargs)
    return response.status_code, sorted(response.json().get("repositories", []))


def test_catalog_per_identity(katello):
    public = ["org-lib-public"]
    assert catalog(katello) == (200, public)
    assert catalog(katello, auth=("admin", "admin-pw")) == (
        200, ["org-lib-public", "org-prod-busybox", "org-prod-web"])
    assert catalog(katello, auth=("bob", "bob-personal-token")) == (
        200, ["org-lib-public", "org-prod-web"])
    assert catalog(katello, auth=("carol", "carol-pw")) == (200, public)
    assert catalog(katello, auth=("admin", "wrong"))[0] == 401
    token = get(katello, "/v2/token", params={"account": "bob"}, auth=("bob", "bob-pw"))
    bearer = {"Authorization": f"Bearer {token.json()['token']}"}
    assert catalog(katello, headers=bearer) == (200, ["org-lib-public", "org-prod-web"])
    # An unknown Bearer token is no identity at all in Katello: public catalog, not 401.
    assert catalog(katello, headers={"Authorization": "Bearer unauthenticated"}) == (200, public)


def test_catalog_for_hosts(katello):
    assert catalog(katello, headers={"HostUUID": "2f1c-host"}) == (
        200, ["org-lib-public", "org-prod-busybox"])
    assert catalog(katello, headers={"HostUUID": "9a0b-host"}) == (200, [])
    assert catalog(katello, headers={"HostUUID": "unknown"}) == (200, ["org-lib-public"])
    # Any Authorization header, even empty, wins over HostUUID.
    assert catalog(katello, headers={"HostUUID": "2f1c-host", "Authorization": ""}) == (
        200, ["org-lib-public"])


# -- faults ---------------------------------------------------------------------------------


def test_down_refuses_connections_then_up_on_the_same_port(katello):
    port = katello.port
    katello.set_fault("down")
    with pytest.raises(requests.ConnectionError):
        get(katello, "/v2/token", timeout=2)
    katello.set_fault("up")
    assert katello.port == port
    assert get(katello, "/v2/token").status_code == 200


def test_control_api_stays_up_while_down_and_brings_it_back(katello):
    katello.set_fault("down")
    with pytest.raises(requests.ConnectionError):
        get(katello, "/v2/token", timeout=2)
    control = katello.control_url + "fault"
    assert requests.get(control, timeout=5).json()["mode"] == "down"
    assert requests.put(control, json={"mode": "up"}, timeout=5).json()["mode"] is None
    assert get(katello, "/v2/token").status_code == 200
    assert requests.get(katello.control_url[: -len("_standin/")] + "v2/token",
                        timeout=5).status_code == 404  # Katello's endpoints are not served there


def test_down_cuts_open_keepalive_connections(katello):
    session = requests.Session()
    assert session.get(katello.url + "/v2/token", timeout=5).status_code == 200
    katello.set_fault("down")
    with pytest.raises(requests.ConnectionError):
        session.get(katello.url + "/v2/token", timeout=2)
    katello.set_fault(None)
    assert session.get(katello.url + "/v2/token", timeout=5).status_code == 200


def test_hang_never_answers_and_does_not_block_stop(standin_config):
    standin = KatelloStandin(config=standin_config).start()
    standin.set_fault("hang")
    outcome = []
    background = threading.Thread(
        target=lambda: outcome.append(_try(get, standin, "/v2/token", timeout=60)))
    background.start()
    standin.wait_hanging(1)
    with pytest.raises(requests.ReadTimeout):  # no answer, however long a client waits
        get(standin, "/v2/token", timeout=0.5)
    assert standin.hanging() == 2
    assert [entry["status"] for entry in standin.requests] == [None, None]

    stopping = threading.Thread(target=standin.stop)
    stopping.start()
    stopping.join(30)
    assert not stopping.is_alive()  # stop() did not wait for the hanging requests ...
    background.join(30)
    assert not background.is_alive()
    assert isinstance(outcome[0], requests.ConnectionError)  # ... it closed them unanswered


def _try(function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except requests.RequestException as exc:
        return exc


def test_hang_once_then_cleared(katello):
    katello.set_fault("hang", times=1)
    outcome = []
    background = threading.Thread(
        target=lambda: outcome.append(_try(get, katello, "/v2/token", timeout=60)))
    background.start()
    katello.wait_hanging(1)  # the first request is the one that hangs
    assert get(katello, "/v2/token").status_code == 200  # only the first request hangs
    assert katello.fault()["mode"] is None
    assert background.is_alive() and katello.hanging("/v2/token") == 1
    katello.set_fault(None)  # closes the hanging connection without an answer
    background.join(30)
    assert isinstance(outcome[0], requests.ConnectionError)
    assert katello.hanging() == 0


def test_slow_answers_after_the_delay(katello):
    """Slower than the client waits: a read timeout, the request not answered yet; faster: the
    answer."""
    katello.set_fault("slow", seconds=60)
    with pytest.raises(requests.ReadTimeout):
        get(katello, "/v2/token", timeout=0.5)
    assert [entry["status"] for entry in katello.requests] == [None]
    katello.set_fault("slow", seconds=0.1)
    assert get(katello, "/v2/token", timeout=60).json()["token"] == "unauthenticated"
    assert [entry["status"] for entry in katello.requests] == [None, 200]


def test_error_statuses(katello):
    katello.set_fault("error", status=503)
    response = get(katello, "/v2/token")
    assert response.status_code == 503
    assert response.headers["Content-Type"].startswith("text/html")
    katello.set_fault("error")
    response = get(katello, "/v2/_catalog")
    assert response.status_code == 500
    assert "error" in response.json()
    katello.set_fault("error", status=502, body="bad gateway")
    assert get(katello, "/v2/token").text == "bad gateway"


def test_garbage_kinds(katello):
    katello.set_fault("garbage", kind="html")
    response = get(katello, "/v2/token")
    assert (response.status_code, response.headers["Content-Type"][:9]) == (200, "text/html")
    katello.set_fault("garbage", kind="truncated")
    response = get(katello, "/v2/token")
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()
    katello.set_fault("garbage", kind="no_token")
    body = get(katello, "/v2/token").json()
    assert "token" not in body and "expires_in" in body
    katello.set_fault("garbage", kind="redirect", location="https://sso.example.com/")
    response = get(katello, "/v2/token", allow_redirects=False)
    assert (response.status_code, response.headers["Location"]) == (302, "https://sso.example.com/")
    katello.set_fault("garbage", kind="reset")
    with pytest.raises(requests.ConnectionError):
        get(katello, "/v2/token")
    with pytest.raises(ValueError):
        katello.set_fault("garbage", kind="nonsense")


def test_fault_limited_to_paths_and_times(katello):
    katello.set_fault("error", status=500, paths=["/v2/_catalog"], times=2)
    assert get(katello, "/v2/token").status_code == 200
    assert get(katello, "/v2/_catalog").status_code == 500
    assert get(katello, "/v2/_catalog").status_code == 500
    assert get(katello, "/v2/_catalog").status_code == 200
    assert katello.fault()["mode"] is None


# -- request log and counters ---------------------------------------------------------------


def test_counters_and_log_without_secrets(katello):
    get(katello, "/v2/token", params={"account": "admin"}, auth=("admin", "admin-pw"))
    get(katello, "/v2/_catalog", headers={"HostUUID": "2f1c-host"})
    get(katello, "/_standin/state")
    assert katello.request_count() == 2
    assert katello.request_count("/v2/token") == 1
    assert katello.request_count("/v2/_catalog") == 1
    first = katello.requests[0]
    assert (first["method"], first["path"], first["status"]) == ("GET", "/v2/token", 200)
    assert first["query"] == {"account": ["admin"]}
    assert "Authorization" in first["headers"]
    assert "admin-pw" not in json.dumps(katello.requests)
    katello.reset_counters()
    assert katello.request_count() == 0 and katello.requests == []


# -- control API ----------------------------------------------------------------------------


def test_control_api_state_and_items(katello):
    control = katello.url + "/_standin/"
    state = requests.get(control + "state", timeout=5).json()
    assert state["users"]["bob"]["pats"] == ["bob-personal-token"]
    assert state["hosts"]["9a0b-host"] == {"repositories": []}

    requests.put(control + "repositories/id/1/2/push-repo", json={"auth_required": False},
                 timeout=5)
    requests.put(control + "users/dave", json={"password": "d", "repositories": []}, timeout=5)
    requests.delete(control + "hosts/9a0b-host", timeout=5)
    assert catalog(katello, auth=("dave", "d")) == (200, ["id/1/2/push-repo", "org-lib-public"])
    assert "9a0b-host" not in katello.hosts
    requests.delete(control + "repositories/id%2F1%2F2%2Fpush-repo", timeout=5)
    assert "id/1/2/push-repo" not in katello.repositories

    requests.put(control + "state", json={"repositories": {}, "users": {}}, timeout=5)
    assert katello.state()["users"] == {} and katello.hosts == {}
    assert requests.get(control + "nonsense", timeout=5).status_code == 404
    assert requests.put(control + "state", data="{", timeout=5).status_code == 400


def test_control_api_tokens_revoke_and_requests(katello):
    control = katello.url + "/_standin/"
    token = get(katello, "/v2/token", params={"account": "admin"},
                auth=("admin", "admin-pw")).json()["token"]
    assert requests.get(control + "tokens", timeout=5).json()["admin"][0]["token"] == token
    requests.post(control + "users/admin/revoke", json={}, timeout=5)
    assert katello.registry_token("admin") is None
    log = requests.get(control + "requests", timeout=5).json()
    assert log["total"] == 1 and log["counts"] == {"/v2/token": 1}
    requests.delete(control + "requests", timeout=5)
    assert katello.request_count() == 0


def test_control_api_faults_including_down_for_a_while(katello):
    control = katello.url + "/_standin/fault"
    assert requests.put(control, json={"mode": "error", "status": 504}, timeout=5).json()[
        "mode"] == "error"
    assert get(katello, "/v2/token").status_code == 504
    assert requests.get(control, timeout=5).status_code == 200  # control API is never faulted
    requests.put(control, json={"mode": "down", "seconds": 2}, timeout=5)
    with pytest.raises(requests.ConnectionError):
        get(katello, "/v2/token", timeout=1)
    katello.wait_fault(None)  # up again by itself
    assert get(katello, "/v2/token").status_code == 200


# -- TLS ------------------------------------------------------------------------------------


def test_tls_with_ca_bundle(tmp_path, standin_config):
    from devtools.pki import CertificateAuthority

    ca = CertificateAuthority(tmp_path)
    cert, key = ca.issue("127.0.0.1", tmp_path / "k.crt", tmp_path / "k.key", server=True)
    with KatelloStandin(certfile=cert, keyfile=key, config=standin_config) as standin:
        assert standin.url.startswith("https://")
        response = get(standin, "/v2/_catalog", verify=str(ca.cert_path))
        assert response.json() == {"repositories": ["org-lib-public"]}
        with pytest.raises(requests.exceptions.SSLError):
            get(standin, "/v2/_catalog")


# -- push (reference §2.6) ------------------------------------------------------------------


class Recorder(ThreadingHTTPServer):
    """A fake gateway admin API recording what it receives; ``answers`` overrides statuses."""

    def __init__(self, users=(), answers=None):
        self.received = []
        self.users = list(users)
        self.answers = answers or {}
        super().__init__(("127.0.0.1", 0), _RecorderHandler)
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def base(self):
        return f"http://127.0.0.1:{self.server_address[1]}{KATELLO_PUSH_PATH}"


class _RecorderHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        self.server.received.append((self.command, self.path, dict(self.headers), body))
        status = self.server.answers.get(self.path.rstrip("/").rsplit("/", 1)[-1], 200)
        payload = b""
        if self.command == "GET":
            payload = json.dumps({"users": self.server.users}).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_PUT = _answer


def test_push_sequence_is_what_katello_sends(katello):
    gateway = Recorder(users=["admin", "carol", "ghost"])
    try:
        steps = katello.push(gateway.base, auth=("pulp-admin", "secret"))
    finally:
        gateway.shutdown()
    prefix = KATELLO_PUSH_PATH
    assert steps == [
        PushStep("PUT", prefix + "repository_list/", 200),
        PushStep("GET", prefix + "users", 200),
        PushStep("PUT", prefix + "user_repository_mapping/", 200),
        PushStep("PUT", prefix + "update_hosts/", 200),
        PushStep("PUT", prefix + "host_repository_mapping/", 200),
    ]
    bodies = {path.rstrip("/").rsplit("/", 1)[-1]: body for _, path, _, body in gateway.received}
    assert bodies["repository_list"] == (
        "repositories[][repository]=org-prod-busybox&repositories[][auth_required]=true"
        "&repositories[][repository]=org-prod-web&repositories[][auth_required]=true"
        "&repositories[][repository]=org-lib-public&repositories[][auth_required]=false"
    )
    assert bodies["user_repository_mapping"] == (
        "users[][admin][][repository]=org-prod-busybox&users[][admin][][auth_required]=true"
        "&users[][admin][][repository]=org-prod-web&users[][admin][][auth_required]=true"
        "&users[][admin][][repository]=org-lib-public&users[][admin][][auth_required]=false"
        "&users[][carol][][repository]=org-lib-public&users[][carol][][auth_required]=false"
    )
    assert bodies["update_hosts"] == "hosts[][uuid]=2f1c-host&hosts[][uuid]=9a0b-host"
    assert bodies["host_repository_mapping"] == (
        "hosts[][2f1c-host][][repository]=org-prod-busybox"
        "&hosts[][2f1c-host][][auth_required]=true&hosts[][9a0b-host]"
    )
    for method, _, headers, _ in gateway.received:
        assert headers["Accept"] == "application/json"
        assert headers["Authorization"].startswith("Basic ")
        assert len(headers["X-Request-Id"]) == 36 and len(headers["X-Session-Id"]) == 36
        if method == "PUT":
            assert headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_push_skips_unknown_users_and_absent_hosts_and_survives_errors(katello):
    for consumer_uuid in list(katello.hosts):
        katello.remove_host(consumer_uuid)
    for name in list(katello.repositories):
        katello.remove_repository(name)
    gateway = Recorder(users=["ghost"], answers={"repository_list": 500})
    try:
        steps = katello.push(gateway.base)
    finally:
        gateway.shutdown()
    assert [(s.method, s.status) for s in steps] == [("PUT", 500), ("GET", 200)]
    assert gateway.received[0][3] == "repositories"


def test_push_to_nowhere_reports_no_status(katello):
    base = f"http://127.0.0.1:{free_port()}{KATELLO_PUSH_PATH}".rstrip("/")
    steps = katello.push(base, timeout=2)
    assert [s.status for s in steps] == [None, None, None, None]  # no users: no mapping PUT
    assert [s.path.rsplit("container_gateway", 1)[1] for s in steps] == [
        "/repository_list/", "/users", "/update_hosts/", "/host_repository_mapping/"]


def test_put_sends_a_raw_payload():
    gateway = Recorder()
    try:
        response = put(gateway.base, "update_hosts", {"hosts": []})
    finally:
        gateway.shutdown()
    assert response.status_code == 200
    assert gateway.received[0][1].endswith("/container_gateway/update_hosts/")
    assert gateway.received[0][3] == "hosts"


# -- CLI ------------------------------------------------------------------------------------


def test_cli_serves_until_sigterm(tmp_path, standin_config):
    config = tmp_path / "katello.json"
    config.write_text(json.dumps(standin_config))
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "devtools.katello_standin", "--port", str(port),
         "--config", str(config)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        line = process.stdout.readline()
        assert f"http://127.0.0.1:{port}" in line
        response = requests.get(f"http://127.0.0.1:{port}/v2/_catalog", timeout=5)
        assert response.json() == {"repositories": ["org-lib-public"]}
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    assert "admin-pw" not in process.stderr.read()


def test_control_api_push(katello):
    gateway = Recorder(users=["bob"])
    try:
        response = requests.post(katello.url + "/_standin/push",
                                 json={"url": gateway.base, "user": "u", "password": "p"},
                                 timeout=10)
    finally:
        gateway.shutdown()
    results = response.json()["results"]
    assert [method for method, _, _ in results] == ["PUT", "GET", "PUT", "PUT", "PUT"]
    assert all(status == 200 for _, _, status in results)
    assert gateway.received[2][3] == (
        "users[][bob][][repository]=org-prod-web&users[][bob][][auth_required]=true"
        "&users[][bob][][repository]=org-lib-public&users[][bob][][auth_required]=false"
    )
