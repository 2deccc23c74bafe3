"""Performance report: every benchmark in one run, next to stock pulp_container, as a docs page.

    python -m bench.report            # run the benchmarks (about 10 min on 2 CPUs), then write
    python -m bench.report --no-run   # only rewrite the page and plots from bench/results/

Runs, each in its own process and writing JSON to ``bench/results/``: ``bench.token`` (token
latency per path, plugin and stock view on one stack; once with Foreman answering at once, once
with 100 ms), ``bench.pulls`` (Foreman calls per 100 pulls), ``bench.catalog`` at 1 000, 10 000 and
100 000 repositories (plugin and stock catalog) and ``bench.push`` at 10 000, 100 000 and
1 000 000 user->repository pairs (stock pulp_container has no push API to compare with). Then
writes ``docs/performance.md`` with tables and ``docs/img/perf-*.png`` (matplotlib, Agg).

Without ``PULP_SETTINGS`` it starts one throwaway PostgreSQL cluster for all of them and removes
it afterwards (``make bench`` runs this).
"""

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PAGE = ROOT / "docs" / "performance.md"
IMAGES = ROOT / "docs" / "img"
CATALOG_SIZES = (1_000, 10_000, 100_000)
PUSH_USERS = (10, 100, 1_000)  # x 1 000 repositories each: 10k, 100k, 1M pairs
PUSH_REPOSITORIES, PUSH_PER_USER = 100_000, 1_000
MAPPING_SCENARIOS = ("user_repository_mapping, all new", "user_repository_mapping, unchanged",
                     "user_repository_mapping, 1% replaced")


def _result(name):
    return RESULTS / f"{name}.json"


def _steps():
    """(result name, module and arguments, needs PULP_SETTINGS, extra environment) per run."""
    steps = [
        ("token", ["bench.token", "--requests", "200"], False, {}),
        ("token-foreman-100ms",
         ["bench.token", "--requests", "50", "--foreman-latency", "0.1"], False, {}),
        ("pulls", ["bench.pulls", "--pulls", "100"], False, {}),
    ]
    for size in CATALOG_SIZES:
        steps.append((f"catalog-{size}", [
            "bench.catalog", "--repositories", str(size), "--grants", str(min(1_000, size // 10)),
            "--page-repeat", "20", "--full-repeat", "1",
        ], True, {}))
    for users in PUSH_USERS:
        steps.append((f"push-{users * PUSH_PER_USER}", [
            "bench.push", "--repositories", str(PUSH_REPOSITORIES), "--users", str(users),
            "--per-user", str(PUSH_PER_USER),
        ], True, {"PULP_DATABASES__default__NAME": "report_push"}))  # not the catalog's rows
    return steps


def run_benchmarks(steps):
    """Run ``steps``; returns {result name: seconds} and the names that failed."""
    from devtools.pg import Cluster
    from devtools.pulp_settings import write_settings

    durations, failed = {}, []
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        tmp = Path(tmp)
        tmp.chmod(0o755)  # the postgres user must reach the cluster directory inside
        cluster, env = None, dict(os.environ)
        if not env.get("PULP_SETTINGS"):
            cluster = Cluster(tmp / "postgres")
            superuser = cluster.start()
            env["PULP_SETTINGS"] = str(write_settings(
                tmp / "pulp", superuser.renamed("report"), api_origin="https://127.0.0.1",
                content_origin="http://127.0.0.1:24816",
            ))
            env.setdefault("DATABASE_URL", (
                f"postgres://{superuser.user}:{superuser.password}@{superuser.host}:"
                f"{superuser.port}/report"
            ))
        try:
            for name, args, needs_settings, extra in steps:
                step_env = dict(env, **extra)
                if needs_settings:
                    step_env["DJANGO_SETTINGS_MODULE"] = "pulpcore.app.settings"
                else:  # these start their own Pulp stack
                    step_env.pop("PULP_SETTINGS", None)
                print(f"== {name}: python -m {' '.join(args)}", file=sys.stderr, flush=True)
                started = time.monotonic()
                done = subprocess.run(
                    [sys.executable, "-m", *args, "--output", str(_result(name))],
                    env=step_env, cwd=ROOT,
                )
                durations[name] = round(time.monotonic() - started)
                if done.returncode != 0 and not _result(name).exists():
                    failed.append(name)
        finally:
            if cluster is not None:
                cluster.stop()
    return durations, failed


def _load(name):
    path = _result(name)
    return json.loads(path.read_text()) if path.exists() else None


# -- plots ---------------------------------------------------------------------------------------

PLUGIN_COLOUR, STOCK_COLOUR, RUBY_COLOUR = "#1f77b4", "#ff7f0e", "#d62728"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure, name):
    IMAGES.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(IMAGES / name, dpi=110)
    _pyplot().close(figure)
    return f"img/{name}"


def plot_token(token, slow):
    plt = _pyplot()
    panels = [(token, "Foreman (stand-in) answering at once")]
    if slow:
        panels.append((slow, "Foreman answering in 100 ms"))
    figure, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 3.6), squeeze=False)
    for axis, (report, title) in zip(axes[0], panels, strict=True):
        rows = report["results"]
        labels = [f"{row['identity']}\n({row['view']})" for row in rows]
        p50 = [row["client_ms"]["p50"] for row in rows]
        p95 = [row["client_ms"]["p95"] for row in rows]
        colours = [PLUGIN_COLOUR if row["view"] == "plugin" else STOCK_COLOUR for row in rows]
        positions = range(len(rows))
        axis.barh(positions, p95, color=colours, alpha=0.35, label="p95")
        axis.barh(positions, p50, color=colours, label="p50")
        axis.set_yticks(list(positions), labels, fontsize=7)
        axis.invert_yaxis()
        axis.set_xlabel("ms per token request (client side)")
        axis.set_title(title, fontsize=9)
    axes[0][0].legend(["p95", "p50"], fontsize=7, loc="lower right")
    return _save(figure, "perf-token.png")


