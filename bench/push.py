"""Benchmark of the Katello push API at full scale: 100 000 repositories, 1 000 000 grants.

    PULP_SETTINGS=… DJANGO_SETTINGS_MODULE=pulpcore.app.settings python -m bench.push

Works in its own database, ``bench_<configured name>`` (created and migrated on first use, kept
for reruns). The bodies are built in Katello's form encoding (what RestClient sends), then each
push runs in a fresh Python process that, like a pulpcore-api worker, holds the raw body and
passes it through Django's WSGI handler: middleware, authentication (Basic, a user with the
``katello_gateway.katello`` role), the Rack form parser, validation and the diff write. Reported
per push: wall time of the request and the peak RSS of that process (ru_maxrss), next to the
RSS it had before the request. Linux carries ru_maxrss over from the parent at fork, so this
orchestrating process stays small: preparing and building run in child processes too.
"""

import argparse
import base64
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote_plus

PUSH_PATH = "/pulp/api/v3/container_gateway/"
BENCH_USER, BENCH_PASSWORD = "bench-katello", "bench-katello-password"
LIMIT_SECONDS, LIMIT_RSS_MIB = 30, 1024


def _escape(text):
    """``URI.encode_www_form_component`` for the ASCII names used here."""
    return quote_plus(text, safe="*")


def _repository_name(index):
    return f"acme-prod-cv{index // 1000:03d}-product-repo{index % 1000:03d}"


def _is_public(index):
    return index % 50 == 0


def repository_list_body(repositories):
    """Every 50th repository is public (an unauthenticated-pull environment)."""
    return "&".join(
        f"repositories[][repository]={_escape(_repository_name(index))}"
        f"&repositories[][auth_required]={'false' if _is_public(index) else 'true'}"
        for index in range(repositories)
    ).encode()


def user_mapping_body(users, repositories, per_user, shift=0):
    """Each user maps ``per_user`` distinct protected repositories (``shift`` varies the set).

    Like Katello, each list also names the public repositories (20 here) with
    ``auth_required=false``; they carry no grant.
    """
    protected = [index for index in range(repositories) if not _is_public(index)]
    public = [index for index in range(repositories) if _is_public(index)][:20]
    parts = []
    for user in range(users):
        login = _escape(f"user{user:04d}@example.com")
        entries = [
            (protected[(user * 7919 + (k + shift) * 101) % len(protected)], "true")
            for k in range(per_user)
        ] + [(index, "false") for index in public]
        parts.extend(
            f"users[][{login}][][repository]={_escape(_repository_name(index))}"
            f"&users[][{login}][][auth_required]={flag}"
            for index, flag in entries
        )
    return "&".join(parts).encode()


def _prepare(users):
    """Set up the bench database and print its name."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from pulpcore.plugin.util import assign_role

    from pulp_katello_gateway.app.models import (
        ConsumerHost,
        ForemanUser,
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
    ForemanUser.objects.all().delete()
    for user in range(users):
        ForemanUser.objects.create_for_login(f"user{user:04d}@example.com")
    User = get_user_model()
    User.objects.filter(username=BENCH_USER).delete()
    katello = User.objects.create_user(BENCH_USER, password=BENCH_PASSWORD)
    assign_role("katello_gateway.katello", katello)
    print(json.dumps({"database": name}))


def _build(workdir, repositories, users, per_user):
    """Write the bodies of the scenarios into ``workdir``."""
    bodies = {
        "repositories": repository_list_body(repositories),
        "mapping": user_mapping_body(users, repositories, per_user),
        "mapping-changed": user_mapping_body(users, repositories, per_user, shift=10),
    }
    for name, body in bodies.items():
        (Path(workdir) / f"{name}.body").write_bytes(body)


def _counts():
    from pulp_katello_gateway.app.models import KatelloRepository, UserRepositoryGrant

    return KatelloRepository.objects.count(), UserRepositoryGrant.objects.count()


def _environ(method, endpoint, body, content_type):
    credentials = base64.b64encode(f"{BENCH_USER}:{BENCH_PASSWORD}".encode()).decode()
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": PUSH_PATH + endpoint,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "443",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_ACCEPT": "application/json",
        "HTTP_AUTHORIZATION": f"Basic {credentials}",
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repositories", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--per-user", type=int, default=1_000)
    parser.add_argument("--output", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--build", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _child(*args.child)
    if args.prepare:
        return _prepare(args.users)
    if args.build:
        return _build(args.build, args.repositories, args.users, args.per_user)

    sizes = ["--repositories", str(args.repositories), "--users", str(args.users),
             "--per-user", str(args.per_user)]
    database = _python("--prepare", *sizes)["database"]
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
        _python("--build", workdir, *sizes)
        for label, endpoint, body in scenarios:
            results.append(_run(database, label, endpoint, Path(workdir) / f"{body}.body"))
            r = results[-1]
            print(f"  {label:40s} {r['body_mb']:7.1f} MB {r['seconds']:7.2f} s "
                  f"peak RSS {r['peak_rss_mib']:6.0f} MiB (before {r['rss_before_mib']:4.0f}) "
                  f"-> {r['repositories']} repositories, {r['grants']} grants", flush=True)
    worst_time = max(r["seconds"] for r in results)
    worst_rss = max(r["peak_rss_mib"] for r in results)
    ok = worst_time <= LIMIT_SECONDS and worst_rss <= LIMIT_RSS_MIB
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps({
            "repositories": args.repositories,
            "users": args.users,
            "per_user": args.per_user,
            "pairs": args.users * args.per_user,
            "limits": {"seconds": LIMIT_SECONDS, "peak_rss_mib": LIMIT_RSS_MIB},
            "results": results,
        }, indent=2) + "\n")
    print(f"slowest push {worst_time:.2f} s (limit {LIMIT_SECONDS} s), highest peak RSS "
          f"{worst_rss:.0f} MiB (limit {LIMIT_RSS_MIB} MiB): {'OK' if ok else 'OVER LIMIT'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
