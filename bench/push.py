"""Benchmark of the Katello push API at full scale: 100 000 repositories, 1 000 000 grants.

    PULP_SETTINGS=… DJANGO_SETTINGS_MODULE=pulpcore.app.settings python -m bench.push
    python -m bench.push --through apache    # a whole capsule sync through Apache httpd

Works in its own database, ``bench_<configured name>`` (created and migrated on first use, kept
for reruns). The bodies are built in Katello's form encoding (what RestClient sends), then each
push runs in a fresh Python process that, like a pulpcore-api worker, holds the raw body and
passes it through Django's WSGI handler: middleware, authentication (Basic, a user with the
``katello_gateway.katello`` role), the Rack form parser, validation and the diff write. Reported
per push: wall time of the request and the peak RSS of that process (ru_maxrss), next to the
RSS it had before the request. Linux carries ru_maxrss over from the parent at fork, so this
orchestrating process stays small: preparing and building run in child processes too.

``--through apache`` measures the path a capsule serves instead, for a Katello-shaped sync:
100 000 repositories; 100 users with 10 000 grants each, every list also naming all public
repositories (``auth_required`` false, as Katello sends them); 1 000 hosts with 100 grants each.
It starts what it needs and removes it afterwards: a database from ``bench_database``
(``DATABASE_URL``'s server or a throwaway cluster), pulpcore-api on a Unix socket with
install.md's remote-user settings, and Apache httpd in front of it (``devtools.apache``, as
install.md configures it), which maps Foreman's client certificate to Katello's Pulp user. The
requests are Katello's, in its order and encoding (``devtools.katello_standin.push.put``:
RestClient's headers, PUT with the trailing slash) with Foreman's certificate:
``PUT repository_list/``, ``GET users``, ``PUT user_repository_mapping/``, ``PUT update_hosts/``,
``PUT host_repository_mapping/``. The first sync fills empty tables (``--first-syncs`` times,
the tables emptied again in between: on a shared machine one sync's time drifts by ±10 %),
``--repeats`` more change nothing (every later capsule sync; a worker's memory after one push is
what the next starts from). Reported per request: the client's wall time and gunicorn's own
(its access log, by Correlation-ID); per sync their sums, and the peak RSS of each gunicorn
worker of that pulpcore-api (VmHWM, reset before the sync and polled while it runs).

Both modes exit 1 past this project's limits: 30 s (a push, or a whole sync on the server) and
1 GiB peak RSS (the process, or any worker).
"""

import argparse
import io
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlsplit

from devtools.clients import KATELLO_PUSH_PATH as PUSH_PATH
from devtools.clients import basic_authorization
from devtools.rack import escape

BENCH_USER, BENCH_PASSWORD = "bench-katello", "bench-katello-password"
LIMIT_SECONDS, LIMIT_RSS_MIB = 30, 1024
# Sizes per mode: pushes one by one in-process, or a Katello-shaped sync through Apache.
SHAPES = {
    "wsgi": {"repositories": 100_000, "users": 1_000, "per_user": 1_000},
    "apache": {"repositories": 100_000, "users": 100, "per_user": 10_000, "hosts": 1_000,
               "per_host": 100},
}
# Who Foreman's client certificate names, and the Pulp user Apache maps it to (install.md step 5).
# PUSH_USER: the user install.md's Apache configuration names (KATELLO_GATEWAY_PUSH_USER).
FOREMAN_CN, PUSH_USER = "foreman.bench.example.com", "katello"
# ProxyAPI::Resource's RestClient timeout: a slower request fails Katello's capsule sync.
KATELLO_TIMEOUT = 120
# Katello's sync_container_gateway, in order: (method, endpoint, body file).
SYNC_STEPS = (
    ("PUT", "repository_list", "repositories"),
    ("GET", "users", None),
    ("PUT", "user_repository_mapping", "mapping"),
    ("PUT", "update_hosts", "hosts"),
    ("PUT", "host_repository_mapping", "host-mapping"),
)
COUNTED_TABLES = {
    "repositories": "katello_gateway_katellorepository",
    "user grants": "katello_gateway_userrepositorygrant",
    "hosts": "katello_gateway_consumerhost",
    "host grants": "katello_gateway_hostrepositorygrant",
}


