"""A capsule under a herd: N clients pull one new image at once through the capsule's Apache.

    python -m bench.herd [--clients 50,200,1000] [--rounds 3,3,1] [--api-workers N]
                         [--concurrency N] [--layers N] [--layer-kib N] [--timeout SECONDS]
                         [--output PATH]

What a capsule's admin feels when hundreds of hosts pull the same new image at once. Starts a
throwaway PostgreSQL with ``pg_stat_statements`` (or the database of ``DATABASE_URL``, whose server
must preload it), the Katello stand-in as Foreman, and a Pulp stack laid out as install.md
says: pulpcore-content on its socket unit and, per variant, a pulpcore-api on its socket unit with
install.md's settings behind its own Apache httpd configured from install.md's blocks (mod_ssl,
optional client certificates against Katello's CA, both snippets; ``devtools.apache``). The
variants, side by side in one run on the same database, content app and image:

- ``record_on``: the plugin, pull record on (the default);
- ``record_off``: the plugin with ``KATELLO_GATEWAY_PULL_RECORD = False``;
- ``stock``: stock pulp_container (``ENABLED_PLUGINS``: every installed Pulp plugin but this
  one; pulp_container's own token view, manifest view and rules), anonymous pulls of a public
  repository: the ceiling with no authorization.

The image: ``herd/private`` (Katello: authentication required, granted to every host and to the
Foreman user) and ``herd/public`` (Katello: unauthenticated pull) hold one multi-arch index
(amd64, arm64) of multi-layer images (``--layers`` layers of ``--layer-kib`` KiB each). The
populations, N clients each, every client a process of its own as podman is (its own TLS
connections, no token kept):

- ``hosts``: N registered hosts, each with its consumer certificate issued by Katello's CA,
  presented to Apache, which passes it to Pulp as install.md's snippet does;
- ``foreman``: N nodes sharing one Foreman user's credentials, its login cached (logged in once
  before the phases, as after the first ``podman login``);
- ``foreman_first``: the same N nodes, all logging in first at once (with the pull record on
  only): the user's cached logins and grants are removed before the phase, as before its first
  login, so every node's token request finds no cached login;
- ``anonymous``: N anonymous clients of the public repository.

Each client pulls as containers/image does: ``GET /v2/`` (the 401 challenge), the token from the
challenge's realm, the manifest (the index, then the amd64 manifest), and each blob (the config
and the layers, up to 6 at a time as podman's default ``max_parallel_downloads``; each a 302 to the
content app, followed, its digest checked). A phase is one population of N clients against one
variant, all started at once with at most ``--concurrency`` of them in flight (a semaphore per
population; default 200, see ``CONCURRENCY`` for why). Phases run one after the other, each on
an empty pull record (the image is new to it), in ``--rounds`` rounds at each N, each round in
another order (``round_order``): on a shared machine pulls/s drift by ±10 % over minutes, as
much as what is measured, so the report compares phases within a round and takes the median
over rounds. Even so that cannot settle a few per cent: the report judges the targets on
``bench.herd_turns`` (a steady herd, the servers taking short turns) and ``bench.herd_cpu`` (the
servers pulled at once, each one's CPU time per pull).

Reported per phase: pulls/s (successful pulls over the phase's wall time), p50/p95 of each step,
errors by step and cause, database statements per pull (``pg_stat_statements`` deltas, less the
stack's idle rate measured before the phases; those on the plugin's tables also apart, and each
statement run at least once per 20 pulls), Foreman (stand-in) calls, CPU time per pull of
pulpcore-api, Apache, pulpcore-content, PostgreSQL and this client (all on the same machine),
lock waits sampled during the phase, and with the pull record on, its rows and counts (each
manifest GET served counted once) and the mean execution time of its statement (the upsert and
its prune; a stall behind a hot row would show in both). Writes ``bench/results/herd.json``;
``python -m bench.report`` makes the page's tables and plot, with ratios against stock in the
same run.

Errors, retries: a client retries a GET once when the server closed its kept-alive connection
meanwhile (Apache's event MPM closes idle connections, sooner when busy), as Go's net/http does
for containers/image; those are counted as retried requests, not errors.
"""

import argparse
import asyncio
import hashlib
import json
import os
import platform
import re
import resource
import ssl
import statistics
import sys
import tempfile
import threading
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import entry_points, version
from pathlib import Path

