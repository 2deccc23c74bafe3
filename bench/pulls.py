"""Foreman calls per 100 pulls by one user after login: plugin measured, Ruby gateway modelled.

    python -m bench.pulls [--pulls N] [--output PATH]

Starts what ``bench.token`` starts (throwaway PostgreSQL or ``DATABASE_URL``, the Katello stand-in
as Foreman, a real Pulp stack with this plugin), pushes a tiny image to a repository that requires
authentication and Katello's ACL granting it to one Foreman user. Then, with real ``skopeo``
(containers/image, the library podman uses): ``skopeo login`` once, and ``--pulls`` times
``skopeo copy docker://<registry>/<repository>:latest dir:<fresh dir>`` with that user's
credentials, i.e. one ``podman pull`` each: a token request, the manifest, the blobs.

Counted: requests the stand-in received (its per-path counter) during the login and during the
pulls, and token requests in pulpcore-api's access log. The Ruby gateway asks Katello twice per
token request (``/v2/token`` and ``/v2/_catalog``, protocol reference §5.1), so its figure for the
same client behaviour is 2 x the token requests counted here. Writes ``bench/results/pulls.json``.
"""

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from bench.results import save
from bench.token import LOGIN, PASSWORD, PRIVATE, katello_stack
from devtools.clients import Skopeo

RESULTS = Path(__file__).resolve().parent / "results" / "pulls.json"
RUBY_CALLS_PER_TOKEN = 2  # Katello's /v2/token and /v2/_catalog on every token request


def _token_requests(stack):
    log = stack.logs / "api-access.log"
    return sum('"GET /token/' in line for line in log.read_text().splitlines())


def _measure(stack, katello, tmp, pulls):
    skopeo = Skopeo(stack.certs_dir, tmp / "client")
    source = f"docker://{stack.registry}/{PRIVATE}:latest"
    katello.reset_counters()
    skopeo.login(stack.registry, LOGIN, PASSWORD)  # podman login: Foreman checks the password
    login_requests = katello.request_counts()
    katello.reset_counters()
    time.sleep(1)  # gunicorn writes its access log asynchronously
    tokens_before = _token_requests(stack)
    seconds = []
    for _ in range(pulls):
        target = tmp / "pulled"
        shutil.rmtree(target, ignore_errors=True)
        started = time.perf_counter()
        skopeo.copy(source, f"dir:{target}", src_creds=(LOGIN, PASSWORD))
        seconds.append(time.perf_counter() - started)
    requests = katello.request_counts()
    time.sleep(1)
    tokens = _token_requests(stack) - tokens_before
    return {
        "pulls": pulls,
        "client": "skopeo " + _skopeo_version(),
        "login_foreman_requests": login_requests,
        "foreman_requests": requests,
        "foreman_requests_total": sum(requests.values()),
        "token_requests": tokens,
        "ruby_gateway_foreman_requests": RUBY_CALLS_PER_TOKEN * tokens,
        "ruby_gateway_login_foreman_requests": RUBY_CALLS_PER_TOKEN,
        "pull_seconds": {
            "p50": round(statistics.median(seconds), 3),
            "mean": round(statistics.fmean(seconds), 3),
            "max": round(max(seconds), 3),
        },
    }


def _skopeo_version():
    out = subprocess.run(["skopeo", "--version"], capture_output=True, text=True).stdout
    return out.split()[-1] if out else "?"


def run(pulls):
    with katello_stack("bench_pulls") as (stack, katello, _, tmp):
        print(f"{pulls} pulls by one logged-in Foreman user ...", file=sys.stderr)
        result = _measure(stack, katello, tmp, pulls)
    result.update(
        benchmark="pulls",
        date=datetime.now(UTC).isoformat(timespec="seconds"),
        environment={
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "pulpcore": version("pulpcore"),
            "pulp_container": version("pulp-container"),
        },
    )
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.pulls",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--pulls", type=int, default=100, help="pulls after the login (100)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="JSON results file")
    args = parser.parse_args(argv)
    result = run(args.pulls)
    save(result, args.output)
    print(f"login: Foreman requests {result['login_foreman_requests']}")
    print(f"{result['pulls']} pulls: {result['token_requests']} token requests, Foreman requests "
          f"{result['foreman_requests_total']} (Ruby gateway: "
          f"{result['ruby_gateway_foreman_requests']}); pull p50 "
          f"{result['pull_seconds']['p50']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
