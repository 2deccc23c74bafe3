"""The herd side by side: every node pulled at the same time, the pull record on and off, stock.

    python -m bench.side_by_side [--clients N] [--rounds N] [--ramp SECONDS] [--window SECONDS]
                                 [--hosts N] [--api-workers N] [--layers N] [--layer-kib N]
                                 [--timeout SECONDS] [--output PATH]

``bench.herd`` runs its phases one after the other. On a shared machine the same phase's pulls/s
drift by ±10–30 % between phases minutes apart: more than the 5 % the pull record may cost, and
as much as the 10 % authorization may cost against stock. So its pairs cannot judge those. Here
the nodes are pulled at the same time, and whatever slows the machine slows them alike. One
capsule as ``bench.herd`` starts it (the same database, content app and image; each node its
pulpcore-api on install.md's socket unit behind its own Apache), with four nodes:

- ``record_on``: the plugin, pull record on (the default);
- ``record_off``: the plugin with ``KATELLO_GATEWAY_PULL_RECORD = False``;
- ``control``: a second node with the pull record off. Its pulls/s against ``record_off``'s is
  the method's own noise (which node, scheduling), the floor under which a cost is not seen;
- ``stock``: stock pulp_container, as in ``bench.herd``, pulled anonymously from the public
  repository whatever the population: the ceiling with no authorization.

A measurement: one of ``bench.herd``'s populations, N clients per node (stock's anonymous), all
four nodes at once. Each client pulls in a loop as ``bench.herd.pull`` does (the token, the
manifests, the blobs), the clients starting one after another over ``--ramp`` seconds. The pulls
each node completes within the window (``--window`` seconds, from ``--ramp`` after the last start)
are its pulls/s. Then every client finishes the pull under way and stops, and the record's count
is checked against the manifest GETs the recording node served. The pull record is emptied before
each measurement.

- ``hosts``: each node's clients take the registered hosts in turn (``--hosts``, more than a node
  pulls in a measurement), so that every recorded pull is a host's first: it inserts a row, the
  record's dearest case.
- ``foreman`` and ``anonymous``: every client of a node shares one identity (the Foreman user's
  cached login, or none), so every recorded pull updates one row: the hot row.

Rounds: each population once per round, in another order each round. Reported per measurement
and node: pulls in the window, pulls/s, errors, retried requests, CPU ms per pull of the node's
pulpcore-api and Apache in the window; and lock waits sampled meanwhile. ``python -m bench.report``
judges the record's cost (``1 − record_on / record_off``) against the control (``1 − control /
record_off``), and authorized pulls against stock's (``record_on / stock``), medians over rounds.
Writes ``bench/results/side_by_side.json``.
"""

import argparse
import asyncio
import itertools
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from bench.herd import (
    POPULATIONS,
    PUBLIC,
    PULL_RECORD,
    VARIANTS,
    LockWaits,
    StepFailed,
    apache_version,
    capsule,
    make_clients,
    pull,
    tree_cpu,
    warm_up,
)
from bench.results import save

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "side_by_side.json"
RECORD_OFF = {"PULP_KATELLO_GATEWAY_PULL_RECORD": "false"}
NODES = {
    "record_on": ("plugin, pull record on", {}),
    "record_off": ("plugin, pull record off", RECORD_OFF),
    "control": ("plugin, pull record off (control: a second node)", RECORD_OFF),
    "stock": VARIANTS["stock"],
}
MEASURED = ("hosts", "foreman", "anonymous")


class Side:
    """One node's clients in a measurement: who pulls what next, and what was pulled when."""

    def __init__(self, node, pool, repository):
        self.node, self.pool, self.repository = node, pool, repository
        self.next_client = itertools.cycle(pool).__next__
        self.completed, self.errors = [], {}  # completion times; {error: count}

    def in_window(self, start, end):
        """Pulls completed within [start, end)."""
        return sum(1 for done in self.completed if start <= done < end)


async def _loop(side, starts_at, stops_at, timeout):
    """Pull, one pull after another, from ``starts_at`` until ``stops_at`` (the pull under way
    then is finished)."""
    await asyncio.sleep(max(0.0, starts_at - time.perf_counter()))
    while time.perf_counter() < stops_at:
        try:
            await pull(side.next_client(), side.node.url, side.repository, timeout)
        except StepFailed as failed:
            side.errors[str(failed)] = side.errors.get(str(failed), 0) + 1
        else:
            side.completed.append(time.perf_counter())


def rotated(items, shift):
    """``items`` rotated left by ``shift``: which node's client starts first at each step of the
    ramp, and which population is measured first in each round, turns so that none always
    leads (what runs just before weighs on what follows)."""
    shift %= len(items)
    return list(items[shift:]) + list(items[:shift])


async def _measure(sides, n, args, roots):
    """Every side's N loops at once; the CPU times of ``roots`` at the window's ends."""
    now = time.perf_counter()
    window_start = now + 2 * args.ramp
    window_end = window_start + args.window
    loops = []
    for index in range(n):
        starts_at = now + args.ramp * index / n
        loops += [_loop(side, starts_at, window_end, args.timeout)
                  for side in rotated(list(sides.values()), index)]

    async def cpu_at(moment):
        await asyncio.sleep(max(0.0, moment - time.perf_counter()))
        return tree_cpu(roots)

    results = await asyncio.gather(cpu_at(window_start), cpu_at(window_end), *loops)
    return window_start, window_end, results[0], results[1]