import aiohttp

from bench.results import save
from devtools import docs
from devtools.apache import FOREMANCTL_REMOTE_USER, Apache, foremanctl_push_user
from devtools.clients import KATELLO_PUSH_PATH, Skopeo, basic_authorization
from devtools.katello_standin.server import KatelloStandin
from devtools.net import free_port, unix_http_status, wait_until
from devtools.oci import build_index
from devtools.pg import bench_database
from devtools.pki import CertificateAuthority
from devtools.stack import PulpStack

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "herd.json"
PRIVATE, PUBLIC = "herd/private", "herd/public"
LOGIN, PASSWORD = "herd-user@example.com", "herd-foreman-password"
PULL_RECORD = "katello_gateway_pullrecord"
PARALLEL_DOWNLOADS = 6  # containers/image's (podman's) default max_parallel_downloads
ARCHITECTURE = "amd64"  # the image of the index a client pulls
INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")
MANIFEST_TYPES = ("application/vnd.oci.image.manifest.v1+json",
                  "application/vnd.docker.distribution.manifest.v2+json")
IDLE_SECONDS = 10  # the stack's own statements (heartbeats) are measured this long, idle
# Clients of a population in flight at once. All 1 000 at once, on 2 CPUs with Apache's defaults,
# measured how the machine takes 1 000 TLS connections (MaxRequestWorkers 400, the listen
# backlog, the client's handshakes on the same CPUs), not the servers behind: about two thirds of
# the pulls failed to connect or timed out, stock and plugin alike (2026-12-06: 322 and 341 of
# 1 000 pulled). At most this many at once, the rest as they finish, the herd stays a herd.
CONCURRENCY = 200

VARIANTS = {
    "record_on": ("plugin, pull record on", {}),
    "record_off": ("plugin, pull record off", {"PULP_KATELLO_GATEWAY_PULL_RECORD": "false"}),
    # Every Pulp plugin installed but this one.
    "stock": ("pulp_container (stock)", {"PULP_ENABLED_PLUGINS": repr([
        plugin.name for plugin in entry_points(group="pulpcore.plugin")
        if plugin.name != "pulp_katello_gateway"
    ])}),
}
POPULATIONS = {
    "hosts": ("hosts, consumer certificates", PRIVATE),
    "foreman": ("nodes sharing one Foreman login (cached)", PRIVATE),
    "foreman_first": ("nodes sharing one Foreman login, first login all at once", PRIVATE),
    "anonymous": ("anonymous, public repository", PUBLIC),
}
# (variant, population) in the order they run at each N: the ceiling first.
PHASES = (("stock", "anonymous"), ("record_on", "anonymous"), ("record_off", "anonymous"),
          ("record_on", "hosts"), ("record_off", "hosts"),
          ("record_on", "foreman_first"), ("record_on", "foreman"), ("record_off", "foreman"))
STEPS = ("challenge", "token", "manifest", "blobs", "pull")
# The populations whose pull record bench.herd_turns and bench.herd_cpu judge.
MEASURED = ("hosts", "foreman", "anonymous")


# -- the capsule -----------------------------------------------------------------------------


class Node:
    """One variant: its pulpcore-api on a socket unit behind its own Apache."""

    def __init__(self, key, label, stack, apache):
        self.key, self.label = key, label
        self.stack, self.apache = stack, apache

    @property
    def url(self):
        return self.apache.url

    def pids(self):
        """{component: root pid} of the processes serving this variant."""
        return {"api": self.stack.processes[f"api-{self.key}"].pid,
                "apache": self.apache.process.pid}


@dataclass
class Capsule:
    nodes: dict  # variant -> Node
    stack: PulpStack
    katello: KatelloStandin
    database: object
    hosts: list  # (certificate, key) of each registered host
    postmaster: int | None  # the throwaway cluster's, for its CPU time
    idle_statements_per_second: float = 0.0

    def cpu_roots(self):
        """{component: root pid} of every process of the capsule (``tree_cpu``'s roots): each
        node's as ``<node>_api`` and ``<node>_apache``, the content app's and PostgreSQL's."""
        roots = {f"{key}_{part}": pid for key, node in self.nodes.items()
                 for part, pid in node.pids().items()}
        roots["content"] = self.stack.processes["content-herd"].pid
        roots["postgres"] = self.postmaster
        return roots


