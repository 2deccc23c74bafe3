"""What the operators' answers cost: manifest GET latency with the pull record on and off (same run,
same stack, requests alternating), "who pulled digest X" through ``pulls/`` over 10 million
recorded pulls, and the Foreman calls host refresh makes.

    python -m bench.pull_record [--requests N] [--rows N] [--hosts N] [--output PATH]

Starts what ``bench.token`` starts (throwaway PostgreSQL or ``DATABASE_URL``, the Katello stand-in
as Foreman, a real Pulp stack with this plugin) plus two more API nodes on the same database: one
with ``KATELLO_GATEWAY_PULL_RECORD = False``, one refreshing hosts every few seconds. Latencies are
the client's wall time of each request on loopback (manifest GETs are answered by pulpcore-api:
served on pulp_container 2.28+, redirected before). Writes ``bench/results/pull_record.json``.
"""

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from urllib.parse import quote

import requests

from bench.results import save
from bench.token import LOGIN, PASSWORD, PRIVATE, katello_stack
from devtools.clients import KATELLO_PUSH_PATH
from devtools.net import free_port, wait_until
from devtools.pki import CertificateAuthority

RESULTS = Path(__file__).resolve().parent / "results" / "pull_record.json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
REFRESH_INTERVAL = 5  # seconds, for the host refresh measurement
PULLS_PER_DIGEST = 100  # identities per digest in the 10-million-row table


def _session(stack):
    http = requests.Session()
    http.trust_env = False
    http.verify = str(stack.ca_file)
    return http


def _node(stack, name, env):
    """Another pulpcore-api on the stack's database; its base URL once it answers."""
    port = free_port()
    stack.start_api(name, port, env=env)
    url = f"https://127.0.0.1:{port}"
    http = _session(stack)

    def ready():
        try:
            return http.get(f"{url}/pulp/api/v3/status/", timeout=5).ok
        except OSError:
            return False

    wait_until(ready, 90, interval=0.3, what=f"API node {name}")
    return url


def _token(http, url, scope, **kwargs):
    service = url.split("://", 1)[1]
    response = http.get(f"{url}/token/", params={"service": service, "scope": scope},
                        timeout=60, **kwargs)
    response.raise_for_status()
    return response.json()["token"]


def _manifest_latency(stack, nodes, requests_per_node):
    """p50/p95 ms of manifest GETs by a Foreman user on each node, requests alternating."""
    http = _session(stack)
    scope = f"repository:{PRIVATE}:pull"
    tokens = {name: _token(http, url, scope, auth=(LOGIN, PASSWORD)) for name, url in nodes.items()}
    times = {name: [] for name in nodes}
    for _ in range(requests_per_node):
        for name, url in nodes.items():
            started = time.perf_counter()
            response = http.get(f"{url}/v2/{PRIVATE}/manifests/latest", allow_redirects=False,
                                headers={"Accept": OCI_MANIFEST,
                                         "Authorization": f"Bearer {tokens[name]}"}, timeout=60)
            times[name].append((time.perf_counter() - started) * 1000)
            if response.status_code not in (200, 302):
                raise RuntimeError(f"{name}: manifest GET {response.status_code}")
    return {name: _summary(values) for name, values in times.items()}


def _summary(values):
    values = sorted(values)
    return {"p50": round(statistics.median(values), 2),
            "p95": round(values[int(len(values) * 0.95) - 1], 2), "n": len(values)}


def _fill(database, rows):
    """``rows`` recorded pulls: 100 hosts per digest, last pulls spread over 80 days."""
    with database.connect() as conn:
        conn.execute(
            "INSERT INTO katello_gateway_pullrecord (pulp_id, pulp_created, pulp_last_updated, "
            "kind, login, host_uuid, repository, reference, digest, client_address, "
            "first_pulled, last_pulled, count) "
            "SELECT gen_random_uuid(), now(), now(), 'host', '', 'host-' || (i %% 50000), "
            "'repo-' || (i %% 1000), 'latest', 'sha256:' || md5((i / %s)::text) "
            "|| md5('x' || (i / %s)::text), '192.0.2.1', now() - (i %% 80) * interval '1 day', "
            "now() - (i %% 80) * interval '1 day', 1 + i %% 7 FROM generate_series(1, %s) AS i",
            [PULLS_PER_DIGEST, PULLS_PER_DIGEST, rows],
        )
        conn.execute("ANALYZE katello_gateway_pullrecord")
        digests = [row[0] for row in conn.execute(
            "SELECT 'sha256:' || md5((d)::text) || md5('x' || (d)::text) "
            "FROM generate_series(1, %s, %s) AS d",
            [rows // PULLS_PER_DIGEST, max(1, rows // PULLS_PER_DIGEST // 20)],
        )]
    return digests


def _who_pulled(stack, database, digests):
    """"Who pulled digest X": ms of ``GET pulls/?digest=X`` as an operator asks it (count and
    first page), next to ``GET repositories/?limit=1`` with the same Basic login (Pulp's
    password hashing costs most of a request), and the database's own execution time of the
    endpoint's two queries (EXPLAIN ANALYZE)."""
    http = _session(stack)
    http.auth = stack.admin_auth
    api = f"{stack.api_url}/pulp/api/v3/katello_gateway/"
    endpoint, baseline, query, found = [], [], [], set()
    with database.connect() as conn:
        for digest in digests:
            started = time.perf_counter()
            response = http.get(api + "pulls/", params={"digest": digest}, timeout=120)
            endpoint.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            found.add(response.json()["count"])
            started = time.perf_counter()
            http.get(api + "repositories/", params={"limit": 1}, timeout=120).raise_for_status()
            baseline.append((time.perf_counter() - started) * 1000)
            query.append(sum(_executed_ms(conn, sql, digest) for sql in _WHO_PULLED))
    return {"endpoint_ms": _summary(endpoint), "same_login_baseline_ms": _summary(baseline),
            "query_ms": _summary(query), "rows_per_digest": sorted(found)}


# What pulls/?digest=X runs: the page count, then the first page, newest first.
_WHO_PULLED = (
    "SELECT count(*) FROM katello_gateway_pullrecord WHERE digest = %s "
    "AND last_pulled >= now() - interval '90 days'",
    "SELECT * FROM katello_gateway_pullrecord WHERE digest = %s "
    "AND last_pulled >= now() - interval '90 days' ORDER BY last_pulled DESC, pulp_id LIMIT 100",
)


def _executed_ms(conn, sql, digest):
    plan = conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, [digest]).fetchone()[0]
    return plan[0]["Execution Time"]


