"""A steady herd, the servers taking turns: what the pull record costs, and authorized pulls
against stock's anonymous ones.

    python -m bench.herd_turns [--clients N] [--blocks N] [--turn SECONDS] [--settle SECONDS]
                               [--hosts N] [--api-workers N] [--layers N] [--layer-kib N]
                               [--timeout SECONDS] [--output PATH]

``bench.herd``'s phases are bursts: all N clients start at once, and a phase's pulls/s is N over
the time its last pull ends. Its phases run one after the other, minutes apart. On a shared 2-CPU
machine the same phase's pulls/s then varies by ±10–30 %: more than the 5 % the pull record may
cost, so its pairs cannot judge that. Pulling the servers at the same time does not answer it in
pulls/s either: their shared content app and CPUs pace every server alike. Tried on 2026-12-07,
four servers pulled at once (stock among them) stayed within 1 % of each other, whatever each
cost (``bench.herd_cpu`` measures their CPU time per pull instead).

Here the whole capsule serves one server at a time, as a capsule does, in short turns. The capsule
is ``bench.herd``'s: one database, content app and image; the plugin with the pull record on, the
plugin with it off, and stock pulp_container, each its pulpcore-api behind its own Apache.

- N clients pull in a loop, all the time, each pull as ``bench.herd.pull`` does it.
- A turn (``--turn`` seconds) sends every pull started in it to one server, for one population.
- A turn's pulls/s counts its pulls completed from ``--settle`` seconds into it (when the pulls
  of the turn before have ended) to its end.

Turns run in blocks: stock (anonymous), then for each population (hosts, the Foreman user's
nodes, anonymous) the pull record on, off, and off again. Every other block runs in reverse, so
that neither turn of a pair always runs first. Per block:

- the record's cost: ``1 − on / off``, turns next to each other;
- the control: ``1 − off again / off``, what the method sees where nothing differs;
- × stock: ``on / stock``, turns of one block.

Hosts: the recording server's host pulls take the registered hosts in turn (``--hosts``, more
than it pulls), so that every recorded host pull is that host's first and inserts a row. The
Foreman user's nodes and anonymous clients share one identity each: every recorded pull updates
one row. At the end, the pull record's count is checked against the manifest GETs the recording
server served. Reported per turn: pulls counted, pulls/s, errors, CPU ms per pull of every
process (the servers, the content app, PostgreSQL, this client); lock waits sampled all along.
``python -m bench.report`` takes the medians over blocks. Writes ``bench/results/herd_turns.json``.
"""