def _repository_name(index):
    return f"acme-prod-cv{index // 1000:03d}-product-repo{index % 1000:03d}"


def _is_public(index):
    return index % 50 == 0


def _login(index):
    return f"user{index:04d}@example.com"


def _host_uuid(index):
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"host{index:04d}.example.com"))


def repository_list_body(repositories):
    """Every 50th repository is public (an unauthenticated-pull environment)."""
    return "&".join(
        f"repositories[][repository]={escape(_repository_name(index))}"
        f"&repositories[][auth_required]={'false' if _is_public(index) else 'true'}"
        for index in range(repositories)
    ).encode()


def _protected(repositories, seed, count, shift=0):
    """``count`` distinct protected repositories, a different set for each ``seed``."""
    protected = [index for index in range(repositories) if not _is_public(index)]
    return [protected[(seed * 7919 + (k + shift) * 101) % len(protected)] for k in range(count)]


def _mapping_body(key, mapping):
    """``<key>[][<principal>][][repository|auth_required]`` fields of ``mapping``, pairs of
    (principal, [(repository index, auth_required), …])."""
    parts = []
    for principal, entries in mapping:
        prefix = f"{key}[][{escape(principal)}][]"
        parts.extend(
            f"{prefix}[repository]={escape(_repository_name(index))}"
            f"&{prefix}[auth_required]={'true' if protected else 'false'}"
            for index, protected in entries
        )
    return "&".join(parts).encode()


def user_mapping_body(users, repositories, per_user, shift=0, public=20):
    """Each user maps ``per_user`` distinct protected repositories (``shift`` varies the set).

    Like Katello, each list also names public repositories (the first ``public``, all with
    None) with ``auth_required=false``; they carry no grant.
    """
    public = [index for index in range(repositories) if _is_public(index)][:public]
    return _mapping_body("users", (
        (_login(user), [(index, True) for index in _protected(repositories, user, per_user, shift)]
         + [(index, False) for index in public])
        for user in range(users)
    ))


def hosts_body(hosts):
    """``PUT update_hosts``: every host using the capsule."""
    return "&".join(f"hosts[][uuid]={_host_uuid(host)}" for host in range(hosts)).encode()


def host_mapping_body(hosts, repositories, per_host):
    """Each host maps ``per_host`` protected repositories (Katello leaves public ones out)."""
    return _mapping_body("hosts", (
        (_host_uuid(host), [(index, True) for index in _protected(repositories, host, per_host)])
        for host in range(hosts)
    ))


def _users(users, katello, password=None):
    """``users`` Foreman users (Katello maps only those Pulp knows) and Katello's Pulp user."""
    from django.contrib.auth import get_user_model
    from pulpcore.plugin.util import assign_role

    from pulp_katello_gateway.app.models import ForemanUser

    ForemanUser.objects.all().delete()
    for user in range(users):
        ForemanUser.objects.create_for_login(_login(user))
    User = get_user_model()
    User.objects.filter(username=katello).delete()
    assign_role("katello_gateway.katello", User.objects.create_user(katello, password=password))


def _prepare(users):
    """Set up the bench database and print its name."""
    import django

    django.setup()
    from django.db import connection

    from pulp_katello_gateway.app.models import (
        ConsumerHost,
        HostRepositoryGrant,
        KatelloRepository,
        UserRepositoryGrant,
    )

    connection.settings_dict["TEST"]["NAME"] = f"bench_{connection.settings_dict['NAME']}"
    name = connection.creation.create_test_db(verbosity=0, keepdb=True, serialize=False)
    tables = [
        model._meta.db_table
        for model in (UserRepositoryGrant, HostRepositoryGrant, KatelloRepository, ConsumerHost)
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)}")
    _users(users, BENCH_USER, BENCH_PASSWORD)
    print(json.dumps({"database": name}))