@contextmanager
def capsule(tmp, args, variants=VARIANTS, roles=()):
    """A ``Capsule`` with a node per variant (``{key: (label, environment)}``): everything
    started, the image pushed and Katello's ACL (``args.hosts`` hosts) pushed; stopped on
    leaving. ``roles``: database logins ``(name, password)`` made first, with the owner's
    rights (a node may log in as one, so that its statements are told apart)."""
    database, cluster = bench_database(tmp, "bench_herd", preload=("pg_stat_statements",))
    katello = KatelloStandin().start()
    consumer_ca = CertificateAuthority(tmp / "katello-ca", common_name="Katello bench CA")
    stack = PulpStack(tmp / "pulp", database, api_workers=args.api_workers, settings={
        "KATELLO_GATEWAY_FOREMAN_URL": katello.url,
        "KATELLO_GATEWAY_CONSUMER_CA_FILE": str(consumer_ca.cert_path),
    })
    with ExitStack() as stop:
        stop.callback(lambda: cluster.stop() if cluster is not None else None)
        stop.callback(katello.stop)
        stop.callback(stack.stop)
        print("Starting PostgreSQL, the Katello stand-in and Pulp ...", file=sys.stderr)
        stack.prepare()
        with database.connect() as db:
            db.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            for role, password in roles:  # DATABASE_URL's server may keep an earlier run's
                db.execute(f"DROP ROLE IF EXISTS {role}")
                db.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}' IN ROLE "
                           f"{database.user}")
        stack.start()
        _push_image(stack, tmp, args)
        hosts = _register_hosts(stack, katello, consumer_ca, tmp, args.hosts)
        sockets = tmp / "run"  # where Apache's workers (www-data) may open the sockets
        sockets.mkdir(mode=0o755)
        content = docs.socket_unit("pulpcore-content", sockets / "pulpcore-content.sock")
        stack.start_content("content-herd", socket_unit=content)
        wait_until(lambda: unix_http_status(content.path, "/pulp/content/") == 200, 90,
                   what="pulpcore-content on its socket")
        nodes = {key: _node(stack, key, variant, sockets, content.path, consumer_ca, stop)
                 for key, variant in variants.items()}
        postmaster = (cluster.data / "postmaster.pid") if cluster is not None else None
        yield Capsule(nodes, stack, katello, database, hosts,
                      int(postmaster.read_text().split()[0]) if postmaster else None)


def _push_image(stack, tmp, args):
    layout = tmp / "image"
    build_index(layout, layers=args.layers, layer_bytes=args.layer_kib * 1024)
    skopeo = Skopeo(stack.certs_dir, tmp / "skopeo")
    for name in (PRIVATE, PUBLIC):
        skopeo.copy(f"oci:{layout}:latest", f"docker://{stack.registry}/{name}:latest",
                    dest_creds=stack.admin_auth, all_images=True)


def _register_hosts(stack, katello, consumer_ca, tmp, count):
    """``count`` hosts Katello grants ``PRIVATE``, each with its consumer certificate; Katello's
    ACL pushed. Returns [(cert, key)]."""
    katello.add_repository(PRIVATE, auth_required=True)
    katello.add_repository(PUBLIC, auth_required=False)
    katello.add_user(LOGIN, PASSWORD, repositories=[PRIVATE])
    certs = tmp / "hosts"
    certs.mkdir()
    hosts = []
    for index in range(count):
        uuid = f"herd-host-{index:05d}"
        katello.add_host(uuid, repositories=[PRIVATE])
        hosts.append(consumer_ca.issue(uuid, certs / f"{uuid}.crt", certs / f"{uuid}.key"))
    steps = katello.push(f"{stack.api_url}{KATELLO_PUSH_PATH}", auth=stack.admin_auth,
                         verify=str(stack.ca_file), timeout=300)
    failed = [step for step in steps if step.status != 200]
    if failed:
        raise RuntimeError(f"Katello push failed: {failed}")
    return hosts


