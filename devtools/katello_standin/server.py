"""The stand-in served: Katello's registry endpoints over HTTP(S), faults, a control API.

Tests and the demo need a Foreman that can be made to fail on demand (down, slow, hanging,
erroring, answering garbage) and watched: a request log, per-path counters, and waits on what
happened (``wait_hanging()``, ``wait_fault()``) so that tests never wait on a clock. The control
API under ``/_standin/`` (JSON) does the same from another process; it also listens on a port of
its own (``control_url``), which stays up while the Katello endpoints are ``down``.
"""

import json
import secrets
import socket
import ssl
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from devtools.katello_standin.model import Katello, rfc3339, utc_now
from devtools.katello_standin.push import sync_container_gateway

HOST = "127.0.0.1"
CONTROL_PREFIX = "/_standin/"
FAULT_MODES = (None, "up", "down", "slow", "hang", "error", "garbage")
GARBAGE_KINDS = ("html", "truncated", "no_token", "redirect", "reset")
JSON_TYPE = "application/json; charset=utf-8"  # what Rails sends


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

    def __init__(self, port=0, certfile=None, keyfile=None, config=None, verbose=False,
                 control_port=0):
        super().__init__(config)
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
        return f"{scheme}://{HOST}:{self.port}"

    @property
    def control_url(self):
        """The control API's own listener (plain HTTP), up whatever the fault."""
        return f"http://{HOST}:{self.control_port}{CONTROL_PREFIX}"

    def start(self):
        """Listen (on free ports when 0) and serve from background threads."""
        with self._lifecycle:
            self._stopped.clear()
            self._listen()
            if self._control_server is None:
                self._control_server = _Server((HOST, self.control_port), self,
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
        self._server = _Server((HOST, self.port), self)
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

    def push(self, base_url, auth=None, verify=True, cert=None, timeout=30):
        """Run Katello's capsule-sync push to the gateway admin API at ``base_url``."""
        return sync_container_gateway(self, base_url, auth=auth, verify=verify, cert=cert,
                                      timeout=timeout)


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
        host_with_port = self.headers.get("Host") or f"{HOST}:{self.standin.port}"
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
                           "issued_at": rfc3339(utc_now())})
            self._respond(200, whole[: len(whole) // 2], JSON_TYPE)
        elif kind == "no_token":
            self._respond(200, _json({"expires_in": 3600, "issued_at": rfc3339(utc_now())}),
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
                standin.add_user_spec(name, data)
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


def _json(payload):
    """Compact JSON, as Rails renders it."""
    return json.dumps(payload, separators=(",", ":")).encode()


def _push_from_json(standin, data):
    """``POST /_standin/push``: url, user, password, ca, cert, key."""
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