def _known_users(users):
    """Katello's Pulp user and the Foreman users in the configured database (a running stack's)."""
    import django

    django.setup()
    _users(users, PUSH_USER)


def _build(workdir, args):
    """Write the bodies of the scenarios into ``workdir``."""
    if args.through == "apache":
        bodies = {
            "repositories": repository_list_body(args.repositories),
            "mapping": user_mapping_body(args.users, args.repositories, args.per_user,
                                         public=None),
            "hosts": hosts_body(args.hosts),
            "host-mapping": host_mapping_body(args.hosts, args.repositories, args.per_host),
        }
    else:
        bodies = {
            "repositories": repository_list_body(args.repositories),
            "mapping": user_mapping_body(args.users, args.repositories, args.per_user),
            "mapping-changed": user_mapping_body(args.users, args.repositories, args.per_user,
                                                 shift=10),
        }
    for name, body in bodies.items():
        (Path(workdir) / f"{name}.body").write_bytes(body)


def _counts():
    from pulp_katello_gateway.app.models import KatelloRepository, UserRepositoryGrant

    return KatelloRepository.objects.count(), UserRepositoryGrant.objects.count()


def _environ(method, endpoint, body, content_type):
    authorization = basic_authorization(BENCH_USER, BENCH_PASSWORD)
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": PUSH_PATH + endpoint,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "443",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_ACCEPT": "application/json",
        "HTTP_AUTHORIZATION": authorization,
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "https",
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def _request(handler, method, endpoint, body=b"", content_type=""):
    statuses = []
    environ = _environ(method, endpoint, body, content_type)
    response = handler(environ, lambda status, headers: statuses.append(status))
    content = b"".join(response)
    return statuses[0], content


def _child(endpoint, body_file):
    """One push in this process; prints its figures as JSON."""
    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler

    handler = WSGIHandler()
    status, _ = _request(handler, "GET", "users")  # warm up: URLconf, auth, first queries
    if not status.startswith("200"):
        raise SystemExit(f"warm-up GET users answered {status}")
    body = Path(body_file).read_bytes()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    status, content = _request(
        handler, "PUT", endpoint, body, "application/x-www-form-urlencoded"
    )
    seconds = time.perf_counter() - started
    repositories, grants = _counts()
    print(
        json.dumps(
            {
                "status": status,
                "content": content.decode(errors="replace")[:300],
                "seconds": seconds,
                "rss_before_mib": rss_before,
                "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "repositories": repositories,
                "grants": grants,
            }
        )
    )


