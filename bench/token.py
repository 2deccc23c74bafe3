"""Benchmark of the registry token endpoint: the plugin's, next to stock pulp_container's.

    python -m bench.token [--requests N] [--warmup N] [--api-workers N]
                          [--foreman-latency SECONDS] [--output PATH]

Starts everything it needs and removes it afterwards: a throwaway PostgreSQL cluster (or the
database of ``DATABASE_URL``, as ``<name>_bench_token``, dropped and recreated), the Katello
stand-in in this process (as Foreman), and a real Pulp stack with this plugin (pulpcore-api over
TLS with ``--api-workers`` gunicorn workers, content app, worker), exactly as the functional tests
run it. The admin pushes a tiny image to ``bench/private`` (Katello: authentication required,
granted to the Foreman user) and ``bench/public`` (Katello: unauthenticated pull), and Katello's
ACL is pushed.

How stock pulp_container is measured in the same run: the plugin's middleware answers ``/token/``
with the plugin's view, so the stack is started with ``ROOT_URLCONF = "bench.token_urls"``, which
mounts pulp_container's own ``BearerTokenView`` class, unchanged, at ``/bench/stock-token/`` next
to Pulp's URLs. Both endpoints are then served by the same processes, database, signing key and
TLS listener; only the view differs. No product code is changed for this. (A second stack without
the plugin would need a second installation, since the plugin refuses to start without its
middleware, and would compare two servers instead of two views.)

Measured, one request at a time, kinds interleaved round-robin so drift affects all alike; every
request is ``GET <endpoint>?service=<registry>&scope=repository:<repo>:pull`` (what a pull asks):

- plugin, Foreman user, cached login: Basic credentials verified from the login cache (the
  steady state: one login, then every podman command asks for a token);
- plugin, Foreman user, login not cached: the cache entry is aged past its TTL before each
  request (untimed SQL), so Foreman is asked (``/v2/token`` then ``/v2/_catalog`` and the grant
  refresh), i.e. what every token request cost before the cache. Foreman here is the stand-in on
  loopback (with Nagle's algorithm off, see ``run``), which answers in about half a millisecond,
  so this is a lower bound; a real Foreman
  checks the password and writes its registry PAT on each call (``--foreman-latency`` delays
  each stand-in answer by that many seconds to emulate it);
- plugin and stock, local Pulp admin (Basic; Django's PBKDF2 password hash is checked on every
  request by both), with one scope and with the same scope 60 times, as many as gunicorn's
  request line holds (the plugin decides a repository once however many scopes name it;
  pulp_container once per scope);
- plugin and stock, anonymous (public repository).

Latency is taken on the client (``time.perf_counter`` around the request; gunicorn's sync workers
close every connection, so each request includes a TCP and TLS handshake on loopback) and on the
server (gunicorn's access log ``%(M)s``, whole milliseconds, matched by Correlation-ID). Prints a
Markdown table and writes the figures, with versions and parameters, to ``--output`` (default
``bench/results/token.json``).
"""

import argparse
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from bench.results import save
from devtools.clients import KATELLO_PUSH_PATH, Skopeo
from devtools.katello_standin.server import KatelloStandin
from devtools.oci import build_image
from devtools.pg import bench_database
from devtools.stack import PulpStack

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "token.json"
PRIVATE, PUBLIC = "bench/private", "bench/public"
LOGIN, PASSWORD = "bench-user@example.com", "bench-foreman-password"
CACHED_LOGINS = "katello_gateway_cachedlogin"  # CachedLogin's table
STOCK_TOKEN_PATH = "bench/stock-token/"  # where bench.token_urls mounts the stock view


class Kind:
    def __init__(self, key, view, identity, repository, auth=None, before=None, scopes=1):
        self.key, self.view, self.identity = key, view, identity
        self.repository, self.auth, self.before, self.scopes = repository, auth, before, scopes
        self.client_ms, self.correlation_ids = [], []


def _percentile(values, fraction):
    ordered = sorted(values)
    if not ordered:
        return None
    index = fraction * (len(ordered) - 1)
    low = int(index)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (index - low)


def _summary(values):
    return {
        "n": len(values),
        "p50": round(_percentile(values, 0.50), 2),
        "p95": round(_percentile(values, 0.95), 2),
        "mean": round(statistics.fmean(values), 2),
        "min": round(min(values), 2),
        "max": round(max(values), 2),
    }


