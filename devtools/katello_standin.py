"""A stand-in for Foreman/Katello: its registry token and catalog endpoints, and its capsule push.

Tests and the demo need a Katello that behaves like the real one (Katello
``Api::Registry::RegistryProxiesController`` and ``SmartProxyExtensions#sync_container_gateway``)
and that can be made to fail on demand. It serves:

- ``GET /v2/token`` and ``GET /v2/_catalog`` with Katello's decision rules and payloads;
- a control API under ``/_standin/`` (JSON) to read or change the state, inject faults, read the
  request log and trigger a push; it also listens on a port of its own (``control_url``), which
  stays up while the Katello endpoints are ``down``;
- for tests in the same process, waits on what happened instead of on a clock:
  ``wait_requests()``, ``wait_hanging()`` and ``wait_fault()``;
- ``KatelloStandin.push()`` / ``sync_container_gateway()``: the capsule-sync sequence Katello runs
  against the gateway's admin API, form-encoded byte for byte like RestClient (``devtools.rack``).

Stdlib HTTP server plus ``requests`` for pushing. Run ``python -m devtools.katello_standin -h``.
"""

import argparse
import base64
import binascii
import datetime
import hmac
import json
import secrets
import signal
import socket
import ssl
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit

import requests

from devtools import rack

CONTROL_PREFIX = "/_standin/"
UNAUTHENTICATED = "unauthenticated"
UNAUTHENTICATED_SECONDS = 180  # Katello: 3.minutes.from_now
FAULT_MODES = (None, "up", "down", "slow", "hang", "error", "garbage")
GARBAGE_KINDS = ("html", "truncated", "no_token", "redirect", "reset")
JSON_TYPE = "application/json; charset=utf-8"  # what Rails sends
# Headers RestClient 2.1 / Net::HTTP add to every request Foreman's ProxyAPI makes.
RESTCLIENT_HEADERS = {
    "User-Agent": "rest-client/2.1.0 (linux x86_64) ruby/3.0.7p220",
    "Accept-Encoding": "gzip;q=1.0,deflate;q=0.6,identity;q=0.3",
    "Accept": "application/json",
}


def _now():
    return datetime.datetime.now(datetime.UTC)


def _rfc3339(moment):
    """Ruby ``Time#rfc3339`` of a local time on a UTC host: whole seconds, ``+00:00``."""
    return moment.isoformat(timespec="seconds")


def _blank(value):
    """Rails ``blank?`` for a query parameter."""
    return value is None or not value.strip()


def _last(query, name):
    """Rails keeps the last value of a repeated query parameter."""
    values = query.get(name)
    return values[-1] if values else None


def _as_list(value):
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


@dataclass
class Pat:
    """A Foreman personal access token; ``expires_at=None`` never expires."""

    value: str
    name: str
    created_at: datetime.datetime
    expires_at: datetime.datetime | None = None
    revoked: bool = False

    def active(self):
        return not self.revoked and (self.expires_at is None or self.expires_at > _now())


@dataclass
class User:
    login: str
    password: str
    pats: list = field(default_factory=list)  # of Pat, configured ones and the "registry" one
    repositories: list = field(default_factory=list)  # names the user may read

    def registry_pat(self, revoked=False):
        for pat in self.pats:
            if pat.name == "registry" and pat.revoked == revoked:
                return pat
        return None