def _python(*args, env=None):
    """Run ``python -m bench.push *args``; returns the JSON its last output line holds."""
    completed = subprocess.run(
        [sys.executable, "-m", "bench.push", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise SystemExit(f"bench.push {' '.join(args)} failed\n{completed.stderr[-3000:]}")
    lines = completed.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else None


def _run(database, label, endpoint, path):
    result = _python(
        "--child", endpoint, str(path), env=dict(os.environ, PULP_DATABASES__default__NAME=database)
    )
    result.update(label=label, body_mb=path.stat().st_size / 1e6)
    if not result["status"].startswith("200"):
        raise SystemExit(f"{label}: {result['status']} {result['content']}")
    return result


def _shape_args(args):
    """The command-line options that give the children this run's mode and sizes."""
    options = ["--through", args.through]
    for name in SHAPES[args.through]:
        options += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    return options


def _in_process(args):
    """Each push alone through Django's WSGI handler, in a fresh process."""
    database = _python("--prepare", *_shape_args(args))["database"]
    print(f"database {database}: {args.repositories} repositories, {args.users} Foreman users, "
          f"{args.users * args.per_user} user->repository pairs", flush=True)
    scenarios = [
        ("repository_list, all new", "repository_list", "repositories"),
        ("user_repository_mapping, all new", "user_repository_mapping", "mapping"),
        ("user_repository_mapping, unchanged", "user_repository_mapping", "mapping"),
        ("user_repository_mapping, 1% replaced", "user_repository_mapping", "mapping-changed"),
        ("repository_list, unchanged", "repository_list", "repositories"),
    ]
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-push-") as workdir:
        _python("--build", workdir, *_shape_args(args))
        for label, endpoint, body in scenarios:
            results.append(_run(database, label, endpoint, Path(workdir) / f"{body}.body"))
            r = results[-1]
            print(f"  {label:40s} {r['body_mb']:7.1f} MB {r['seconds']:7.2f} s "
                  f"peak RSS {r['peak_rss_mib']:6.0f} MiB (before {r['rss_before_mib']:4.0f}) "
                  f"-> {r['repositories']} repositories, {r['grants']} grants", flush=True)
    worst_time = max(r["seconds"] for r in results)
    worst_rss = max(r["peak_rss_mib"] for r in results)
    ok = worst_time <= LIMIT_SECONDS and worst_rss <= LIMIT_RSS_MIB
    report = {
        "repositories": args.repositories,
        "users": args.users,
        "per_user": args.per_user,
        "pairs": args.users * args.per_user,
        "limits": {"seconds": LIMIT_SECONDS, "peak_rss_mib": LIMIT_RSS_MIB},
        "results": results,
    }
    print(f"slowest push {worst_time:.2f} s (limit {LIMIT_SECONDS} s), highest peak RSS "
          f"{worst_rss:.0f} MiB (limit {LIMIT_RSS_MIB} MiB): {'OK' if ok else 'OVER LIMIT'}")
    return report, ok


class WorkerMemory:
    """Peak RSS of the gunicorn workers of the server whose master is ``master`` (a pid).

    Each worker's high-water mark (VmHWM) is reset on entry (``clear_refs``), then read every
    ``interval`` seconds, so a worker that gunicorn replaces is counted before it is gone.
    """

    def __init__(self, master, interval=0.25):
        self.master, self.interval = master, interval
        self.peak_kib = {}
        self._done = threading.Event()
        self._poller = threading.Thread(target=self._poll_until_done, daemon=True)

    def workers(self):
        children = Path(f"/proc/{self.master}/task/{self.master}/children").read_text()
        return [int(pid) for pid in children.split()]

    def __enter__(self):
        for pid in self.workers():
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        self._poller.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._poller.join()
        self._poll()

    def _poll_until_done(self):
        while not self._done.wait(self.interval):
            self._poll()

    def _poll(self):
        for pid in self.workers():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:  # exited meanwhile
                continue
            kib = int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.M).group(1))
            self.peak_kib[pid] = max(kib, self.peak_kib.get(pid, 0))

    def peak_mib(self):
        """Each worker's peak, in the order of their pids."""
        return [round(kib / 1024) for _, kib in sorted(self.peak_kib.items())]


@dataclass
class Capsule:
    """What Katello talks to: Apache in front of ``stack``'s pulpcore-api (``api``)."""

    stack: object
    url: str  # Katello's base URL of the push API, ``…/container_gateway``
    session: object
    tls: dict  # requests' verify (the stack's CA) and cert (Foreman's)