def measure(herd_capsule, population, n, args):
    """One measurement of ``population``, ``n`` clients per node: its figures."""
    repository = POPULATIONS[population][1]
    ca_file = herd_capsule.stack.ca_file
    sides = {}
    for key, node in herd_capsule.nodes.items():
        if key == "stock":  # no authorization: anonymous, on the public repository
            sides[key] = Side(node, make_clients("anonymous", n, [], ca_file), PUBLIC)
        else:
            pool = args.hosts if population == "hosts" else n
            sides[key] = Side(node, make_clients(population, pool, herd_capsule.hosts, ca_file),
                              repository)
    roots = {f"{key}_{part}": pid for key, node in herd_capsule.nodes.items()
             for part, pid in node.pids().items()}
    with herd_capsule.database.connect() as db:
        db.execute(f"DELETE FROM {PULL_RECORD}")
        with LockWaits(herd_capsule.database) as lock_waits:
            start, end, before, after = asyncio.run(_measure(sides, n, args, roots))
        record = db.execute(f"SELECT count(*), coalesce(sum(count), 0) FROM {PULL_RECORD} "
                            "WHERE repository = %s", [repository]).fetchone()
    window = end - start
    nodes = {}
    for key, side in sides.items():
        pulls = side.in_window(start, end)
        nodes[key] = {
            "label": side.node.label,
            "repository": side.repository,
            "pulls": pulls,
            "pulls_per_second": round(pulls / window, 3),
            "errors": side.errors,
            "retried_requests": sum(client.retries for client in side.pool),
            "cpu_ms_per_pull": {
                part: round((after[f"{key}_{part}"] - before[f"{key}_{part}"]) * 1000
                            / max(pulls, 1), 1)
                for part in ("api", "apache")
            },
        }
    return {
        "population": population,
        "population_label": POPULATIONS[population][0],
        "repository": repository,
        "clients": n,
        "window_seconds": round(window, 2),
        "nodes": nodes,
        "lock_waits": lock_waits.summary(),
        "pull_record": {
            "rows": record[0], "count": int(record[1]),
            "expected_count": sum(client.manifests for client in sides["record_on"].pool),
        },
    }


def run(args):
    with tempfile.TemporaryDirectory(prefix="bench-side-by-side-") as tmp:
        tmp = Path(tmp)
        tmp.chmod(0o755)  # postgres reaches its cluster inside, Apache (www-data) the sockets
        with capsule(tmp, args, NODES) as herd_capsule:
            warm_up(herd_capsule, args)
            measurements = []
            for number in range(args.rounds):
                for population in rotated(args.populations, number):
                    print(f"Round {number + 1}/{args.rounds}: {population}, {args.clients} "
                          "clients per node ...", file=sys.stderr, flush=True)
                    measurement = measure(herd_capsule, population, args.clients, args)
                    measurements.append({**measurement, "round": number})
                    _print(measurement)
    from bench.report import _cpu_model

    return {
        "benchmark": "side_by_side",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "parameters": {
            "clients": args.clients, "rounds": args.rounds, "populations": args.populations,
            "ramp_s": args.ramp, "window_s": args.window, "hosts": args.hosts,
            "api_workers": args.api_workers, "content_workers": 1, "layers": args.layers,
            "layer_kib": args.layer_kib, "timeout_s": args.timeout,
        },
        "environment": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "cpu": _cpu_model(),
            "pulpcore": version("pulpcore"),
            "pulp_container": version("pulp-container"),
            "apache": apache_version(),
            "load_average_at_end": [round(value, 2) for value in os.getloadavg()],
        },
        "measurements": measurements,
    }


def _print(measurement):
    nodes = measurement["nodes"]
    line = "  " + "; ".join(f"{key} {node['pulls']} pulls ({node['pulls_per_second']}/s)"
                            for key, node in nodes.items())
    off = nodes["record_off"]["pulls"] or 1
    line += (f"; cost {1 - nodes['record_on']['pulls'] / off:+.1%}, "
             f"control {1 - nodes['control']['pulls'] / off:+.1%}, "
             f"× stock {nodes['record_on']['pulls'] / (nodes['stock']['pulls'] or 1):.2f}")
    errors = {key: node["errors"] for key, node in nodes.items() if node["errors"]}
    if errors:
        line += f"; errors {errors}"
    print(line, file=sys.stderr, flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.side_by_side",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50,
                        help="N, clients per node pulling at once (default 50)")
    parser.add_argument("--rounds", type=int, default=4,
                        help="rounds, each measuring every population once (default 4)")
    parser.add_argument("--ramp", type=float, default=30.0,
                        help="seconds over which the clients start; the window opens as long "
                        "after the last start (default 30)")
    parser.add_argument("--window", type=float, default=180.0,
                        help="seconds in which completed pulls are counted (default 180)")
    parser.add_argument("--hosts", type=int, default=600,
                        help="hosts registered, taken in turn by each node's host clients "
                        "(default 600)")
    parser.add_argument("--api-workers", type=int, default=2,
                        help="gunicorn workers of each node's pulpcore-api (default 2)")
    parser.add_argument("--layers", type=int, default=4, help="layers per image (default 4)")
    parser.add_argument("--layer-kib", type=int, default=64,
                        help="KiB of incompressible data per layer (default 64)")
    parser.add_argument("--populations", default=",".join(MEASURED),
                        help=f"the populations to measure, comma-separated (default "
                        f"{','.join(MEASURED)})")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds a client gives each request (default 120)")
    parser.add_argument("--output", type=Path, default=RESULTS,
                        help=f"JSON results file (default {RESULTS.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    args.populations = args.populations.split(",")
    if set(args.populations) - set(MEASURED):
        parser.error(f"--populations: choose from {', '.join(MEASURED)}")
    if args.clients < 1 or args.rounds < 1 or args.window <= 0 or args.ramp < 0:
        parser.error("--clients and --rounds must be positive, --window too, --ramp not "
                     "negative")
    args.hosts = max(args.hosts, args.clients, 4 * args.api_workers)
    report = run(args)
    save(report, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