def plot_catalog(catalogs):
    plt = _pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    series = {}
    for size, report in catalogs:
        for row in report["results"]:
            key = (row["identity"].split(",")[0], row["implementation"])
            series.setdefault(key, []).append((size, row))
    for (identity, implementation), points in sorted(series.items()):
        sizes = [size for size, _ in points]
        style = "-" if implementation == "ours" else "--"
        colour = PLUGIN_COLOUR if implementation == "ours" else STOCK_COLOUR
        marker = "o" if identity == "admin" else "s"
        label = f"{identity}, {'plugin' if implementation == 'ours' else 'pulp_container'}"
        axes[0].plot(sizes, [row["middle_page_100_ms"] for _, row in points], style,
                     color=colour, marker=marker, label=label)
        axes[1].plot(sizes, [row["full_list_ms"] / 1000 for _, row in points], style,
                     color=colour, marker=marker, label=label)
    for axis, title, unit in ((axes[0], "a page of 100 from the middle (p50)", "ms"),
                              (axes[1], "the whole catalog, n=1000 pages (p50)", "s")):
        axis.set_xscale("log")
        axis.set_xlabel("repositories")
        axis.set_ylabel(unit)
        axis.set_title(title, fontsize=9)
        axis.grid(True, which="major", alpha=0.3)
    axes[0].set_ylim(bottom=0)
    axes[1].set_yscale("log")
    axes[0].legend(fontsize=7)
    return _save(figure, "perf-catalog.png")