import argparse
import asyncio
import itertools
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.herd import (
    MEASURED,
    POPULATIONS,
    PULL_RECORD,
    Client,
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
RESULTS = ROOT / "bench" / "results" / "herd_turns.json"
# A turn's name: the server it pulls from. "record_off_again", the control, is record_off's.
SERVERS = {"stock": "stock", "record_on": "record_on", "record_off": "record_off",
           "record_off_again": "record_off"}


def blocks(populations, count):
    """[(turn, population)] of ``count`` blocks: stock, then for each population the pull
    record on, off and off again; every other block reversed."""
    block = [("stock", "anonymous")] + [
        (turn, population) for population in populations
        for turn in ("record_on", "record_off", "record_off_again")
    ]
    return [[*block] if number % 2 == 0 else block[::-1] for number in range(count)]


@dataclass
class Turn:
    """What one turn's pulls did."""

    name: str
    population: str
    block: int
    started: float = 0.0
    ended: float = 0.0
    completed: list = field(default_factory=list)  # when each pull started in it ended
    errors: dict = field(default_factory=dict)

    def counted(self, settle):
        """Its pulls completed from ``settle`` seconds into it to its end."""
        return sum(1 for done in self.completed if self.started + settle <= done < self.ended)


class Conductor:
    """Which turn the next pull belongs to, and the clients of each server and population."""

    def __init__(self, herd_capsule, args):
        hosts = make_clients("hosts", args.hosts, herd_capsule.hosts, herd_capsule.stack.ca_file)
        self.pools = {}
        for server in herd_capsule.nodes:
            for population in MEASURED:
                if population == "hosts":  # each server's own clients, the same certificates
                    pool = [Client(client.context) for client in hosts]
                else:
                    pool = make_clients(population, args.clients, [],
                                        herd_capsule.stack.ca_file)
                self.pools[(server, population)] = (pool, itertools.cycle(pool).__next__)
        self.capsule, self.current = herd_capsule, None

    def next_pull(self):
        """(turn, client, server URL, repository) of the next pull."""
        turn = self.current
        server = SERVERS[turn.name]
        _, next_client = self.pools[(server, turn.population)]
        return (turn, next_client(), self.capsule.nodes[server].url,
                POPULATIONS[turn.population][1])

    def manifests(self, server):
        """Manifest GETs ``server`` served."""
        return sum(client.manifests for (key, _), (pool, _) in self.pools.items()
                   if key == server for client in pool)


async def _client(conductor, starts_at, timeout):
    """Pull, one pull after another, from ``starts_at`` until the last turn has ended."""
    await asyncio.sleep(max(0.0, starts_at - time.perf_counter()))
    while conductor.current is not None:
        turn, client, url, repository = conductor.next_pull()
        try:
            await pull(client, url, repository, timeout)
        except StepFailed as failed:
            turn.errors[str(failed)] = turn.errors.get(str(failed), 0) + 1
        else:
            turn.completed.append(time.perf_counter())


async def _run_turns(conductor, turns, args, roots):
    """The warm-up turn (the clients starting over its first half), then ``turns``; every
    turn's CPU times at its counting window's ends."""
    conductor.current = warming = Turn("record_off", turns[0].population, -1)
    now = time.perf_counter()
    clients = [_client(conductor, now + args.turn / 2 * index / args.clients, args.timeout)
               for index in range(args.clients)]

    async def conduct():
        await asyncio.sleep(max(0.0, now + args.turn - time.perf_counter()))
        cpu = {}
        for turn in turns:
            turn.started = time.perf_counter()
            conductor.current = turn
            await asyncio.sleep(args.settle)
            before = tree_cpu(roots)
            await asyncio.sleep(max(0.0, turn.started + args.turn - time.perf_counter()))
            turn.ended = time.perf_counter()
            cpu[id(turn)] = (before, tree_cpu(roots))
        conductor.current = None
        return cpu

    results = await asyncio.gather(conduct(), *clients)
    return warming, results[0]


def run(args):
    with warm_capsule(args, "bench-herd-turns-") as herd_capsule:
        conductor = Conductor(herd_capsule, args)
        turns = [Turn(name, population, number)
                 for number, block in enumerate(blocks(args.populations, args.blocks))
                 for name, population in block]
        roots = herd_capsule.cpu_roots()
        print(f"{len(turns)} turns of {args.turn:.0f} s, {args.clients} clients pulling ...",
              file=sys.stderr, flush=True)
        with herd_capsule.database.connect() as db:
            db.execute(f"DELETE FROM {PULL_RECORD}")
            with LockWaits(herd_capsule.database) as lock_waits:
                warming, cpu = asyncio.run(_run_turns(conductor, turns, args, roots))
            record = db.execute(f"SELECT count(*), coalesce(sum(count), 0) FROM "
                                f"{PULL_RECORD}").fetchone()
    return {
        "benchmark": "herd_turns",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "parameters": {
            "clients": args.clients, "blocks": args.blocks, "populations": args.populations,
            "turn_s": args.turn, "settle_s": args.settle, "hosts": args.hosts,
            "api_workers": args.api_workers, "content_workers": 1, "layers": args.layers,
            "layer_kib": args.layer_kib, "timeout_s": args.timeout,
        },
        "environment": environment(),
        "turns": [_figures(turn, args.settle, *cpu[id(turn)]) for turn in turns],
        "warm_up_errors": warming.errors,
        "lock_waits": lock_waits.summary(),
        "pull_record": {"rows": record[0], "count": int(record[1]),
                        "expected_count": conductor.manifests("record_on")},
    }


def _figures(turn, settle, before, after):
    pulls = turn.counted(settle)
    seconds = turn.ended - turn.started - settle
    figures = {
        "turn": turn.name, "server": SERVERS[turn.name], "population": turn.population,
        "population_label": POPULATIONS[turn.population][0], "block": turn.block,
        "counted_seconds": round(seconds, 2), "pulls": pulls,
        "pulls_per_second": round(pulls / seconds, 3), "errors": turn.errors,
        "cpu_ms_per_pull": {},
    }
    for part in ("content", "postgres", "client"):
        figures["cpu_ms_per_pull"][part] = (after[part] - before[part]) * 1000 / max(pulls, 1)
    for part in ("api", "apache"):  # the servers': only the one serving the turn is busy
        figures["cpu_ms_per_pull"][part] = sum(
            after[key] - before[key] for key in after if key.endswith(f"_{part}")
        ) * 1000 / max(pulls, 1)
    figures["cpu_ms_per_pull"] = {part: round(ms, 1)
                                  for part, ms in figures["cpu_ms_per_pull"].items()}
    print(f"  block {turn.block + 1}, {turn.name}, {turn.population}: {pulls} pulls in "
          f"{seconds:.0f} s, {figures['pulls_per_second']}/s"
          + (f"; errors {turn.errors}" if turn.errors else ""), file=sys.stderr, flush=True)
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.herd_turns",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50,
                        help="N, clients pulling all the time (default 50)")
    parser.add_argument("--blocks", type=int, default=6,
                        help="blocks of turns (default 6); the report takes medians over them")
    parser.add_argument("--turn", type=float, default=45.0,
                        help="seconds of a turn (default 45)")
    parser.add_argument("--settle", type=float, default=15.0,
                        help="seconds into a turn before its pulls are counted (default 15)")
    parser.add_argument("--hosts", type=int, default=1500,
                        help="hosts registered, taken in turn by each server's host pulls "
                        "(default 1500)")
    add_measured_populations(parser)
    add_capsule_arguments(parser, RESULTS)
    args = parser.parse_args(argv)
    args.populations = measured_populations(parser, args)
    if args.clients < 1 or args.blocks < 1 or not 0 <= args.settle < args.turn:
        parser.error("--clients and --blocks must be positive, and --settle within --turn")
    args.hosts = max(args.hosts, args.clients, 4 * args.api_workers)
    report = run(args)
    save(report, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
