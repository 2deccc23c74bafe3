"""What each server costs a herd in CPU, the servers pulled at the same time.

    python -m bench.herd_cpu [--clients N] [--rounds N] [--ramp SECONDS] [--window SECONDS]
                             [--hosts N] [--api-workers N] [--layers N] [--layer-kib N]
                             [--timeout SECONDS] [--output PATH]

A capsule under a herd is CPU-bound: in ``bench.herd_turns`` the machine stayed busy with 1.95 of
its 2 CPUs (1.79–1.97 over 60 turns, 2026-12-07), so its pulls/s is that CPU over the CPU time a
pull takes. What a server costs in pulls/s is its share of that CPU time. But on this shared
machine the CPU time of identical work swings by ±25 % from one half-minute to the next (other
guests), and so do pulls/s taken in turns: too much to resolve 5 %. Here the servers are pulled
at the same time, so that the machine's speed is the same for all of them, and the CPU time each
spends per pull is measured, not its pulls/s (servers pulled at once share the content app, which
paces them alike).

The capsule is ``bench.herd``'s, with four servers, each logging in to PostgreSQL as a role of
its own: the plugin with the pull record on, with it off, off again (the control: what the method
sees where nothing differs), and stock pulp_container (anonymous, on the public repository,
whatever the population). A measurement: one population, N clients per server pulling in a loop
(as ``bench.herd.pull`` does), starting one after another over ``--ramp`` seconds; in the window
(``--window`` seconds, from ``--ramp`` after the last start), per server:

- its pulls completed;
- its CPU time: its pulpcore-api and Apache process trees, and the execution time of its
  statements in PostgreSQL (``pg_stat_statements``, by role);
- and the whole machine's CPU time (every process of the capsule and this client).

The rest of the machine's CPU time (the content app, PostgreSQL's own work, the clients) is
shared, counted per pull of all servers. A capsule serving one server would spend per pull the
shared part plus that server's, so its pulls/s relative to another's is the inverse ratio of
those sums: the record's cost is ``1 − (shared + off) / (shared + on)``.

Hosts: each server's host clients take the registered hosts in turn (``--hosts``), so that every
recorded host pull inserts a row. The Foreman user's nodes and anonymous clients share one
identity each. Rounds: each population once per round, in another order each round. Writes
``bench/results/herd_cpu.json``; ``python -m bench.report`` takes medians over rounds.
"""

import argparse
import asyncio
import itertools
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.herd import (
    POPULATIONS,
    PUBLIC,
    PULL_RECORD,
    VARIANTS,
    LockWaits,
    StepFailed,
    add_capsule_arguments,
    add_measured_populations,
    environment,
    make_clients,
    measured_populations,
    pull,
    tree_cpu,
    warm_capsule,
)
from bench.results import save

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "herd_cpu.json"
SERVERS = {
    **VARIANTS,
    "control": ("plugin, pull record off (control: a second server)", VARIANTS["record_off"][1]),
}
ROLE_PASSWORD = "herd-cpu-role"  # a throwaway cluster's, on loopback


def _role(key):
    return f"herd_{key}"


def _nodes():
    """``SERVERS``, each logging in to PostgreSQL as its own role."""
    return {key: (label, {**env, "PULP_DATABASES__default__USER": _role(key),
                          "PULP_DATABASES__default__PASSWORD": ROLE_PASSWORD})
            for key, (label, env) in SERVERS.items()}


def rotated(items, shift):
    """``items`` rotated left by ``shift``: which server's client starts first at each step of
    the ramp, and which population is measured first in each round, turns so that none always
    leads."""
    shift %= len(items)
    return list(items[shift:]) + list(items[:shift])


class Side:
    """One server's clients in a measurement: who pulls what next, and when pulls ended."""

    def __init__(self, node, pool, repository):
        self.node, self.pool, self.repository = node, pool, repository
        self.next_client = itertools.cycle(pool).__next__
        self.completed, self.errors = [], {}

    def in_window(self, start, end):
        """Pulls completed within [start, end)."""
        return sum(1 for done in self.completed if start <= done < end)


async def _loop(side, starts_at, stops_at, timeout):
    await asyncio.sleep(max(0.0, starts_at - time.perf_counter()))
    while time.perf_counter() < stops_at:
        try:
            await pull(side.next_client(), side.node.url, side.repository, timeout)
        except StepFailed as failed:
            side.errors[str(failed)] = side.errors.get(str(failed), 0) + 1
        else:
            side.completed.append(time.perf_counter())


_BY_ROLE = """
SELECT r.rolname, sum(s.total_exec_time) FROM pg_stat_statements s
JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname LIKE 'herd\\_%%' GROUP BY r.rolname
"""