def plot_push(pushes):
    plt = _pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for scenario in MAPPING_SCENARIOS:
        points = [(report["pairs"], _scenario(report, scenario)) for report in pushes]
        points = [(pairs, row) for pairs, row in points if row]
        label = scenario.split(", ")[1]
        axes[0].plot([p for p, _ in points], [row["seconds"] for _, row in points], "-o",
                     label=label)
        axes[1].plot([p for p, _ in points], [row["peak_rss_mib"] for _, row in points], "-o",
                     label=label)
    limits = pushes[0]["limits"]
    axes[0].axhline(limits["seconds"], color="grey", linestyle=":", label="limit")
    axes[1].axhline(limits["peak_rss_mib"], color="grey", linestyle=":", label="limit")
    for axis, title, unit in ((axes[0], "PUT user_repository_mapping: wall time", "s"),
                              (axes[1], "peak RSS of the API process", "MiB")):
        axis.set_xscale("log")
        axis.set_xlabel("user->repository pairs in the push")
        axis.set_ylabel(unit)
        axis.set_title(title, fontsize=9)
        axis.grid(True, alpha=0.3)
    axes[0].legend(fontsize=7)
    return _save(figure, "perf-push.png")


def plot_foreman_calls(pulls):
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(6, 2.6))
    labels = ["plugin (measured)", "Ruby gateway (2 per token request)"]
    values = [pulls["foreman_requests_total"], pulls["ruby_gateway_foreman_requests"]]
    bars = axis.barh(labels, values, color=[PLUGIN_COLOUR, RUBY_COLOUR])
    axis.bar_label(bars, padding=3)
    axis.set_xlabel(f"Foreman requests during {pulls['pulls']} pulls after one login")
    axis.set_xlim(0, max(values) * 1.15 or 1)
    return _save(figure, "perf-foreman-calls.png")


def _scenario(report, label):
    return next((row for row in report["results"] if row["label"] == label), None)


# -- the page ------------------------------------------------------------------------------------


def _token_table(report):
    lines = ["| Token request | View | p50 ms | p95 ms | server p50 ms |",
             "|---|---|---:|---:|---:|"]
    for row in report["results"]:
        server = row["server_ms"]["p50"] if row["server_ms"] else "-"
        lines.append(f"| {row['identity']} | {row['view']} | {row['client_ms']['p50']:.1f} | "
                     f"{row['client_ms']['p95']:.1f} | {server} |")
    return "\n".join(lines)


def _catalog_table(catalogs):
    lines = ["| Repositories | Identity | Catalog | Names listed | Page of 100, first | "
             "Page of 100, middle | Whole catalog |", "|---:|---|---|---:|---:|---:|---:|"]
    for size, report in catalogs:
        for row in report["results"]:
            implementation = "plugin" if row["implementation"] == "ours" else "pulp_container"
            lines.append(
                f"| {size:,} | {row['identity']} | {implementation} | {row['names']:,} | "
                f"{row['first_page_100_ms']:.1f} ms | {row['middle_page_100_ms']:.1f} ms | "
                f"{_duration(row['full_list_ms'])} |"
            )
    return "\n".join(lines)


def _duration(ms):
    return f"{ms:,.0f} ms" if ms < 10_000 else f"{ms / 1000:,.1f} s"


def _push_table(pushes):
    lines = ["| Pairs | Push | Body | Time | Peak RSS |", "|---:|---|---:|---:|---:|"]
    for report in pushes:
        for row in report["results"]:
            lines.append(f"| {report['pairs']:,} | {row['label']} | {row['body_mb']:.1f} MB | "
                         f"{row['seconds']:.2f} s | {row['peak_rss_mib']:.0f} MiB |")
    return "\n".join(lines)