def _node(stack, key, variant, sockets, content_socket, consumer_ca, stop):
    """Variant ``key`` (``(label, environment)``): its pulpcore-api on install.md's socket unit,
    with install.md's settings and foremanctl's remote-user environment, behind Apache as
    install.md sets it up (stopped by the ``stop`` ExitStack)."""
    port = free_port()
    origin = f"https://127.0.0.1:{port}"
    unit = docs.socket_unit("pulpcore-api", sockets / f"api-{key}.sock")
    stack.start_api(
        f"api-{key}", tls=False, socket_unit=unit,
        env={"PULP_TOKEN_SERVER": f"{origin}/token/", **FOREMANCTL_REMOTE_USER, **variant[1]},
        settings_text=docs.pulp_settings(CONTENT_ORIGIN=origin,
                                         KATELLO_GATEWAY_API_SOCKET=str(unit.path)),
    )
    apache = Apache(
        stack.state.parent / f"apache-{key}", port=port, api_socket=unit.path,
        content_upstream=f"unix:{content_socket}|http://pulpcore-content",
        server_cert=stack.tls / "server.crt", server_key=stack.tls / "server.key",
        client_ca=consumer_ca.cert_path, push_user=foremanctl_push_user(),
    ).start()
    stop.callback(apache.stop)
    node = Node(key, variant[0], stack, apache)
    http = stack.session(auth=None)

    def challenges():
        try:
            return http.get(f"{origin}/v2/", timeout=5).status_code == 401
        except OSError:
            return False

    try:
        wait_until(challenges, 90, interval=0.3, what=f"{key} behind Apache")
    except TimeoutError:
        log = (stack.logs / f"api-{key}.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{key}'s pulpcore-api does not answer behind Apache:\n{log}") from None
    return node


# -- one pull, as containers/image does it -----------------------------------------------------


class StepFailed(Exception):
    def __init__(self, step, cause):
        super().__init__(f"{step}: {cause}")
        self.step, self.cause = step, cause


class Client:
    """One simulated podman: its TLS context (with a host's certificate) or Basic credentials."""

    def __init__(self, context, credentials=None):
        self.context, self.credentials = context, credentials
        self.retries = self.manifests = 0  # requests retried, manifests served


def _challenge(header):
    """``(realm, service)`` of a ``WWW-Authenticate: Bearer …`` header."""
    fields = dict(re.findall(r'(\w+)="([^"]*)"', header))
    return fields["realm"], fields["service"]


async def _get(client, http, step, url, expect=200, **kwargs):
    """``(response, body)`` of a GET; a kept-alive connection the server closed meanwhile (Apache
    closes idle ones, sooner when busy) is retried once, as Go's net/http (containers/image)
    retries an idempotent request, and counted in ``client.retries``."""
    for attempt in (1, 2):
        try:
            async with http.get(url, **kwargs) as response:
                body = await response.read()
        except aiohttp.ClientConnectorError as exc:  # no connection made: not retried
            raise StepFailed(step, type(exc).__name__) from None
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
            if attempt == 2:
                raise StepFailed(step, type(exc).__name__) from None
            client.retries += 1
            continue
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise StepFailed(step, type(exc).__name__) from None
        if response.status != expect:
            raise StepFailed(step, f"HTTP {response.status}")
        return response, body


async def pull(client, base_url, repository, timeout):
    """One pull; ``{step: seconds}``. Raises ``StepFailed``."""
    times, started = {}, time.perf_counter()
    connector = aiohttp.TCPConnector(ssl=client.context, limit=PARALLEL_DOWNLOADS)
    async with aiohttp.ClientSession(connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=timeout)) as http:
        mark = time.perf_counter()
        response, _ = await _get(client, http, "challenge", f"{base_url}/v2/", expect=401)
        realm, service = _challenge(response.headers.get("WWW-Authenticate", ""))
        times["challenge"] = time.perf_counter() - mark

        mark = time.perf_counter()
        params, headers = {"service": service, "scope": f"repository:{repository}:pull"}, {}
        if client.credentials:
            params["account"] = client.credentials[0]
            headers["Authorization"] = basic_authorization(*client.credentials)
        _, body = await _get(client, http, "token", realm, params=params, headers=headers)
        answer = json.loads(body)
        bearer = {"Authorization": f"Bearer {answer.get('token') or answer['access_token']}"}
        times["token"] = time.perf_counter() - mark

        mark = time.perf_counter()
        v2 = f"{base_url}/v2/{repository}"
        _, body = await _get(client, http, "manifest", f"{v2}/manifests/latest",
                             headers={**bearer, "Accept": ", ".join(INDEX_TYPES + MANIFEST_TYPES)})
        client.manifests += 1
        digest = next(entry["digest"] for entry in json.loads(body)["manifests"]
                      if entry["platform"]["architecture"] == ARCHITECTURE)
        _, body = await _get(client, http, "manifest", f"{v2}/manifests/{digest}",
                             headers={**bearer, "Accept": ", ".join(MANIFEST_TYPES)})
        client.manifests += 1
        _verify("manifest", digest, body)
        manifest = json.loads(body)
        times["manifest"] = time.perf_counter() - mark

        mark = time.perf_counter()
        downloads = asyncio.Semaphore(PARALLEL_DOWNLOADS)

        async def blob(digest):
            async with downloads:
                _, data = await _get(client, http, "blobs", f"{v2}/blobs/{digest}",
                                     headers=bearer)
                _verify("blobs", digest, data)

        await asyncio.gather(*(blob(entry["digest"])
                               for entry in [manifest["config"], *manifest["layers"]]))
        times["blobs"] = time.perf_counter() - mark
    times["pull"] = time.perf_counter() - started
    return times


