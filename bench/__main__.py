"""Run benchmarks in turn: ``python -m bench [name ...]`` (``python -m bench.report`` reports).

Each benchmark is a module of this package, also runnable alone (``python -m bench.<name> -h``;
``push-apache`` is ``python -m bench.push --through apache``), in its own process so one's
settings and servers never leak into the next. Exits non-zero when any of them failed, after
trying all.
"""

import subprocess
import sys

BENCHMARKS = {
    "push": ["bench.push"],
    "push-apache": ["bench.push", "--through", "apache"],
    "catalog": ["bench.catalog"],
    "token": ["bench.token"],
    "pulls": ["bench.pulls"],
    "pull_record": ["bench.pull_record"],
    "herd": ["bench.herd"],
    "herd_turns": ["bench.herd_turns"],
    "herd_cpu": ["bench.herd_cpu"],
}


def main(argv):
    names = argv or list(BENCHMARKS)
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}",
              file=sys.stderr)
        return 2
    failed = []
    for name in names:
        print(f"== bench.{name}", file=sys.stderr, flush=True)
        if subprocess.run([sys.executable, "-m", *BENCHMARKS[name]]).returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