def _prepare(stack, katello, tmp):
    """Images in both repositories, Katello's view of them, the ACL pushed, one Foreman login."""
    layout = tmp / "image"
    build_image(layout)
    skopeo = Skopeo(stack.certs_dir, tmp / "skopeo")
    for name in (PRIVATE, PUBLIC):
        skopeo.copy(f"oci:{layout}:latest", f"docker://{stack.registry}/{name}:latest",
                    dest_creds=stack.admin_auth)
    katello.add_repository(PRIVATE, auth_required=True)
    katello.add_repository(PUBLIC, auth_required=False)
    katello.add_user(LOGIN, PASSWORD, repositories=[PRIVATE])
    steps = katello.push(f"{stack.api_url}{KATELLO_PUSH_PATH}",
                         auth=stack.admin_auth, verify=str(stack.ca_file))
    failed = [step for step in steps if step.status != 200]
    if failed:
        raise RuntimeError(f"Katello push failed: {failed}")


def _request(session, stack, path, kind):
    params = [("service", stack.registry),
              *[("scope", f"repository:{kind.repository}:pull")] * kind.scopes]
    if kind.auth:
        params.append(("account", kind.auth[0]))
    started = time.perf_counter()
    response = session.get(f"{stack.api_url}/{path}", params=params, auth=kind.auth, timeout=60)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{kind.key}: {response.status_code} {response.text[:300]}")
    return elapsed, response


def _granted(response):
    """The access claim's actions (unverified decode: only a sanity check of the answer)."""
    import jwt

    claims = jwt.decode(response.json()["token"], options={"verify_signature": False})
    return [action for entry in claims["access"] for action in entry["actions"]]


def server_ms(access_log):
    """gunicorn's own time (ms) of each request in ``access_log`` (the stack's format), by
    Correlation-ID."""
    pattern = re.compile(r"^pulp \[([0-9a-f]+)\]: .* (\d+)ms$")
    times = {}
    for line in access_log.read_text().splitlines():
        match = pattern.match(line)
        if match:
            times[match.group(1)] = int(match.group(2))
    return times


def _server_ms(stack, kinds):
    """Per kind, gunicorn's own request times (ms) from the access log, by Correlation-ID."""
    times = server_ms(stack.logs / "api-access.log")
    return {kind.key: [times[c] for c in kind.correlation_ids if c in times] for kind in kinds}


@contextmanager
def katello_stack(name, **stack_options):
    """``(stack, katello, database, tmp)``: a throwaway PostgreSQL (or ``DATABASE_URL``), the
    Katello stand-in as Foreman, and a real Pulp stack with this plugin, holding the images and
    Katello's ACL of ``_prepare``; everything is stopped afterwards."""
    settings = {"KATELLO_GATEWAY_FOREMAN_URL": None, **stack_options.pop("settings", {})}
    with tempfile.TemporaryDirectory(prefix=f"{name.replace('_', '-')}-") as tmp:
        tmp = Path(tmp)
        tmp.chmod(0o755)  # the postgres user must reach the cluster directory inside
        database, cluster = bench_database(tmp, name)
        katello = KatelloStandin().start()
        stack = None
        try:
            settings["KATELLO_GATEWAY_FOREMAN_URL"] = katello.url
            stack = PulpStack(tmp / "pulp", database, settings=settings, **stack_options)
            print("Starting PostgreSQL, the Katello stand-in and Pulp ...", file=sys.stderr)
            stack.prepare()
            stack.start()
            _prepare(stack, katello, tmp)
            yield stack, katello, database, tmp
        finally:
            if stack is not None:
                stack.stop()
            katello.stop()
            if cluster is not None:
                cluster.stop()


def run(args):
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    )  # pulpcore-api must import bench.token_urls
    with katello_stack("bench_token", api_workers=args.api_workers,
                       settings={"ROOT_URLCONF": "bench.token_urls"}) as (stack, katello, db, _):
        return _measure(args, stack, db, katello)