def _verify(step, digest, data):
    if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
        raise StepFailed(step, "digest mismatch")


async def _herd(clients, base_url, repository, concurrency, timeout):
    """Every client pulls once, at most ``concurrency`` at a time; ``(results, wall seconds)``,
    a result being ``{step: seconds}`` or a ``StepFailed``."""
    in_flight = asyncio.Semaphore(concurrency)

    async def one(client):
        async with in_flight:
            try:
                return await pull(client, base_url, repository, timeout)
            except StepFailed as failed:
                return failed

    started = time.perf_counter()
    results = await asyncio.gather(*(one(client) for client in clients))
    return results, time.perf_counter() - started


# -- what a phase costs ------------------------------------------------------------------------


def _processes():
    """{pid: (parent pid, CPU seconds)} of every process, with those of the children it reaped
    (Apache's and gunicorn's workers come and go)."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        found[int(entry.name)] = (int(fields[1]), sum(map(int, fields[11:15])) / tick)
    return found


def tree_cpu(roots):
    """{component: CPU seconds of the process tree under its root pid} (live processes)."""
    processes = _processes()
    children = {}
    for pid, (parent, _) in processes.items():
        children.setdefault(parent, []).append(pid)
    totals = {}
    for component, root in roots.items():
        pending, seconds = [root], 0.0
        while pending:
            pid = pending.pop()
            seconds += processes.get(pid, (0, 0.0))[1]
            pending.extend(children.get(pid, ()))
        totals[component] = seconds
    usage = resource.getrusage(resource.RUSAGE_SELF)
    totals["client"] = usage.ru_utime + usage.ru_stime
    return totals


_STATEMENTS = """
SELECT queryid, query, calls, total_exec_time FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND query NOT LIKE '%%pg_stat_%%'
"""  # not the benchmark's own looks at pg_stat_statements and pg_stat_activity


def _statements(db):
    return {row[0]: row[1:] for row in db.execute(_STATEMENTS)}


def _statement_delta(before, after):
    """[(query, calls, total ms)] run between two snapshots, busiest first."""
    delta = []
    for queryid, (query, calls, total) in after.items():
        was = before.get(queryid, (query, 0, 0.0))
        if calls > was[1]:
            delta.append((query, calls - was[1], total - was[2]))
    return sorted(delta, key=lambda row: -row[1])


class LockWaits:
    """Samples, every ``interval`` seconds while in use, how many of the database's sessions wait
    for a lock (a stall behind a hot row shows as waiters), in a thread of its own."""

    def __init__(self, database, interval=0.05):
        self.database, self.interval = database, interval
        self.samples, self.waiting = 0, []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="lock-waits")

    def _sample(self):
        with self.database.connect() as db:
            while not self._done.wait(self.interval):
                (count,) = db.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()").fetchone()
                self.samples += 1
                self.waiting.append(count)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()

    def summary(self):
        return {"samples": self.samples, "with_waiters": sum(1 for n in self.waiting if n),
                "max_waiting": max(self.waiting, default=0)}


def idle_statement_rate(db, seconds=IDLE_SECONDS):
    """Statements per second the stack runs on its own (heartbeats, status), idle."""
    before = _statements(db)
    time.sleep(seconds)
    return sum(calls for _, calls, _ in _statement_delta(before, _statements(db))) / seconds


def _summary(values):
    if not values:
        return None
    ordered = sorted(values)
    return {"p50": round(statistics.median(ordered) * 1000, 1),
            "p95": round(ordered[max(0, round(0.95 * len(ordered)) - 1)] * 1000, 1)}


def make_clients(population, n, hosts, ca_file):
    if population == "hosts":
        clients = []
        for cert, key in hosts[:n]:
            context = ssl.create_default_context(cafile=str(ca_file))
            context.load_cert_chain(cert, key)
            clients.append(Client(context))
        return clients
    context = ssl.create_default_context(cafile=str(ca_file))
    credentials = (LOGIN, PASSWORD) if population.startswith("foreman") else None
    return [Client(context, credentials) for _ in range(n)]


def run_phase(capsule, variant, population, n, args):
    """Population ``population`` of ``n`` clients against variant ``variant``: its figures."""
    node, stack = capsule.nodes[variant], capsule.stack
    repository = POPULATIONS[population][1]
    clients = make_clients(population, n, capsule.hosts, stack.ca_file)
    roots = {**node.pids(), "content": stack.processes["content-herd"].pid}
    if capsule.postmaster:
        roots["postgres"] = capsule.postmaster
    with capsule.database.connect() as db:
        db.execute(f"DELETE FROM {PULL_RECORD}")  # the image is new to the pull record
        if population == "foreman_first":  # as before the user's first login
            for table in ("katello_gateway_cachedlogin", "katello_gateway_userrepositorygrant"):
                db.execute(f"DELETE FROM {table} WHERE foreman_user_id IN (SELECT pulp_id FROM "
                           "katello_gateway_foremanuser WHERE login = %s)", [LOGIN])
        capsule.katello.reset_counters()
        statements, cpu = _statements(db), tree_cpu(roots)
        with LockWaits(capsule.database) as lock_waits:
            results, wall = asyncio.run(_herd(clients, node.url, repository,
                                              min(n, args.concurrency or n), args.timeout))
        cpu = {name: seconds - cpu[name] for name, seconds in tree_cpu(roots).items()}
        statements = _statement_delta(statements, _statements(db))
        record = db.execute(f"SELECT count(*), coalesce(sum(count), 0) FROM {PULL_RECORD} "
                            "WHERE repository = %s", [repository]).fetchone()
    foreman = capsule.katello.request_counts()
    pulled = [result for result in results if not isinstance(result, StepFailed)]
    errors = {}
    for failed in results:
        if isinstance(failed, StepFailed):
            errors[str(failed)] = errors.get(str(failed), 0) + 1
    ok = len(pulled)
    per_pull = max(ok, 1)
    queries = sum(calls for _, calls, _ in statements)
    upsert = [row for row in statements if f"INSERT INTO {PULL_RECORD}" in row[0]]
    return {
        "variant": variant,
        "variant_label": node.label,
        "population": population,
        "population_label": POPULATIONS[population][0],
        "repository": repository,
        "clients": n,
        "concurrency": min(n, args.concurrency or n),
        "wall_seconds": round(wall, 2),
        "pulls_ok": ok,
        "pulls_per_second": round(ok / wall, 2),
        "steps_ms": {step: _summary([times[step] for times in pulled]) for step in STEPS},
        "errors": errors,
        "retried_requests": sum(client.retries for client in clients),
        "db_statements_per_pull": round(
            max(0.0, queries - capsule.idle_statements_per_second * wall) / per_pull, 1),
        "db_statements_total": queries,
        # The plugin's own statements: those on its tables.
        "plugin_statements_per_pull": round(sum(
            calls for query, calls, _ in statements if "katello_gateway_" in query
        ) / per_pull, 2),
        "statements": [
            {"query": " ".join(query.split())[:200], "per_pull": round(calls / per_pull, 2),
             "mean_ms": round(total / calls, 3)}
            for query, calls, total in statements if calls / per_pull >= 0.05
        ],
        "pull_record": {
            "rows": record[0], "count": int(record[1]),
            "expected_count": sum(client.manifests for client in clients),
            "upsert_calls": sum(row[1] for row in upsert),
            "upsert_mean_ms": round(sum(row[2] for row in upsert)
                                    / max(1, sum(row[1] for row in upsert)), 3),
        } if variant == "record_on" else None,
        "lock_waits": lock_waits.summary(),
        "foreman_calls": sum(foreman.values()),
        "foreman_calls_by_path": foreman,
        "cpu_ms_per_pull": {name: round(seconds * 1000 / per_pull, 1)
                            for name, seconds in cpu.items()},
    }


def warm_up(capsule, args):
    """Log the Foreman user in once (its login then cached, as after the first ``podman
    login``), and load every worker of every variant (imports, connections); untimed."""
    warm = 4 * args.api_workers
    first = make_clients("foreman", 1, capsule.hosts, capsule.stack.ca_file)
    results, _ = asyncio.run(_herd(first, capsule.nodes["record_on"].url, PRIVATE, 1,
                                   args.timeout))
    if isinstance(results[0], StepFailed):
        raise RuntimeError(f"the Foreman user's first pull failed: {results[0]}")
    for key, node in capsule.nodes.items():
        for population in (("anonymous",) if key == "stock" else ("anonymous", "foreman", "hosts")):
            clients = make_clients(population, warm, capsule.hosts, capsule.stack.ca_file)
            results, _ = asyncio.run(_herd(clients, node.url, POPULATIONS[population][1], warm,
                                           args.timeout))
            failed = [str(result) for result in results if isinstance(result, StepFailed)]
            if failed:
                raise RuntimeError(f"warm-up of {key}, {population} failed: {failed[:3]}")


def round_order(populations, number, rounds):
    """The phases of round ``number`` (of ``rounds``) at one N: ``PHASES`` rotated so that each
    phase runs at another point of the round each time (what the machine does meanwhile, such as
    another guest on its CPUs, drifts over minutes: a ratio is taken within a round, between
    phases minutes apart, and the rotation spreads a slow stretch over every phase). Every other
    round is the one before it in reverse, so that of two phases compared each runs first as
    often (over an even number of rounds)."""
    phases = [phase for phase in PHASES if phase[1] in populations]
    offset = (number - number % 2) * len(phases) // rounds
    order = phases[offset:] + phases[:offset]
    return order[::-1] if number % 2 else order


@contextmanager
def warm_capsule(args, prefix, variants=VARIANTS, roles=()):
    """A ``capsule`` in a temporary directory of its own, warmed up (``warm_up``)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        tmp = Path(tmp)
        tmp.chmod(0o755)  # postgres reaches its cluster inside, Apache (www-data) the sockets
        with capsule(tmp, args, variants, roles) as herd_capsule:
            warm_up(herd_capsule, args)
            yield herd_capsule