def _host_refresh_calls(stack, katello, tmp, hosts, seconds):
    """Foreman catalog calls while ``hosts`` hosts ask for tokens in turn (a round at most
    every second) for ``seconds`` seconds on a node refreshing stale hosts every
    ``REFRESH_INTERVAL`` seconds."""
    ca = CertificateAuthority(tmp / "consumer-ca", common_name="bench consumer CA")
    url = _node(stack, "api-refresh", {
        "PULP_KATELLO_GATEWAY_HOST_REFRESH_INTERVAL": str(REFRESH_INTERVAL),
        "PULP_KATELLO_GATEWAY_CONSUMER_CA_FILE": str(ca.cert_path),
        # The benchmark passes hosts' certificates as the web server would, from 127.0.0.1.
        "PULP_KATELLO_GATEWAY_TRUSTED_PROXIES": '["127.0.0.1"]',
    })
    certs = {}
    for index in range(hosts):
        uuid = f"bench-host-{index}"
        katello.add_host(uuid, repositories=[PRIVATE])
        ca.issue(uuid, tmp / f"{uuid}.crt", tmp / f"{uuid}.key")
        certs[uuid] = quote((tmp / f"{uuid}.crt").read_text())
    katello.push(f"{stack.api_url}{KATELLO_PUSH_PATH}", auth=stack.admin_auth,
                 verify=str(stack.ca_file))
    katello.reset_counters()
    http = _session(stack)
    token_requests, started = 0, time.monotonic()
    while time.monotonic() - started < seconds:
        for pem in certs.values():
            _token(http, url, f"repository:{PRIVATE}:pull",
                   headers={"X-RHSM-SSL-Client-Cert": pem})
            token_requests += 1
        time.sleep(max(0.0, 1 - (time.monotonic() - started) % 1))
    time.sleep(REFRESH_INTERVAL)  # let the worker finish the refreshes asked for
    calls = katello.request_count("/v2/_catalog")
    elapsed = time.monotonic() - started
    return {"hosts": hosts, "seconds": round(elapsed, 1), "interval": REFRESH_INTERVAL,
            "token_requests": token_requests, "foreman_catalog_calls": calls,
            "bound": hosts * (int(elapsed // REFRESH_INTERVAL) + 1)}


def run(requests_per_node, rows, hosts):
    with katello_stack("bench_pull_record") as (stack, katello, database, tmp):
        nodes = {
            "record_on": _node(stack, "api-on", {}),
            "record_off": _node(stack, "api-off", {"PULP_KATELLO_GATEWAY_PULL_RECORD": "0"}),
        }
        print(f"{requests_per_node} manifest GETs per node ...", file=sys.stderr)
        latency = _manifest_latency(stack, nodes, requests_per_node)
        print(f"Recording {rows} pulls ...", file=sys.stderr)
        filled = time.perf_counter()
        digests = _fill(database, rows)
        fill_seconds = round(time.perf_counter() - filled, 1)
        who = _who_pulled(stack, database, digests)
        print(f"Host refresh with {hosts} hosts ...", file=sys.stderr)
        refresh = _host_refresh_calls(stack, katello, tmp, hosts, 3 * REFRESH_INTERVAL)
    return {
        "benchmark": "pull_record",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "manifest_get_ms": latency,
        "who_pulled": {"rows": rows, "fill_seconds": fill_seconds, **who},
        "host_refresh": refresh,
        "environment": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "pulpcore": version("pulpcore"),
            "pulp_container": version("pulp-container"),
        },
    }


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.pull_record",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="manifest GETs per node")
    parser.add_argument("--rows", type=int, default=10_000_000, help="recorded pulls")
    parser.add_argument("--hosts", type=int, default=50, help="hosts for host refresh")
    parser.add_argument("--output", type=Path, default=RESULTS, help="JSON results file")
    args = parser.parse_args(argv)
    result = run(args.requests, args.rows, args.hosts)
    save(result, args.output)
    latency, who = result["manifest_get_ms"], result["who_pulled"]
    print(f"manifest GET p50: record on {latency['record_on']['p50']} ms, "
          f"off {latency['record_off']['p50']} ms")
    print(f"who pulled digest X over {who['rows']} rows: endpoint p50 "
          f"{who['endpoint_ms']['p50']} ms (same login, 1 repository: "
          f"{who['same_login_baseline_ms']['p50']} ms), queries p50 {who['query_ms']['p50']} ms")
    refresh = result["host_refresh"]
    print(f"host refresh: {refresh['foreman_catalog_calls']} Foreman calls for "
          f"{refresh['token_requests']} token requests of {refresh['hosts']} hosts "
          f"(bound {refresh['bound']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