@contextmanager
def _capsule(tmp, args):
    """Start PostgreSQL, pulpcore-api on a Unix socket with the Katello and Foreman users, and
    Apache in front of it; stop them on leaving."""
    from devtools import docs
    from devtools.apache import Apache
    from devtools.net import wait_until
    from devtools.pg import bench_database
    from devtools.pki import CertificateAuthority
    from devtools.stack import PulpStack

    database, cluster = bench_database(tmp, "bench_push_apache")
    stack, proxy = PulpStack(tmp / "pulp", database), None
    try:
        stack.prepare()
        api_socket = docs.socket_unit("pulpcore-api", tmp / "api.sock")
        stack.start_api("api", tls=False, socket_unit=api_socket,
                        settings_text=docs.block("python", "REMOTE_USER_ENVIRON_NAME"))
        _python("--known-users", *_shape_args(args),
                env=dict(stack.env(), DJANGO_SETTINGS_MODULE="pulpcore.app.settings"))
        katello_ca = CertificateAuthority(tmp / "katello-ca", common_name="Katello bench CA")
        foreman = (str(tmp / "foreman.crt"), str(tmp / "foreman.key"))
        katello_ca.issue(FOREMAN_CN, *foreman)
        proxy = Apache(
            tmp / "apache", api_socket=api_socket.path,
            content_upstream=f"http://127.0.0.1:{stack.content_port}",
            server_cert=stack.tls / "server.crt", server_key=stack.tls / "server.key",
            client_ca=katello_ca.cert_path, foreman_cn=FOREMAN_CN,
        ).start()
        capsule = Capsule(stack, f"{proxy.url}/container_gateway", stack.session(auth=None),
                          {"verify": str(stack.ca_file), "cert": foreman})

        def users_answered(_=None):
            try:
                return capsule.session.get(f"{capsule.url}/users", timeout=30, **capsule.tls).ok
            except OSError:
                return False

        wait_until(users_answered, 90, what="Pulp behind Apache")
        with ThreadPoolExecutor(stack.api_workers) as pool:  # warm up every worker
            list(pool.map(users_answered, range(4 * stack.api_workers)))
        yield capsule
    finally:
        if proxy is not None:
            proxy.stop()
        stack.stop()
        if cluster is not None:
            cluster.stop()


def _sync(capsule, bodies, logins):
    """Katello's capsule sync (``SYNC_STEPS`` one after the other); a record per request."""
    from devtools.katello_standin.push import RESTCLIENT_HEADERS, put

    records = []
    for method, endpoint, name in SYNC_STEPS:
        body = (bodies / f"{name}.body").read_bytes() if name else b""
        started = time.perf_counter()
        if method == "GET":
            response = capsule.session.get(f"{capsule.url}/{endpoint}", headers=RESTCLIENT_HEADERS,
                                           timeout=KATELLO_TIMEOUT, **capsule.tls)
        else:
            response = put(capsule.url, endpoint, body, session=capsule.session,
                           timeout=KATELLO_TIMEOUT, **capsule.tls)
        seconds = time.perf_counter() - started
        request = f"{method} {urlsplit(response.url).path}"
        if response.status_code != 200:
            raise SystemExit(f"{request}: {response.status_code} {response.text[:300]}")
        if endpoint == "users" and not logins <= set(response.json()["users"]):
            raise SystemExit("GET users does not list every bench user: Katello would skip some")
        records.append({
            "request": request,
            "body_mb": len(body) / 1e6,
            "client_seconds": seconds,
            "correlation_id": response.headers["Correlation-ID"],
        })
    return records


def _measure_sync(label, capsule, bodies, logins):
    """One sync with the workers' memory watched; its figures, with the rows it left."""
    from bench.token import server_ms
    from devtools.net import wait_until

    stack = capsule.stack
    api_log = stack.logs / "api.log"
    log_offset = api_log.stat().st_size
    with WorkerMemory(stack.processes["api"].pid) as memory:
        started = time.perf_counter()
        records = _sync(capsule, bodies, logins)
        wall = time.perf_counter() - started

    def logged():  # gunicorn writes its access log after answering
        times = server_ms(stack.logs / "api-access.log")
        return times if all(r["correlation_id"] in times for r in records) else None

    times = wait_until(logged, 10, what="gunicorn's access log")
    for record in records:
        record["server_seconds"] = times[record.pop("correlation_id")] / 1000
    phases = _push_phases(api_log, log_offset)
    for record in records:
        if record["request"].startswith("PUT"):
            record["phases"] = phases[_endpoint(record["request"].split()[1])]
    with stack.database.connect() as db:
        counts = {name: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                  for name, table in COUNTED_TABLES.items()}
    return {
        "label": label,
        "requests": records,
        "client_seconds": wall,
        "server_seconds": sum(r["server_seconds"] for r in records),
        "worker_peak_rss_mib": memory.peak_mib(),
        "counts": counts,
    }