def write_page(durations=None):
    token, slow, pulls = _load("token"), _load("token-foreman-100ms"), _load("pulls")
    catalogs = [(size, _load(f"catalog-{size}")) for size in CATALOG_SIZES]
    catalogs = [(size, report) for size, report in catalogs if report]
    pushes = [_load(f"push-{users * PUSH_PER_USER}") for users in PUSH_USERS]
    pushes = [report for report in pushes if report]
    environment = (token or pulls or {}).get("environment", {})
    out = [
        "# Performance",
        "",
        "Generated by `python -m bench.report` (`make bench`), which runs every benchmark in "
        "`bench/` in one go and writes this page and its plots; the figures below are from one "
        "such run. Each benchmark measures the plugin next to stock pulp_container where "
        "pulp_container has an equivalent, on the same machine, database and processes.",
        "",
        f"Machine: {environment.get('cpus', os.cpu_count())} CPUs ({platform.machine()}, "
        f"{_cpu_model()}), Python {platform.python_version()}, PostgreSQL "
        f"{_postgres_version()}, pulpcore {version('pulpcore')}, pulp_container "
        f"{version('pulp-container')}, everything on one host over loopback (`make bench`'s "
        "throwaway PostgreSQL runs with `fsync=off`, as in the tests). Run "
        f"{datetime.now(UTC).strftime('%Y-%m-%d')}"
        + (f", {sum(durations.values()) / 60:.0f} minutes in all." if durations else "."),
        "",
    ]
    if token:
        out += [
            "## Token requests",
            "",
            "`python -m bench.token`: one request at a time against a real pulpcore-api "
            f"({token['parameters']['api_workers']} gunicorn workers, TLS); the plugin's "
            "`/token/` and pulp_container's own token view mounted next to it on the same stack. "
            "Every request asks for `repository:<name>:pull`, as a pull does. Client times "
            "include a TCP and TLS handshake (gunicorn closes each connection); the server "
            "column is gunicorn's own time.",
            "",
            _token_table(token),
            "",
            "- A cached Foreman login costs about what an anonymous token costs; it never "
            "reaches Foreman.",
            "- A local Pulp user (and stock pulp_container for everyone with a password) pays "
            "Django's PBKDF2 password hash on every request, about 200 ms here.",
            "- *Login not cached* is what every token request cost before the cache: Foreman "
            "asked for the token and the catalog, the user's grants refreshed. The stand-in "
            "answers in well under a millisecond, so the row is a lower bound.",
        ]
        if slow:
            rows = {row["key"]: row for row in slow["results"]}
            out += [
                "",
                "With Foreman answering in 100 ms (the stand-in delays each answer, "
                f"`--foreman-latency 0.1`, {slow['parameters']['requests_per_kind']} requests "
                "per row), an uncached login costs "
                f"{rows['plugin_foreman_uncached']['client_ms']['p50']:.0f} ms (two Foreman "
                f"calls) and a cached one {rows['plugin_foreman_cached']['client_ms']['p50']:.0f}"
                " ms: the Ruby gateway paid the uncached price on every podman command.",
            ]
        out += ["", f"![token latency]({plot_token(token, slow)})", ""]
    if pulls:
        login = pulls["login_foreman_requests"]
        out += [
            "## Foreman calls per 100 pulls",
            "",
            "`python -m bench.pulls`: one Foreman user runs `skopeo login` once, then "
            f"{pulls['pulls']} times `skopeo copy docker://…/bench/private:latest dir:…` "
            f"({pulls['client']}; containers/image, as podman) with its credentials. The "
            "Katello stand-in counts every request it gets.",
            "",
            f"| | Login | {pulls['pulls']} pulls |",
            "|---|---:|---:|",
            f"| plugin (measured) | {sum(login.values())} | {pulls['foreman_requests_total']} |",
            f"| Ruby gateway (2 calls per token request) | "
            f"{pulls['ruby_gateway_login_foreman_requests']} | "
            f"{pulls['ruby_gateway_foreman_requests']} |",
            "",
            f"The pulls made {pulls['token_requests']} token requests (one per command: "
            "containers/image keeps no token between processes). The Ruby gateway asked "
            "Katello's `/v2/token` (checking the password, writing the registry token row) and "
            "`/v2/_catalog` for each of them; the plugin asked Foreman only at the login "
            f"({', '.join(f'`{path}` {count}' for path, count in sorted(login.items()))}) and "
            "served every later token from its login cache. A pull took "
            f"{pulls['pull_seconds']['p50']:.2f} s (p50, whole skopeo process).",
            "",
            f"![Foreman calls]({plot_foreman_calls(pulls)})",
            "",
        ]
    if catalogs:
        out += [
            "## Catalog latency vs repositories",
            "",
            "`python -m bench.catalog --repositories N`: every repository is a Katello "
            "repository and a container distribution (every 50th public); the Foreman user has "
            "min(1 000, N/10) grants. Each request is a real registry request (Bearer JWT, "
            "view, query, rendering) in one process; p50 of a page of 100 names and of the "
            "whole catalog, following `Link` with `n=1000`.",
            "",
            _catalog_table(catalogs),
            "",
            "The plugin pages along the name index (keyset), so a page costs the same at any "
            "size and position; stock pulp_container's catalog (and so the admin's whole list "
            "through it) grows with the number of distributions.",
            "",
            f"![catalog latency]({plot_catalog(catalogs)})",
            "",
        ]
    if pushes:
        first = pushes[0]
        out += [
            "## Push time vs pairs",
            "",
            "`python -m bench.push`: Katello's form-encoded bodies (what RestClient sends) "
            f"through Django's WSGI handler in a fresh process each; {first['repositories']:,} "
            f"repositories, {PUSH_PER_USER:,} protected repositories per user and "
            f"{', '.join(f'{users:,}' for users in PUSH_USERS)} users. Stock pulp_container has "
            "no push API to compare with, and the Ruby gateway deleted and re-inserted every row "
            "(leaving users without grants until the next push landed); the plugin writes only "
            "differences. The limits drawn are this project's: "
            f"{first['limits']['seconds']} s and {first['limits']['peak_rss_mib']} MiB per push.",
            "",
            _push_table(pushes),
            "",
            f"![push time]({plot_push(pushes)})",
            "",
        ]
    if durations:
        out += [
            "## Run",
            "",
            "| Benchmark | Seconds |",
            "|---|---:|",
            *[f"| {name} | {seconds} |" for name, seconds in durations.items()],
            "",
        ]
    out += [
        "## Reproducing",
        "",
        "`make bench` (or `python -m bench.report`) runs everything with a throwaway PostgreSQL "
        "and rewrites this page; `python -m bench.report --no-run` rewrites it from the JSON in "
        "`bench/results/`. Each benchmark also runs alone: `python -m bench.<name> -h`.",
        "",
    ]
    PAGE.write_text("\n".join(_wrap(line) for line in out))
    return PAGE


