"""A real Pulp stack (pulpcore-api over TLS, pulpcore-content, pulpcore-worker) on loopback.

Used by the functional test fixture, the demo and the benchmarks. The API is served over HTTPS
with a certificate from a per-state-dir CA because containers/image clients stall 10 s per command
against a plain-HTTP registry. ``behind_web_server=True`` lays it out as install.md does
instead: pulpcore-api and pulpcore-content on install.md's socket units, nginx with install.md's
server on the API port, install.md's settings (the demo).
"""

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import requests

from devtools import docs
from devtools.net import free_port, wait_until
from devtools.nginx import Nginx, remote_user_map
from devtools.pki import CertificateAuthority
from devtools.pulp_settings import write_settings

BIN = Path(sys.executable).parent
# gunicorn 25 added a control socket, at the same path for every server unless turned off (the
# API and content servers would collide); older ones (pulpcore < 3.100) know no such option.
NO_CONTROL_SOCKET = ["--no-control-socket"] if int(version("gunicorn").split(".")[0]) >= 25 else []
ACCESS_LOG_FORMAT = 'pulp [%({correlation-id}o)s]: %(h)s %(u)s %(t)s "%(r)s" %(s)s %(b)s %(M)sms'


class PulpStack:
    """One Pulp installation in ``state_dir``; ``start()`` runs its three services."""

    def __init__(
        self,
        state_dir,
        database,
        *,
        api_port=None,
        content_port=None,
        settings=None,
        api_workers=2,
        behind_web_server=False,
    ):
        self.state = Path(state_dir).resolve()
        self.database = database
        self.api_port = api_port or free_port()
        self.content_port = content_port or free_port()
        self.extra_settings = settings or {}
        self.api_workers = api_workers
        self.logs = self.state / "logs"
        self.tls = self.state / "tls"
        self.processes = {}
        self.behind_web_server = behind_web_server
        self.web_server = self.api_socket = None

    # Addresses and credentials -------------------------------------------------------------
    @property
    def api_url(self):
        return f"https://127.0.0.1:{self.api_port}"

    @property
    def registry(self):
        """The registry host as clients write it in image references."""
        return f"127.0.0.1:{self.api_port}"

    @property
    def content_url(self):
        if self.behind_web_server:
            return self.api_url  # the web server routes /pulp/content/
        return f"http://127.0.0.1:{self.content_port}"

    @property
    def ca_file(self):
        return self.tls / "ca.crt"

    @property
    def certs_dir(self):
        """A containers/image ``certs.d``-style directory trusting the stack's CA."""
        return self.tls / "certs.d"

    @property
    def settings_path(self):
        return self.state / "settings.py"

    @property
    def admin_auth(self):
        return ("admin", (self.state / "secrets" / "admin_password").read_text().strip())

    def env(self):
        """Environment for pulpcore commands: the caller's (so ``PULP_*`` reach Pulp) + settings."""
        env = dict(os.environ, PULP_SETTINGS=str(self.settings_path))
        env.pop("DJANGO_SETTINGS_MODULE", None)
        if self.api_socket:
            env["PULP_KATELLO_GATEWAY_API_SOCKET"] = str(self.api_socket)
        return env

    def session(self, auth="admin"):
        """A requests session against the API; ``auth="admin"`` logs in as the Pulp admin."""
        session = requests.Session()
        session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
        session.verify = str(self.ca_file)
        if auth == "admin":
            session.auth = self.admin_auth
        elif auth:
            session.auth = auth
        return session

    # Lifecycle ------------------------------------------------------------------------------
    def prepare(self):
        """Write settings, keys and TLS files; migrate; set the admin password. Idempotent."""
        self.logs.mkdir(parents=True, exist_ok=True)
        self._write_tls()
        write_settings(
            self.state,
            self.database,
            api_origin=self.api_url,
            content_origin=self.content_url,
            extra=self.extra_settings,
        )
        if self.behind_web_server:
            with open(self.settings_path, "a") as settings:  # as an admin adds them
                settings.write(docs.pulp_settings(CONTENT_ORIGIN=self.api_url,
                                                  KATELLO_GATEWAY_API_SOCKET=None))
        self.database.ensure()
        self.manage("migrate", "--noinput")
        password_file = self.state / "secrets" / "admin_password"
        if not password_file.exists():
            password_file.write_text(secrets.token_urlsafe(18))
        self.manage("reset-admin-password", f"--password={password_file.read_text().strip()}")

    def _write_tls(self):
        ca = CertificateAuthority(self.tls, common_name="pulp_katello_gateway local CA")
        server_cert = self.tls / "server.crt"
        if not server_cert.exists():
            ca.issue("127.0.0.1", server_cert, self.tls / "server.key", server=True)
        for host in (self.registry, f"localhost:{self.api_port}"):
            target = self.certs_dir / host
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(ca.cert_path, target / "ca.crt")
        shutil.copy(ca.cert_path, self.certs_dir / "ca.crt")

    def manage(self, *args, check=True):
        with open(self.logs / "manage.log", "ab") as log:
            return subprocess.run(
                [str(BIN / "pulpcore-manager"), *args],
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                check=check,
                cwd=self.state,
            )

    def _spawn(self, name, args, extra_env=None, socket_unit=None):
        """Start ``args`` as ``name``; with ``socket_unit`` (a ``SocketUnit``), on that socket,
        handed over as systemd does."""
        log = open(self.logs / f"{name}.log", "ab")
        env = self.env()
        env.update(extra_env or {})
        listener = socket_unit.listen() if socket_unit else None
        if listener:
            args = socket_unit.command(listener, args)
        self.processes[name] = subprocess.Popen(
            args,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.state,
            start_new_session=True,
            pass_fds=(listener.fileno(),) if listener else (),
        )
        log.close()
        if listener:
            listener.close()

    def start_api(self, name="api", port=None, *, tls=True, env=None, settings_text=None,
                  socket_unit=None):
        """Start a pulpcore-api; a second one on another port makes a second API node.

        ``tls=False`` serves plain HTTP, for a node behind a TLS-terminating proxy; ``env`` adds
        environment variables (``PULP_*`` settings) for this node only, and ``settings_text``
        lines appended to the stack's settings file for this node only (as an admin would);
        ``socket_unit`` (a ``SocketUnit``) serves it on that Unix socket instead of a port, as
        Katello's installers and install.md do.
        """
        port = port or self.api_port
        extra_env = dict(env or {})
        if settings_text:
            node_settings = self.state / f"settings-{name}.py"
            node_settings.write_text(self.settings_path.read_text() + "\n" + settings_text)
            extra_env["PULP_SETTINGS"] = str(node_settings)
        if tls:
            extra_env["GUNICORN_CMD_ARGS"] = (
                f"--certfile={self.tls / 'server.crt'} --keyfile={self.tls / 'server.key'}"
            )
        self._spawn(
            name,
            [
                str(BIN / "pulpcore-api"),
                "--bind", f"127.0.0.1:{port}",
                "--workers", str(self.api_workers),
                "--timeout", "90",
                *NO_CONTROL_SOCKET,
                "--access-logfile", str(self.logs / f"{name}-access.log"),
                "--access-logformat", ACCESS_LOG_FORMAT,
            ],
            extra_env,
            socket_unit,
        )
        return port

    def start_content(self, name="content", *, socket_unit=None):
        """Start a pulpcore-content, on ``content_port`` or on ``socket_unit``'s socket."""
        self._spawn(
            name,
            [
                str(BIN / "pulpcore-content"),
                "--bind", f"127.0.0.1:{self.content_port}",
                "--workers", "1",
                *NO_CONTROL_SOCKET,
                "--access-logfile", str(self.logs / f"{name}-access.log"),
            ],
            socket_unit=socket_unit,
        )

    def start(self, timeout=90):
        if self.behind_web_server:
            self._start_behind_nginx()
        else:
            self.start_api()
            self.start_content()
        self._spawn("worker", [str(BIN / "pulpcore-worker")])
        wait_until(self._ready, timeout, interval=0.5, what=f"Pulp at {self.api_url}")
        return self

    def _start_behind_nginx(self):
        """pulpcore-api and pulpcore-content on install.md's sockets (in a directory of /tmp
        that nginx's workers may enter), nginx with install.md's server on the API port."""
        run = Path(tempfile.mkdtemp(prefix="pulp-run-"))
        run.chmod(0o755)
        api = docs.socket_unit("pulpcore-api", run / "pulpcore-api.sock")
        content = docs.socket_unit("pulpcore-content", run / "pulpcore-content.sock")
        self.api_socket = api.path
        self.start_api(tls=False, socket_unit=api)
        self.start_content(socket_unit=content)
        self.web_server = Nginx(
            self.state / "nginx", api_socket=api.path, content_upstream=f"unix:{content.path}",
            server_cert=self.tls / "server.crt", server_key=self.tls / "server.key",
            client_ca=self.ca_file, remote_user_map=remote_user_map(self.state / "nginx"),
            port=self.api_port,
        ).start()
        self.processes["nginx"] = self.web_server.process

    def _ready(self):
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                log = (self.logs / f"{name}.log").read_text()[-3000:]
                raise RuntimeError(f"pulp {name} exited with {proc.returncode}:\n{log}")
        try:
            status = requests.get(
                f"{self.api_url}/pulp/api/v3/status/", verify=str(self.ca_file), timeout=5
            ).json()
            requests.get(f"{self.content_url}/pulp/content/", verify=str(self.ca_file), timeout=5)
        except (requests.RequestException, ValueError):
            return False
        return (
            status["database_connection"]["connected"]
            and status["online_workers"]
            and status["online_api_apps"]
            and status["online_content_apps"]
        )

    def stop_process(self, name, timeout=20):
        proc = self.processes.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)

    def stop(self):
        if self.web_server is not None:
            self.processes.pop("nginx", None)
            self.web_server.stop()
        for name in ["worker", *[n for n in self.processes if n.startswith(("content", "api"))]]:
            self.stop_process(name)
        if self.api_socket is not None:
            shutil.rmtree(self.api_socket.parent, ignore_errors=True)

    def wait_task(self, task_href, timeout=60):
        session = self.session()

        def finished():
            task = session.get(self.api_url + task_href).json()
            return task if task["state"] in ("completed", "failed", "canceled") else None

        task = wait_until(finished, timeout, what=f"task {task_href}")
        if task["state"] != "completed":
            raise RuntimeError(f"task {task_href} ended {task['state']}: {task.get('error')}")
        return task

    def access_lines(self, containing, name="api"):
        """The lines of API server ``name``'s access log that contain ``containing``."""
        path = self.logs / f"{name}-access.log"
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        return [line for line in lines if containing in line]

    def wait_access_lines(self, containing, count, name="api", timeout=60):
        """At least ``count`` such lines, once written: gunicorn logs a request after answering
        it, so a client may be done before its last request is in the log."""
        def enough():
            lines = self.access_lines(containing, name)
            return lines if len(lines) >= count else None

        return wait_until(enough, timeout, what=f"{count} access log lines with {containing!r}")

    def pids(self):
        return {name: proc.pid for name, proc in self.processes.items()}


def wait_pid_gone(pid, timeout=20):
    """True once ``pid`` is gone (or a zombie) — used by the demo to stop what it started."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        except (FileNotFoundError, IndexError):
            return True
        if state == "Z":
            return True
        time.sleep(0.1)
    return False