_PUSH_LINE = re.compile(
    r"Katello push (\S+) by .*\(read and parsed ([\d.]+) s, validated ([\d.]+) s,"
    r" written ([\d.]+) s((?:, \w+ [\d.]+ s)*)\)")


def _push_phases(api_log, offset):
    """``{endpoint: {phase: seconds}}`` from the push log lines pulpcore-api wrote after ``offset``
    (``katello.views``: reading and parsing, validating, writing; a grant write split again)."""
    with open(api_log, "rb") as log:
        log.seek(offset)
        text = log.read().decode("utf-8", "replace")
    phases = {}
    for path, parsed, validated, written, parts in _PUSH_LINE.findall(text):
        phases[_endpoint(path)] = {"read and parse": float(parsed), "validate": float(validated),
                        "write": float(written)}
        phases[_endpoint(path)].update((name, float(seconds))
                            for name, seconds in re.findall(r", (\w+) ([\d.]+) s", parts))
    return phases


def _endpoint(path):
    """``repository_list`` of ``/container_gateway/repository_list/`` (Katello's path) or of
    ``/pulp/api/v3/container_gateway/repository_list/`` (Pulp's, which its log names)."""
    return path.rstrip("/").rsplit("/", 1)[-1]


def _floors(capsule, bodies):
    """How close the user and host mappings come to the floor: the stdlib's flat form parse
    (``urllib.parse.parse_qsl``, no nesting, no validation) of the same body, and PostgreSQL's
    COPY of the same grant rows into an empty table with the grant table's columns, identity
    and indexes. Taken after the first sync, from the rows it left."""
    from urllib.parse import parse_qsl

    floors = {}
    for endpoint, body_name, table in (
        ("user_repository_mapping", "mapping", COUNTED_TABLES["user grants"]),
        ("host_repository_mapping", "host-mapping", COUNTED_TABLES["host grants"]),
    ):
        body = (bodies / f"{body_name}.body").read_bytes()
        started = time.perf_counter()
        parse_qsl(body, keep_blank_values=True, max_num_fields=None)
        parse_seconds = time.perf_counter() - started
        del body
        with capsule.stack.database.connect() as db, db.cursor() as cursor:
            columns = [row[0] for row in cursor.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
                " AND NOT attisdropped AND attname <> 'id' ORDER BY attnum", [table])]
            names, rows = ", ".join(columns), io.BytesIO()
            with cursor.copy(f"COPY {table} ({names}) TO STDOUT (FORMAT BINARY)") as out:
                for block in out:
                    rows.write(block)
            cursor.execute(f"CREATE TEMPORARY TABLE floor (LIKE {table} INCLUDING ALL)")
            started = time.perf_counter()
            with cursor.copy(f"COPY floor ({names}) FROM STDIN (FORMAT BINARY)") as into:
                into.write(rows.getvalue())
            copy_seconds = time.perf_counter() - started
            db.rollback()
        floors[endpoint] = {"plain_parse_seconds": parse_seconds, "copy_seconds": copy_seconds}
    return floors


def _empty_acl(capsule):
    """Katello's tables as before a capsule's first sync (the Foreman users stay: Katello maps
    only users Pulp lists)."""
    with capsule.stack.database.connect() as db:
        db.execute(f"TRUNCATE {', '.join(COUNTED_TABLES.values())}")