def _wrap(line):
    """Paragraphs and list items at 100 columns, like the other pages; tables stay whole."""
    if line.startswith(("|", "#", "![")) or len(line) <= 100:
        return line
    indent = "  " if line.startswith("- ") else ""
    return textwrap.fill(line, 100, subsequent_indent=indent, break_on_hyphens=False,
                         break_long_words=False)


def _cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _postgres_version():
    from devtools.pg import _pg_bindir

    try:
        out = subprocess.run([f"{_pg_bindir()}/postgres", "--version"], capture_output=True,
                             text=True).stdout
    except (OSError, RuntimeError):
        return "?"
    match = re.search(r"PostgreSQL\) (\S+)", out)
    return match.group(1) if match else "?"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.report",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--no-run", action="store_true",
                        help="only rewrite the page from bench/results/*.json")
    args = parser.parse_args(argv)
    durations, failed = None, []
    if not args.no_run:
        durations, failed = run_benchmarks(_steps())
        (RESULTS / "report-durations.json").write_text(json.dumps(durations, indent=2) + "\n")
    else:
        stored = RESULTS / "report-durations.json"
        durations = json.loads(stored.read_text()) if stored.exists() else None
    print(f"written {write_page(durations).relative_to(ROOT)}", file=sys.stderr)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