def _measure(args, stack, database, katello):
    admin = stack.admin_auth
    db = database.connect()

    def expire_cached_logins():
        db.execute(f"UPDATE {CACHED_LOGINS} SET verified_at = now() - interval '1 day'")

    ours, stock = "token/", STOCK_TOKEN_PATH
    kinds = [
        (ours, Kind("plugin_foreman_cached", "plugin", "Foreman user, cached login", PRIVATE,
                    (LOGIN, PASSWORD))),
        (ours, Kind("plugin_foreman_uncached", "plugin", "Foreman user, login not cached",
                    PRIVATE, (LOGIN, PASSWORD), before=expire_cached_logins)),
        (ours, Kind("plugin_admin", "plugin", "local Pulp admin (PBKDF2)", PRIVATE, admin)),
        (stock, Kind("stock_admin", "pulp_container", "local Pulp admin (PBKDF2)", PRIVATE,
                     admin)),
        # A client may repeat a scope (60 fill gunicorn's 4 KiB request line): the plugin
        # decides each repository once.
        (ours, Kind("plugin_admin_60_scopes", "plugin", "local Pulp admin, 60 identical scopes",
                    PRIVATE, admin, scopes=60)),
        (stock, Kind("stock_admin_60_scopes", "pulp_container",
                     "local Pulp admin, 60 identical scopes", PRIVATE, admin, scopes=60)),
        (ours, Kind("plugin_anonymous", "plugin", "anonymous", PUBLIC)),
        (stock, Kind("stock_anonymous", "pulp_container", "anonymous", PUBLIC)),
    ]
    sessions = {kind.key: stack.session(auth=None) for _, kind in kinds}

    # Sanity: every kind gets a 200 granting pull (the Foreman user's first login happens here).
    for path, kind in kinds:
        _, response = _request(sessions[kind.key], stack, path, kind)
        if set(_granted(response)) != {"pull"}:
            raise RuntimeError(f"{kind.key}: expected pull, got {_granted(response)}")
    if args.foreman_latency:
        katello.set_fault("slow", seconds=args.foreman_latency)

    total = args.warmup + args.requests
    print(f"Measuring {len(kinds)} kinds x {args.requests} requests "
          f"(+{args.warmup} warm-up) ...", file=sys.stderr)
    foreman_before = katello.request_count()
    for round_ in range(total):
        for path, kind in kinds:
            if kind.before:
                kind.before()
            elapsed, response = _request(sessions[kind.key], stack, path, kind)
            if round_ >= args.warmup:
                kind.client_ms.append(elapsed)
                kind.correlation_ids.append(response.headers.get("Correlation-ID", ""))
    foreman_calls = katello.request_count() - foreman_before
    katello.set_fault(None)
    db.close()

    time.sleep(1)  # let gunicorn flush its access log
    server = _server_ms(stack, [kind for _, kind in kinds])
    results = []
    for path, kind in kinds:
        results.append({
            "key": kind.key,
            "view": kind.view,
            "endpoint": "/" + path,
            "identity": kind.identity,
            "repository": kind.repository,
            "client_ms": _summary(kind.client_ms),
            "server_ms": _summary(server[kind.key]) if server[kind.key] else None,
        })
    return {
        "benchmark": "token",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "parameters": {
            "requests_per_kind": args.requests,
            "warmup_per_kind": args.warmup,
            "api_workers": args.api_workers,
            "foreman_latency_s": args.foreman_latency,
        },
        "environment": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
            "pulpcore": version("pulpcore"),
            "pulp_container": version("pulp-container"),
            "pulp_katello_gateway": version("pulp-katello-gateway"),
        },
        "foreman_requests_during_measurement": foreman_calls,
        "results": results,
    }


def markdown(report):
    lines = [
        "| Token request | View | client p50 ms | client p95 ms | server p50 ms | server p95 ms |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for row in report["results"]:
        server = row["server_ms"] or {"p50": "-", "p95": "-"}
        lines.append(
            f"| {row['identity']} | {row['view']} | {row['client_ms']['p50']:.1f} | "
            f"{row['client_ms']['p95']:.1f} | {server['p50']} | {server['p95']} |"
        )
    params = report["parameters"]
    lines.append("")
    lines.append(
        f"{params['requests_per_kind']} requests per row (after {params['warmup_per_kind']} "
        f"warm-up), one at a time, rows interleaved; pulpcore-api with "
        f"{params['api_workers']} workers on {report['environment']['cpus']} CPUs; "
        f"pulpcore {report['environment']['pulpcore']}, "
        f"pulp_container {report['environment']['pulp_container']}. "
        f"Foreman (stand-in) requests during the measurement: "
        f"{report['foreman_requests_during_measurement']}."
    )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m bench.token",
        description="p50/p95 of the plugin's token endpoint next to stock pulp_container's, "
        "on one real Pulp stack started for the run.",
    )
    parser.add_argument("--requests", type=int, default=200,
                        help="measured requests per kind (default 200)")
    parser.add_argument("--warmup", type=int, default=10,
                        help="unmeasured requests per kind first (default 10)")
    parser.add_argument("--api-workers", type=int, default=2,
                        help="gunicorn workers of pulpcore-api (default 2)")
    parser.add_argument("--foreman-latency", type=float, default=0.0, metavar="SECONDS",
                        help="delay every stand-in (Foreman) answer by this much (default 0)")
    parser.add_argument("--output", type=Path, default=RESULTS,
                        help=f"JSON results file (default {RESULTS.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.warmup < 0:
        parser.error("--requests must be at least 1 and --warmup not negative")

    report = run(args)
    print(markdown(report))
    save(report, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