def _through_apache(args):
    """Katello-shaped capsule syncs through Apache httpd into a Pulp started for them."""
    from bench.report import _cpu_model

    firsts = args.first_syncs
    labels = [f"first sync{f' {n + 1} of {firsts}' if firsts > 1 else ''}, all rows new"
              for n in range(firsts)]
    labels += [f"sync {n + 2}, nothing changed" for n in range(args.repeats)]
    logins = {_login(user) for user in range(args.users)}
    expected = {"repositories": args.repositories, "user grants": args.users * args.per_user,
                "hosts": args.hosts, "host grants": args.hosts * args.per_host}
    with tempfile.TemporaryDirectory(prefix="bench-push-apache-") as tmp:
        tmp = Path(tmp)
        tmp.chmod(0o755)  # postgres reaches its cluster inside, Apache (www-data) the socket
        print("Starting PostgreSQL, pulpcore-api and Apache; building the bodies ...",
              file=sys.stderr, flush=True)
        bodies = tmp / "bodies"
        bodies.mkdir()
        _python("--build", str(bodies), *_shape_args(args))
        with _capsule(tmp, args) as capsule:
            syncs = []
            for number, label in enumerate(labels):
                syncs.append({**_measure_sync(label, capsule, bodies, logins),
                              "first": number < firsts})
                _print_sync(syncs[-1])
                if syncs[-1]["counts"] != expected:
                    raise SystemExit(f"the sync should leave {expected}")
                if number == 0:
                    floors = _floors(capsule, bodies)
                    print(f"floors: {floors}", file=sys.stderr)
                if number + 1 < firsts:
                    _empty_acl(capsule)
    ok = all(sync["server_seconds"] <= LIMIT_SECONDS
             and max(sync["worker_peak_rss_mib"]) <= LIMIT_RSS_MIB for sync in syncs)
    print(f"limits: {LIMIT_SECONDS} s per sync (server side), {LIMIT_RSS_MIB} MiB per worker: "
          f"{'OK' if ok else 'OVER LIMIT'}")
    report = {
        "benchmark": "push-apache",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "shape": {name: getattr(args, name) for name in SHAPES["apache"]},
        "public_repositories": sum(map(_is_public, range(args.repositories))),
        "api_workers": capsule.stack.api_workers,
        "environment": {
            "cpus": os.cpu_count(),
            "cpu": _cpu_model(),
            "python": platform.python_version(),
            "apache": _apache_version(),
            "pulpcore": version("pulpcore"),
            "pulp_container": version("pulp-container"),
        },
        "limits": {"seconds": LIMIT_SECONDS, "peak_rss_mib": LIMIT_RSS_MIB},
        "syncs": syncs,
        "floors": floors,
    }
    return report, ok


def _apache_version():
    from devtools.apache import BINARY

    out = subprocess.run([BINARY, "-v"], capture_output=True, text=True).stdout
    match = re.search(r"Apache/(\S+)", out)
    return match.group(1) if match else "?"


def _print_sync(sync):
    print(f"{sync['label']}:")
    for r in sync["requests"]:
        print(f"  {r['request']:55s} {r['body_mb']:7.1f} MB  client {r['client_seconds']:6.2f} s"
              f"  server {r['server_seconds']:6.2f} s")
        if r.get("phases"):
            print("      " + ", ".join(f"{name} {seconds:.2f} s"
                                      for name, seconds in r["phases"].items()))
    print(f"  whole sync: client {sync['client_seconds']:.2f} s, server "
          f"{sync['server_seconds']:.2f} s; peak RSS per worker {sync['worker_peak_rss_mib']} MiB;"
          f" rows {sync['counts']}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--through", choices=sorted(SHAPES), default="wsgi",
                        help="wsgi: each push alone through Django's WSGI handler (default); "
                        "apache: Katello-shaped capsule syncs through Apache httpd")
    for name in SHAPES["apache"]:
        parser.add_argument(f"--{name.replace('_', '-')}", type=int,
                            help=f"default {SHAPES['wsgi'].get(name, '-')} (wsgi), "
                            f"{SHAPES['apache'][name]} (apache)")
    parser.add_argument("--first-syncs", type=int, default=1,
                        help="first syncs into empty tables (apache; default 1)")
    parser.add_argument("--repeats", type=int, default=2,
                        help="unchanged syncs after the first (apache; default 2)")
    parser.add_argument("--output", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--known-users", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--build", help=argparse.SUPPRESS)
    args = parser.parse_args()
    for name, default in SHAPES[args.through].items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    if args.child:
        return _child(*args.child)
    if args.prepare:
        return _prepare(args.users)
    if args.known_users:
        return _known_users(args.users)
    if args.build:
        return _build(args.build, args)

    report, ok = (_through_apache if args.through == "apache" else _in_process)(args)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