def run(args):
    with warm_capsule(args, "bench-herd-") as herd_capsule:
        with herd_capsule.database.connect() as db:
            print(f"Measuring the stack's own statements for {IDLE_SECONDS} s ...",
                  file=sys.stderr)
            idle = herd_capsule.idle_statements_per_second = idle_statement_rate(db)
        phases = []
        for n, rounds in zip(args.clients, args.rounds, strict=True):
            for number in range(rounds):
                for variant, population in round_order(args.populations, number, rounds):
                    print(f"N={n}, round {number + 1}/{rounds}: {variant}, {population} ...",
                          file=sys.stderr, flush=True)
                    phase = run_phase(herd_capsule, variant, population, n, args)
                    phases.append({**phase, "round": number})
                    _print_phase(phases[-1])
    return {
        "benchmark": "herd",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "parameters": {
            "clients": args.clients, "rounds": args.rounds, "populations": args.populations,
            "concurrency": args.concurrency or "N",
            "api_workers": args.api_workers, "content_workers": 1, "layers": args.layers,
            "layer_kib": args.layer_kib, "architectures": 2, "timeout_s": args.timeout,
            "parallel_downloads": PARALLEL_DOWNLOADS,
        },
        "idle_statements_per_second": round(idle, 2),
        "environment": environment(),
        "phases": phases,
    }