class Katello:
    """Katello's state and its registry decisions, without HTTP. Every method is thread-safe."""

    def __init__(self, config=None):
        self._lock = threading.RLock()
        self.users = {}  # login -> User
        self.repositories = {}  # name -> unauthenticated_pull
        self.hosts = {}  # consumer uuid -> [repository name]
        self.token_expiration_minutes = 60  # Katello setting registry_token_expiration_minutes
        if config:
            self.load(config)

    # -- state -----------------------------------------------------------------------------

    def load(self, config):
        """Replace the whole state with ``config`` (the JSON format of ``--config``)."""
        with self._lock:
            self.users, self.repositories, self.hosts = {}, {}, {}
            self.set_repositories(config.get("repositories", {}))
            self.set_users(config.get("users", {}))
            self.set_hosts(config.get("hosts", {}))
            self.token_expiration_minutes = config.get("token_expiration_minutes", 60)

    def state(self):
        """The state in the ``--config`` format (registry tokens are in ``tokens()``)."""
        with self._lock:
            return {
                "repositories": {
                    name: {"auth_required": not public}
                    for name, public in self.repositories.items()
                },
                "users": {
                    user.login: {
                        "password": user.password,
                        "pats": [p.value for p in user.pats if p.name != "registry" and p.active()],
                        "repositories": list(user.repositories),
                    }
                    for user in self.users.values()
                },
                "hosts": {uuid_: {"repositories": list(r)} for uuid_, r in self.hosts.items()},
                "token_expiration_minutes": self.token_expiration_minutes,
            }

    def set_repositories(self, repositories):
        with self._lock:
            self.repositories = {}
            for name, spec in repositories.items():
                self.add_repository(name, auth_required=spec.get("auth_required", True))

    def set_users(self, users):
        with self._lock:
            self.users = {}
            for login, spec in users.items():
                self._add_user_spec(login, spec)

    def _add_user_spec(self, login, spec):
        """A user from its JSON form: password, pat (one or a list) or pats, repositories."""
        pats = _as_list(spec.get("pat")) + _as_list(spec.get("pats"))
        self.add_user(login, spec["password"], pat=pats, repositories=spec.get("repositories", ()))

    def set_hosts(self, hosts):
        """``{uuid: {"repositories": [...]}}``; a bare list as the value is accepted too."""
        with self._lock:
            self.hosts = {}
            for consumer_uuid, spec in hosts.items():
                repos = spec.get("repositories", ()) if isinstance(spec, dict) else spec
                self.add_host(consumer_uuid, repositories=repos)

    def add_repository(self, name, auth_required=True):
        with self._lock:
            self.repositories[name] = not auth_required

    def remove_repository(self, name):
        with self._lock:
            self.repositories.pop(name, None)

    def add_user(self, login, password, pat=None, repositories=()):
        """Create or redefine a user; ``pat`` is one token value or a list of them.

        Redefining keeps the user's ``registry`` token, as editing a Foreman user does.
        """
        with self._lock:
            old = self.users.get(login)
            pats = [Pat(value, "standin", _now()) for value in _as_list(pat)]
            if old is not None:
                pats += [p for p in old.pats if p.name == "registry"]
            self.users[login] = User(login, password, pats, list(repositories))

    def remove_user(self, login):
        with self._lock:
            self.users.pop(login, None)

    def set_password(self, login, password):
        with self._lock:
            self.users[login].password = password

    def set_user_repositories(self, login, repositories):
        with self._lock:
            self.users[login].repositories = list(repositories)

    def revoke_pat(self, login, token=None):
        """Revoke the token with value ``token``, or every token of the user when ``None``."""
        with self._lock:
            for pat in self.users[login].pats:
                if token is None or pat.value == token:
                    pat.revoked = True

    def add_host(self, consumer_uuid, repositories=()):
        with self._lock:
            self.hosts[consumer_uuid] = list(repositories)

    def remove_host(self, consumer_uuid):
        with self._lock:
            self.hosts.pop(consumer_uuid, None)

    def registry_token(self, login):
        """The user's current (not revoked) ``registry`` token value, or None."""
        with self._lock:
            user = self.users.get(login)
            pat = user.registry_pat() if user else None
            return pat.value if pat else None

    def tokens(self):
        """Every user's ``registry`` tokens, for tests (values are secrets: do not print them)."""
        with self._lock:
            return {
                user.login: [
                    {
                        "token": p.value,
                        "issued_at": _rfc3339(p.created_at),
                        "expires_at": _rfc3339(p.expires_at),
                        "revoked": p.revoked,
                    }
                    for p in user.pats
                    if p.name == "registry"
                ]
                for user in self.users.values()
            }

    # -- what Katello computes ---------------------------------------------------------------

    def known_logins(self, logins):
        """``User.where(login: logins)``: the logins that exist here."""
        with self._lock:
            return [login for login in logins if login in self.users]

    def public_repositories(self):
        """Repositories in an environment with ``registry_unauthenticated_pull``."""
        with self._lock:
            return [name for name, public in self.repositories.items() if public]

    def user_repositories(self, login):
        """``readable_docker_catalog_as(user)``: readable repositories plus every public one."""
        with self._lock:
            readable = set(self.users[login].repositories)
            return [n for n, public in self.repositories.items() if public or n in readable]

    def host_repositories(self, consumer_uuid):
        """``readable_docker_catalog(host)``: the host's environments only, public ones included."""
        with self._lock:
            wanted = set(self.hosts[consumer_uuid])
            return [name for name in self.repositories if name in wanted]

    def _basic_user(self, credentials):
        """Foreman's Basic check: the password, or an active personal access token of the user."""
        try:
            login, _, secret = base64.b64decode(credentials, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None, ""
        # Foreman's User.find_by_login: by ``lower_login``, so the case of a login does not matter
        folded = login.lower()
        user = next((u for u in self.users.values() if u.login.lower() == folded), None)
        if user is None:
            return None, login
        if hmac.compare_digest(secret.encode(), user.password.encode()):
            return user, login
        # bytes: compare_digest refuses str with non-ASCII characters (the handler crashed)
        if any(p.active() and hmac.compare_digest(secret.encode(), p.value.encode())
               for p in user.pats):
            return user, login
        return None, login

    def _bearer_user(self, value):
        for user in self.users.values():
            if any(p.active() and hmac.compare_digest(value.encode(), p.value.encode())
                   for p in user.pats):
                return user
        return None

    def _authorize(self, authorization):
        """Foreman ``authorize``: returns (user or None, login attempted, scheme)."""
        scheme, _, credentials = (authorization or "").strip().partition(" ")
        credentials = credentials.strip()
        if scheme.lower() == "basic" and credentials:
            user, login = self._basic_user(credentials)
            return user, login, "basic"
        if scheme.lower() == "bearer" and credentials:
            user = self._bearer_user(credentials)
            return user, user.login if user else "", "bearer"
        return None, "", scheme.lower()

    def _scope_repository(self, scope):
        """Katello ``find_scope_repository``: ``scope.split(':')``, action must be exactly pull."""
        if scope is None:
            return None
        parts = scope.split(":")
        if len(parts) > 2 and parts[2] == "pull" and parts[1] in self.repositories:
            return parts[1]
        return None

    def token(self, query, authorization):
        """``GET /v2/token`` as Katello answers it: (status, body, send a Bearer challenge)."""
        with self._lock:
            scope, account = _last(query, "scope"), _last(query, "account")
            repo = self._scope_repository(scope)
            if (repo and self.repositories[repo]) or (_blank(scope) and _blank(account)):
                body = {"token": UNAUTHENTICATED, "expires_in": UNAUTHENTICATED_SECONDS,
                        "issued_at": _rfc3339(_now())}
                return 200, body, False
            user, login, scheme = self._authorize(authorization)
            if user is None:
                return 401, _unauthorized_body(login), False
            pat = user.registry_pat()
            now = _now()
            expires_at = now + datetime.timedelta(minutes=self.token_expiration_minutes)
            if pat is None:
                revoked = user.registry_pat(revoked=True)
                if revoked is not None:
                    # Katello #39042: only a login (Basic, no scope) replaces a revoked token.
                    if not _blank(scope) or scheme != "basic":
                        return 401, _unauthorized_body(login), True
                    user.pats.remove(revoked)
                pat = Pat(secrets.token_urlsafe(16), "registry", now, expires_at)
                user.pats.append(pat)
            else:
                pat.expires_at = expires_at
            body = {
                "token": pat.value,
                "expires_in": int((pat.expires_at - pat.created_at).total_seconds()),
                "issued_at": _rfc3339(pat.created_at),
            }
            return 200, body, False

    def catalog(self, query, authorization, host_uuid):
        """``GET /v2/_catalog`` as Katello answers it: (status, body, send a Bearer challenge).

        Identity, in Katello's order: a scope naming a public repository means nobody; else an
        ``Authorization`` header (Basic checked by Foreman, 401 when wrong; Bearer must be an
        active personal access token, otherwise *nobody*, not 401); else the ``HostUUID`` header
        (trusted as is); else nobody. A present but empty ``Authorization`` also skips the host.
        An unknown ``HostUUID`` is *not* an error: Katello finds no host and falls back to the
        anonymous catalog, so the answer is 200 with the public (unauthenticated-pull)
        repositories, the same as for nobody. Names are in definition order, unsorted.
        """
        with self._lock:
            repo = self._scope_repository(_last(query, "scope"))
            if repo and self.repositories[repo]:
                return 200, {"repositories": self.public_repositories()}, False
            if authorization is not None:
                scheme, _, value = authorization.strip().partition(" ")
                if scheme == "Basic" and value.strip():
                    user, login, _ = self._authorize(authorization)
                    if user is None:
                        return 401, _unauthorized_body(login), False
                    return 200, {"repositories": self.user_repositories(user.login)}, False
                if scheme == "Bearer" and value.strip():
                    user = self._bearer_user(value.strip())
                    if user is not None:
                        return 200, {"repositories": self.user_repositories(user.login)}, False
                return 200, {"repositories": self.public_repositories()}, False
            if host_uuid and host_uuid in self.hosts:
                return 200, {"repositories": self.host_repositories(host_uuid)}, False
            return 200, {"repositories": self.public_repositories()}, False

    # -- what a capsule sync pushes (Katello smart_proxy_extensions.rb) -----------------------

    def repository_list_payload(self):
        with self._lock:
            return {
                "repositories": [
                    {"repository": name, "auth_required": not public}
                    for name, public in self.repositories.items()
                ]
            }

    def user_mapping_payload(self, logins):
        """Mapping for the users Foreman knows among ``logins`` (``User.where(login: ...)``)."""
        with self._lock:
            wanted = set(logins)
            return {
                "users": [
                    {
                        login: [
                            {"repository": name, "auth_required": not self.repositories[name]}
                            for name in self.user_repositories(login)
                        ]
                    }
                    for login in self.users
                    if login in wanted
                ]
            }

    def hosts_payload(self):
        with self._lock:
            return {"hosts": [{"uuid": consumer_uuid} for consumer_uuid in self.hosts]}

    def host_mapping_payload(self):
        """``build_repo_list``: the host's repositories minus public ones, always auth_required."""
        with self._lock:
            return {
                "hosts": [
                    {
                        consumer_uuid: [
                            {"repository": name, "auth_required": True}
                            for name in self.host_repositories(consumer_uuid)
                            if not self.repositories[name]
                        ]
                    }
                    for consumer_uuid in self.hosts
                ]
            }


def _json(payload):
    """Compact JSON, as Rails renders it."""
    return json.dumps(payload, separators=(",", ":")).encode()


def _unauthorized_body(login):
    return {"error": {"message": f"Unable to authenticate user {login}".rstrip()}}


# -- pushing to the gateway ------------------------------------------------------------------


class PushStep(NamedTuple):
    """One request of a push; ``status`` is None when no HTTP answer arrived."""

    method: str
    path: str
    status: int | None


def _proxy_headers():
    """Headers of Foreman's ``ProxyAPI::Resource``: JSON accept and request/session ids."""
    return {**RESTCLIENT_HEADERS, "X-Request-Id": str(uuid.uuid4()),
            "X-Session-Id": str(uuid.uuid4())}


def put(base_url, endpoint, payload, *, auth=None, verify=True, cert=None, session=None,
        timeout=30, trailing_slash=True, headers=None):
    """PUT one admin endpoint the way Katello does; returns the ``requests.Response``.

    ``ProxyAPI::Resource#put(args)`` asks RestClient for ``resource[""]``, which appends ``/``:
    Katello's PUTs really go to ``.../repository_list/`` (trailing slash), its GET to ``.../users``.
    """
    url = f"{base_url.rstrip('/')}/{endpoint}{'/' if trailing_slash else ''}"
    body = payload if isinstance(payload, str | bytes) else rack.encode(payload)
    request_headers = {
        **(headers or _proxy_headers()),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return (session or requests).put(
        url,
        data=body.encode() if isinstance(body, str) else body,
        headers=request_headers,
        auth=auth,
        verify=verify,
        cert=cert,
        timeout=timeout,
    )


def sync_container_gateway(katello, base_url, *, auth=None, verify=True, cert=None,
                           session=None, timeout=30):
    """Katello's capsule-sync push of ``katello`` to ``base_url`` (``.../container_gateway``).

    Each step is tried on its own; a failure does not stop the next one, as in Katello. One
    request id and session id for the whole sequence, as inside one Foreman task.
    Returns the ``PushStep`` list of what was sent.
    """
    if session is None:
        with requests.Session() as own:
            return sync_container_gateway(katello, base_url, auth=auth, verify=verify,
                                          cert=cert, session=own, timeout=timeout)
    headers = _proxy_headers()
    options = {"auth": auth, "verify": verify, "cert": cert, "session": session,
               "timeout": timeout, "headers": headers}
    steps = []

    prefix = base_url.rstrip("/")

    def attempt(method, endpoint, payload=None):
        try:
            if method == "GET":
                response = session.get(f"{prefix}/{endpoint}", headers=headers, auth=auth,
                                       verify=verify, cert=cert, timeout=timeout)
            else:
                response = put(base_url, endpoint, payload, **options)
        except requests.RequestException as exc:
            path = urlsplit(f"{prefix}/{endpoint}{'/' if method == 'PUT' else ''}").path
            print(f"katello stand-in: {method} {path} failed: {type(exc).__name__}",
                  file=sys.stderr, flush=True)
            steps.append(PushStep(method, path, None))
            return None
        steps.append(PushStep(method, urlsplit(response.url).path, response.status_code))
        return response

    attempt("PUT", "repository_list", katello.repository_list_payload())
    known = katello.known_logins(_users_from(attempt("GET", "users")))
    if known:
        attempt("PUT", "user_repository_mapping", katello.user_mapping_payload(known))
    if katello.hosts:
        attempt("PUT", "update_hosts", katello.hosts_payload())
        attempt("PUT", "host_repository_mapping", katello.host_mapping_payload())
    return steps


def _users_from(response):
    """Logins in a ``GET /users`` answer; anything unusable counts as none (Katello logs it)."""
    if response is None or not 200 <= response.status_code < 300:
        return []
    try:
        users = response.json().get("users")
    except (ValueError, AttributeError):
        return []
    return [u for u in users if isinstance(u, str)] if isinstance(users, list) else []


# -- the HTTP server -------------------------------------------------------------------------


@dataclass
class Fault:
    mode: str | None = None
    options: dict = field(default_factory=dict)
    paths: tuple | None = None  # only these request paths are affected (None: all)
    remaining: int | None = None  # affect this many requests, then clear (None: until cleared)
    release: threading.Event = field(default_factory=threading.Event)  # ends hangs

    def applies_to(self, path):
        return self.mode not in (None, "down") and (self.paths is None or path in self.paths)


class KatelloStandin(Katello):
    """Katello's registry endpoints over HTTP(S), plus a control API, faults and a request log."""

    def __init__(self, host="127.0.0.1", port=0, certfile=None, keyfile=None, config=None,
                 verbose=False, control_port=0):
        super().__init__(config)
        self.host = host
        self.port = port
        self.control_port = control_port
        self._control_server = None
        self.verbose = verbose
        self._ssl = None
        if certfile:
            self._ssl = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._ssl.load_cert_chain(certfile, keyfile)
        self._server = None
        self._thread = None
        self._lifecycle = threading.RLock()
        self._fault = Fault()  # its release event ends every hang since the last set_fault
        self._up_timer = None
        self._stopped = threading.Event()
        self._log = []
        self._counts = Counter()
        self._hanging = Counter()  # path -> requests the ``hang`` fault holds now
        self._changed = threading.Condition()  # notified on each request, hang and fault change

    @property
    def url(self):
        scheme = "https" if self._ssl else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def control_url(self):
        """The control API's own listener (plain HTTP), up whatever the fault."""
        return f"http://{self.host}:{self.control_port}{CONTROL_PREFIX}"

    def start(self):
        """Listen (on free ports when 0) and serve from background threads."""
        with self._lifecycle:
            self._stopped.clear()
            self._listen()
            if self._control_server is None:
                self._control_server = _Server((self.host, self.control_port), self,
                                               control_only=True)
                self.control_port = self._control_server.server_address[1]
                threading.Thread(
                    target=self._control_server.serve_forever, kwargs={"poll_interval": 0.1},
                    name=f"katello-standin-control-{self.control_port}", daemon=True,
                ).start()
        return self

    def stop(self):
        """Stop serving; never waits for hanging or slow requests."""
        with self._lifecycle:
            self._stopped.set()
            self._fault.release.set()
            if self._up_timer:
                self._up_timer.cancel()
            self._unlisten()
            control, self._control_server = self._control_server, None
            if control is not None:
                control.shutdown()
                control.server_close()
                control.drop_connections()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _listen(self):
        if self._server is not None:
            return
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
            name=f"katello-standin-{self.port}", daemon=True,
        )
        self._thread.start()

    def _unlisten(self):
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.drop_connections(keep=threading.current_thread())
        self._thread.join(5)

    # -- faults ------------------------------------------------------------------------------

    def set_fault(self, mode, *, paths=None, times=None, **options):
        """Make the Katello endpoints misbehave; the control API is never affected.

        - ``None`` / ``"up"``: normal (listening again on the same port after ``down``);
        - ``"down"``: stop listening (connection refused), open connections are cut;
          ``seconds=N`` comes back up by itself after N seconds;
        - ``"slow"``: wait ``seconds`` (alias ``delay``, default 5) then answer normally;
        - ``"hang"``: read the request and never answer; when the fault is cleared (or the
          stand-in stops) the connection is closed without an answer; ``hanging()`` counts the
          requests held, ``wait_hanging()`` waits for them;
        - ``"error"``: answer ``status`` (default 500) with ``body`` (default: Foreman's JSON
          error for 500, an Apache HTML error page otherwise);
        - ``"garbage"``: ``kind`` = ``html`` (200 text/html page), ``truncated`` (200, JSON cut
          short), ``no_token`` (200 JSON without ``token``/``repositories``), ``redirect`` (302 to
          ``location``, default Foreman's login page), ``reset`` (close without answering).

        ``paths`` limits the fault to those request paths; ``times`` clears it after that many
        affected requests.
        """
        if mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {mode!r}; one of {FAULT_MODES}")
        if mode == "garbage" and options.get("kind", "html") not in GARBAGE_KINDS:
            raise ValueError(f"unknown garbage kind {options['kind']!r}; one of {GARBAGE_KINDS}")
        with self._lifecycle:
            if self._up_timer:
                self._up_timer.cancel()
                self._up_timer = None
            self._fault.release.set()
            mode = None if mode == "up" else mode
            self._fault = Fault(mode, options, tuple(paths) if paths else None, times)
            if mode == "down":
                self._unlisten()
                if options.get("seconds"):
                    self._up_timer = threading.Timer(options["seconds"], self.set_fault, (None,))
                    self._up_timer.daemon = True
                    self._up_timer.start()
            elif not self._stopped.is_set() and self._thread is not None:
                self._listen()
        self._notify()

    def fault(self):
        with self._lifecycle:
            f = self._fault
            return {"mode": f.mode, "paths": list(f.paths) if f.paths else None,
                    "times": f.remaining, **f.options}

    def _take_fault(self, path):
        """The fault that applies to this request (counting it against ``times``), or None."""
        with self._lifecycle:
            fault = self._fault
            if not fault.applies_to(path):
                return None
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:  # requests hanging already go on hanging
                    self._fault = Fault(release=fault.release)
            return fault

    # -- waiting for what happens (tests wait on these, never on a clock) ----------------------

    def _notify(self):
        with self._changed:
            self._changed.notify_all()

    def _wait(self, predicate, timeout, what):
        with self._changed:
            if not self._changed.wait_for(predicate, timeout):
                raise TimeoutError(f"katello stand-in: no {what} within {timeout} s")

    def _hang(self, path, release):
        """Hold a request until ``release`` is set, counted in ``hanging()`` meanwhile."""
        with self._changed:
            self._hanging[path] += 1
            self._changed.notify_all()
        try:
            release.wait()
        finally:
            with self._changed:
                self._hanging[path] -= 1
                self._changed.notify_all()

    def hanging(self, path=None):
        """Requests the ``hang`` fault holds now, in all or on ``path``."""
        with self._changed:
            return sum(self._hanging.values()) if path is None else self._hanging[path]

    def wait_hanging(self, count=1, path=None, timeout=30):
        """Block until at least ``count`` requests (on ``path``) hang; ``TimeoutError`` when
        they do not within ``timeout`` seconds."""
        self._wait(lambda: self.hanging(path) >= count, timeout,
                   f"{count} hanging request(s){f' on {path}' if path else ''}")

    def wait_requests(self, count, path=None, timeout=30):
        """Block until ``request_count(path)`` reaches ``count`` (requests received, answered
        or not); ``TimeoutError`` otherwise."""
        self._wait(lambda: self.request_count(path) >= count, timeout,
                   f"{count} request(s){f' on {path}' if path else ''}")

    def wait_fault(self, mode, timeout=30):
        """Block until the fault mode is ``mode`` (``None``: normal again, e.g. when a ``down``
        with ``seconds`` is over); ``TimeoutError`` otherwise."""
        self._wait(lambda: self.fault()["mode"] == mode, timeout, f"fault mode {mode!r}")

    # -- request log -------------------------------------------------------------------------

    def _record(self, method, path, query, header_names):
        entry = {"method": method, "path": path, "query": query, "headers": header_names,
                 "status": None, "time": time.time()}
        with self._lock:
            self._log.append(entry)
            self._counts[path] += 1
        self._notify()
        return entry

    def request_count(self, path=None):
        """Requests received on the Katello endpoints (control API excluded), total or per path."""
        with self._lock:
            return sum(self._counts.values()) if path is None else self._counts[path]

    def request_counts(self):
        """Requests per path."""
        with self._lock:
            return dict(self._counts)

    @property
    def requests(self):
        """Log of requests: method, path, query (dict of lists), header names, status, time."""
        with self._lock:
            return [dict(entry) for entry in self._log]

    def reset_counters(self):
        with self._lock:
            self._log.clear()
            self._counts.clear()

    # -- pushing -----------------------------------------------------------------------------

    def push(self, base_url, auth=None, verify=True, session=None, cert=None, timeout=30):
        """Run Katello's capsule-sync push to the gateway admin API at ``base_url``."""
        return sync_container_gateway(self, base_url, auth=auth, verify=verify, cert=cert,
                                      session=session, timeout=timeout)

    def push_one(self, base_url, endpoint, payload, **kwargs):
        """PUT one raw payload (a dict, or an already encoded string) like Katello would."""
        return put(base_url, endpoint, payload, **kwargs)


class _Server(ThreadingHTTPServer):
    """Threaded server that can cut its open connections (for ``down`` and ``stop``)."""

    daemon_threads = True
    block_on_close = False  # stop() must not wait for hanging requests

    def __init__(self, address, standin, control_only=False):
        self.standin = standin
        self.control_only = control_only
        self._connections = {}
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def finish_request(self, request, client_address):
        context = None if self.control_only else self.standin._ssl
        if context is not None:
            request.settimeout(10)
            try:
                request = context.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError):
                return
        thread = threading.current_thread()
        with self._connections_lock:
            self._connections[thread] = request
        try:
            super().finish_request(request, client_address)
        except OSError:
            pass  # the connection was cut under the handler (down/stop) or by the client
        finally:
            with self._connections_lock:
                self._connections.pop(thread, None)
            if context is not None:
                request.close()

    def drop_connections(self, keep=None):
        with self._connections_lock:
            victims = [sock for thread, sock in self._connections.items() if thread is not keep]
        for sock in victims:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address):
        pass  # a client going away is not news


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Apache"  # what answers in front of Foreman
    # Headers and body go out as separate writes; with Nagle on, a kept-alive client waits
    # ~40 ms for each answer's second segment.
    disable_nagle_algorithm = True
    timeout = 60  # idle keep-alive connections

    @property
    def standin(self):
        return self.server.standin

    def do_GET(self):
        self._dispatch()

    def do_HEAD(self):
        self._dispatch()

    def do_PUT(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_DELETE(self):
        self._dispatch()

    def version_string(self):
        return self.server_version

    def log_message(self, format, *args):
        pass  # the default prints the raw request line; _respond logs a safe summary instead

    # -- dispatch ----------------------------------------------------------------------------

    def _dispatch(self):
        parts = urlsplit(self.path)
        path = parts.path
        body = self._read_body()
        self._entry = None
        if path.startswith(CONTROL_PREFIX):
            self._control(path[len(CONTROL_PREFIX):], body)
            return
        if self.server.control_only:
            self._respond(404, _json({"error": f"only {CONTROL_PREFIX} is served here"}),
                          JSON_TYPE)
            return
        query = parse_qs(parts.query, keep_blank_values=True)
        self._entry = self.standin._record(self.command, path, query, sorted(self.headers.keys()))
        fault = self.standin._take_fault(path)
        if fault is not None and self._misbehave(fault):
            return
        authorization = self.headers.get("Authorization")
        challenge = False
        if self.command == "GET" and path in ("/v2/token", "/v2/token/"):
            status, payload, challenge = self.standin.token(query, authorization)
        elif self.command in ("GET", "HEAD") and path in ("/v2/_catalog", "/v2/_catalog/"):
            status, payload, challenge = self.standin.catalog(
                query, authorization, self.headers.get("HostUUID")
            )
        else:
            status, payload = 404, {"error": {"message": "Route not found"}}
        headers = {"Docker-Distribution-API-Version": "registry/2.0"}
        if challenge:
            headers["Www-Authenticate"] = self._challenge()
        self._respond(status, _json(payload), JSON_TYPE, headers)

    def _read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _challenge(self):
        """Katello's ``redirect_authorization_headers``."""
        host_with_port = self.headers.get("Host") or f"{self.standin.host}:{self.standin.port}"
        scheme = "https" if self.standin._ssl else "http"
        return (f'Bearer realm="{scheme}://{host_with_port}/v2/token",'
                f'service="{host_with_port.rsplit(":", 1)[0]}",'
                f'scope="repository:registry:pull,push"')

    def _respond(self, status, body, content_type, headers=None):
        entry = getattr(self, "_entry", None)
        if entry is not None:
            entry["status"] = status
        if self.standin.verbose and entry is not None:
            print(f"katello stand-in: {self.command} {entry['path']} -> {status}",
                  file=sys.stderr, flush=True)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    # -- faults ------------------------------------------------------------------------------

    def _misbehave(self, fault):
        """Apply ``fault``; returns True when the request has been dealt with."""
        options = fault.options
        if fault.mode == "slow":
            delay = float(options.get("seconds", options.get("delay", 5)))
            if self.standin._stopped.wait(delay):
                self.close_connection = True
                return True
            return False
        if fault.mode == "hang":
            self.standin._hang(self._entry["path"], fault.release)
            self.close_connection = True
            return True
        if fault.mode == "error":
            status = int(options.get("status", 500))
            self._respond(status, *_error_page(status, options.get("body")))
            return True
        kind = options.get("kind", "html")
        if kind == "reset":
            self.close_connection = True
        elif kind == "html":
            self._respond(200, _LOGIN_PAGE, "text/html; charset=utf-8")
        elif kind == "truncated":
            whole = _json({"token": secrets.token_urlsafe(16), "expires_in": 3600,
                           "issued_at": _rfc3339(_now())})
            self._respond(200, whole[: len(whole) // 2], JSON_TYPE)
        elif kind == "no_token":
            self._respond(200, _json({"expires_in": 3600, "issued_at": _rfc3339(_now())}),
                          JSON_TYPE)
        elif kind == "redirect":
            location = options.get("location", f"{self.standin.url}/users/login")
            self._respond(302, b"", "text/html; charset=utf-8", {"Location": location})
        return True

    # -- control API -------------------------------------------------------------------------

    def _control(self, route, body):
        try:
            data = json.loads(body) if body else {}
            status, payload = self._control_route(self.command, route.rstrip("/"), data)
        except (ValueError, TypeError, KeyError) as exc:
            status, payload = 400, {"error": f"{type(exc).__name__}: {exc}"}
        self._respond(status, json.dumps(payload).encode(), "application/json")

    def _control_route(self, method, route, data):
        standin = self.standin
        section, _, name = route.partition("/")
        name = unquote(name)
        if route == "state":
            if method == "PUT":
                standin.load(data)
            return 200, standin.state()
        if route == "tokens" and method == "GET":
            return 200, standin.tokens()
        if route == "fault":
            if method == "PUT":
                if data.get("mode") == "down":
                    self.close_connection = True  # this connection is about to be cut anyway
                standin.set_fault(**data)
            return 200, standin.fault()
        if route == "requests":
            if method == "DELETE":
                standin.reset_counters()
            return 200, {"total": standin.request_count(), "counts": standin.request_counts(),
                         "log": standin.requests}
        if route == "push" and method == "POST":
            return 200, {"results": [list(step) for step in _push_from_json(standin, data)]}
        if section in ("users", "repositories", "hosts"):
            return self._control_collection(method, section, name, data)
        return 404, {"error": f"no control route {method} {CONTROL_PREFIX}{route}"}

    def _control_collection(self, method, section, name, data):
        standin = self.standin
        if section == "users" and name.endswith("/revoke") and method == "POST":
            standin.revoke_pat(name[: -len("/revoke")], data.get("token"))
        elif not name and method == "PUT":
            {"users": standin.set_users, "repositories": standin.set_repositories,
             "hosts": standin.set_hosts}[section](data)
        elif name and method == "PUT":
            if section == "users":
                standin._add_user_spec(name, data)
            elif section == "repositories":
                standin.add_repository(name, auth_required=data.get("auth_required", True))
            else:
                standin.add_host(name, repositories=data.get("repositories", ()))
        elif name and method == "DELETE":
            {"users": standin.remove_user, "repositories": standin.remove_repository,
             "hosts": standin.remove_host}[section](name)
        elif method != "GET":
            return 404, {"error": f"no control route {method} {CONTROL_PREFIX}{section}/{name}"}
        return 200, standin.state()[section]


def _push_from_json(standin, data):
    """``POST /_standin/push`` and ``--push-to``: url, user, password, ca, cert, key."""
    auth = (data["user"], data.get("password", "")) if data.get("user") else None
    verify = data.get("ca") or data.get("verify", True)
    cert = (data["cert"], data["key"]) if data.get("cert") else None
    return standin.push(data["url"], auth=auth, verify=verify, cert=cert)


def _error_page(status, body=None):
    """(body, content type) of a 5xx: Foreman's JSON for 500, an Apache page for the others."""
    if body is not None:
        return body.encode() if isinstance(body, str) else body, "text/plain; charset=utf-8"
    if status == 500:
        message = {"error": {"message": "Internal Server Error", "class": "RuntimeError"}}
        return _json(message), JSON_TYPE
    title = {502: "Proxy Error", 503: "Service Unavailable", 504: "Gateway Timeout"}.get(
        status, "Error")
    page = (f"<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n"
            f"<title>{status} {title}</title>\n</head><body>\n<h1>{title}</h1>\n"
            f"<p>The server is temporarily unable to service your request.</p>\n</body></html>\n")
    return page.encode(), "text/html; charset=iso-8859-1"


_LOGIN_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Login</title></head>\n"
    b"<body><form action=\"/users/login\" method=\"post\">"
    b"<input name=\"login[login]\"><input name=\"login[password]\" type=\"password\">"
    b"</form></body></html>\n"
)


# -- CLI -------------------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m devtools.katello_standin",
        description="Serve a Katello stand-in (registry token/catalog, control API /_standin/).",
    )
    parser.add_argument("--port", type=int, default=24818)
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--control-port", type=int, default=24819,
                        help="the control API's own port, up while the stand-in is 'down'")
    parser.add_argument("--config", type=Path, help="JSON state (users, repositories, hosts)")
    parser.add_argument("--certfile", help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--keyfile", help="private key of --certfile")
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    args = parser.parse_args(argv)

    config = json.loads(args.config.read_text()) if args.config else None
    standin = KatelloStandin(args.bind, args.port, args.certfile, args.keyfile, config=config,
                             verbose=not args.quiet, control_port=args.control_port)
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    standin.start()
    print(f"Katello stand-in listening on {standin.url} (control API {CONTROL_PREFIX}, also at "
          f"{standin.control_url}, which stays up while it is 'down')", flush=True)
    try:
        while not done.wait(1):
            pass
    finally:
        standin.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