async def _measure(sides, n, args, roots, db):
    """Every side's N loops at once; CPU times and statement times at the window's ends."""
    now = time.perf_counter()
    window_start = now + 2 * args.ramp
    window_end = window_start + args.window
    loops = []
    for index in range(n):
        starts_at = now + args.ramp * index / n
        loops += [_loop(side, starts_at, window_end, args.timeout)
                  for side in rotated(list(sides.values()), index)]

    async def sample_at(moment):
        await asyncio.sleep(max(0.0, moment - time.perf_counter()))
        return tree_cpu(roots), dict(db.execute(_BY_ROLE).fetchall())

    results = await asyncio.gather(sample_at(window_start), sample_at(window_end), *loops)
    return window_start, window_end, results[0], results[1]


def measure(herd_capsule, population, n, args):
    """One measurement of ``population``, ``n`` clients per server: its figures."""
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
    roots = herd_capsule.cpu_roots()
    with herd_capsule.database.connect() as db:
        db.execute(f"DELETE FROM {PULL_RECORD}")
        with LockWaits(herd_capsule.database) as lock_waits:
            start, end, (cpu_0, sql_0), (cpu_1, sql_1) = asyncio.run(
                _measure(sides, n, args, roots, db))
    cpu = {key: cpu_1[key] - cpu_0[key] for key in cpu_1}
    servers = {}
    for key, side in sides.items():
        exec_ms = sql_1.get(_role(key), 0.0) - sql_0.get(_role(key), 0.0)
        servers[key] = {
            "label": side.node.label,
            "repository": side.repository,
            "pulls": side.in_window(start, end),
            "errors": side.errors,
            "api_ms": round(cpu[f"{key}_api"] * 1000, 1),
            "apache_ms": round(cpu[f"{key}_apache"] * 1000, 1),
            "statements_ms": round(exec_ms, 1),
        }
    return {
        "population": population,
        "population_label": POPULATIONS[population][0],
        "clients": n,
        "window_seconds": round(end - start, 2),
        "machine_cpu_ms": round(sum(cpu.values()) * 1000, 1),
        "servers": servers,
        "lock_waits": lock_waits.summary(),
    }


def run(args):
    roles = [(_role(key), ROLE_PASSWORD) for key in SERVERS]
    with warm_capsule(args, "bench-herd-cpu-", _nodes(), roles) as herd_capsule:
        measurements = []
        for number in range(args.rounds):
            for population in rotated(args.populations, number):
                print(f"Round {number + 1}/{args.rounds}: {population}, {args.clients} clients "
                      "per server ...", file=sys.stderr, flush=True)
                measurement = {**measure(herd_capsule, population, args.clients, args),
                               "round": number}
                measurements.append(measurement)
                _print(measurement)
    return {
        "benchmark": "herd_cpu",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "parameters": {
            "clients": args.clients, "rounds": args.rounds, "populations": args.populations,
            "ramp_s": args.ramp, "window_s": args.window, "hosts": args.hosts,
            "api_workers": args.api_workers, "content_workers": 1, "layers": args.layers,
            "layer_kib": args.layer_kib, "timeout_s": args.timeout,
        },
        "environment": environment(),
        "measurements": measurements,
    }


def _own_ms(server):
    """CPU ms a server spent in the window: its processes and its statements."""
    return server["api_ms"] + server["apache_ms"] + server["statements_ms"]


def server_ms_per_pull(server):
    """CPU ms a server spent per pull it completed."""
    return _own_ms(server) / max(server["pulls"], 1)


def shared_ms_per_pull(measurement):
    """The machine's CPU ms per pull that no server's own processes or statements spent."""
    servers = measurement["servers"].values()
    return ((measurement["machine_cpu_ms"] - sum(_own_ms(server) for server in servers))
            / max(sum(server["pulls"] for server in servers), 1))


def _print(measurement):
    shared = shared_ms_per_pull(measurement)
    line = "  " + "; ".join(
        f"{key} {server['pulls']} pulls, {server_ms_per_pull(server):.1f} ms"
        for key, server in measurement["servers"].items())
    errors = {key: s["errors"] for key, s in measurement["servers"].items() if s["errors"]}
    print(line + f"; shared {shared:.1f} ms" + (f"; errors {errors}" if errors else ""),
          file=sys.stderr, flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.herd_cpu",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10,
                        help="N, clients per server pulling at once (default 10)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds, each measuring every population once (default 3)")
    parser.add_argument("--ramp", type=float, default=10.0,
                        help="seconds over which the clients start; the window opens as long "
                        "after the last start (default 10)")
    parser.add_argument("--window", type=float, default=120.0,
                        help="seconds measured (default 120)")
    parser.add_argument("--hosts", type=int, default=600,
                        help="hosts registered, taken in turn by each server's host clients "
                        "(default 600)")
    add_measured_populations(parser)
    add_capsule_arguments(parser, RESULTS)
    args = parser.parse_args(argv)
    args.populations = measured_populations(parser, args)
    if args.clients < 1 or args.rounds < 1 or args.window <= 0 or args.ramp < 0:
        parser.error("--clients, --rounds and --window must be positive, --ramp not negative")
    args.hosts = max(args.hosts, args.clients, 4 * args.api_workers)
    save(run(args), args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