def environment():
    """The machine and the versions a run measured, for its results."""
    from bench.report import _cpu_model

    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "cpu": _cpu_model(),
        "pulpcore": version("pulpcore"),
        "pulp_container": version("pulp-container"),
        "aiohttp": version("aiohttp"),
        "apache": apache_version(),
        "load_average_at_end": [round(value, 2) for value in os.getloadavg()],
    }


def apache_version():
    from bench.push import _apache_version

    return _apache_version()


def _print_phase(phase):
    steps = phase["steps_ms"]
    line = (f"  {phase['pulls_ok']}/{phase['clients']} pulls in {phase['wall_seconds']} s: "
            f"{phase['pulls_per_second']} pulls/s")
    for step in ("token", "manifest", "blobs"):
        if steps[step]:
            line += f"; {step} p50 {steps[step]['p50']} p95 {steps[step]['p95']} ms"
    line += (f"; {phase['db_statements_per_pull']} statements/pull "
             f"({phase['plugin_statements_per_pull']} the plugin's); "
             f"Foreman calls {phase['foreman_calls']}")
    if phase["errors"]:
        line += f"; errors {phase['errors']}"
    print(line, file=sys.stderr, flush=True)


def markdown(report):
    lines = ["| N | Round | Variant | Clients | pulls/s | token p50/p95 ms | manifest p50/p95 ms | "
             "blobs p50/p95 ms | errors | statements/pull | Foreman calls |",
             "|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for phase in report["phases"]:
        steps = phase["steps_ms"]
        cells = [f"{steps[s]['p50']}/{steps[s]['p95']}" if steps[s] else "-"
                 for s in ("token", "manifest", "blobs")]
        lines.append(f"| {phase['clients']} | {phase['round'] + 1} | {phase['variant_label']} | "
                     f"{phase['population_label']} | {phase['pulls_per_second']} | "
                     + " | ".join(cells)
                     + f" | {sum(phase['errors'].values())} | {phase['db_statements_per_pull']} | "
                     f"{phase['foreman_calls']} |")
    return "\n".join(lines)


def add_measured_populations(parser):
    """``--populations`` of ``bench.herd_turns`` and ``bench.herd_cpu``: of ``MEASURED``."""
    parser.add_argument("--populations", default=",".join(MEASURED),
                        help=f"the populations to measure, comma-separated (default "
                        f"{','.join(MEASURED)})")


def measured_populations(parser, args):
    """``args.populations`` as a list, or the parser's error."""
    populations = args.populations.split(",")
    if set(populations) - set(MEASURED):
        parser.error(f"--populations: choose from {', '.join(MEASURED)}")
    return populations


def add_capsule_arguments(parser, results):
    """The options of the capsule and its clients, and the results file."""
    parser.add_argument("--api-workers", type=int, default=2,
                        help="gunicorn workers of each server's pulpcore-api (default 2)")
    parser.add_argument("--layers", type=int, default=4, help="layers per image (default 4)")
    parser.add_argument("--layer-kib", type=int, default=64,
                        help="KiB of incompressible data per layer (default 64)")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds a client gives each request (default 120)")
    parser.add_argument("--output", type=Path, default=results,
                        help=f"JSON results file (default {results.relative_to(ROOT)})")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.herd",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="50,200,1000",
                        help="N, clients per population and phase, comma-separated "
                        "(default 50,200,1000)")
    parser.add_argument("--rounds", default="1",
                        help="rounds of every phase at each N: one number, or one per N "
                        "(default 1); the report takes medians over them")
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY,
                        help=f"clients of a population in flight at once (default {CONCURRENCY}; "
                        "0: all N)")
    parser.add_argument("--populations", default=",".join(POPULATIONS),
                        help=f"the populations to run, comma-separated (default "
                        f"{','.join(POPULATIONS)}; stock pulls only as anonymous)")
    add_capsule_arguments(parser, RESULTS)
    args = parser.parse_args(argv)
    args.clients = [int(n) for n in args.clients.split(",")]
    args.populations = args.populations.split(",")
    args.rounds = [int(r) for r in args.rounds.split(",")]
    if len(args.rounds) == 1:
        args.rounds *= len(args.clients)
    if len(args.rounds) != len(args.clients) or min(args.rounds) < 1:
        parser.error("--rounds: one positive number, or one per N of --clients")
    if set(args.populations) - set(POPULATIONS):
        parser.error(f"--populations: choose from {', '.join(POPULATIONS)}")
    args.hosts = max(args.clients + [4 * args.api_workers])
    if min(args.clients) < 1 or args.concurrency < 0:
        parser.error("--clients must be positive and --concurrency not negative")
    report = run(args)
    print(markdown(report))
    save(report, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
