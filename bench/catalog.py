"""Benchmark of ``/v2/_catalog``: 100 000 repositories, a Foreman user with 1 000 grants.

    python -m bench.catalog            # throwaway PostgreSQL, removed afterwards
    PULP_SETTINGS=… python -m bench.catalog    # a configured database (kept as bench_<name>)

Every repository is both a Katello repository and a container distribution (every 50th public,
the rest private, in 100 namespaces of 1 000), so the plugin's catalog and stock pulp_container's
``CatalogView`` list the same rows for the admin. Each request is a real registry request: a
Bearer JWT with ``registry:catalog:*`` goes through the view's token authentication and
permission, the query and the rendering, in this process (no HTTP, the same for both). Reported:
p50 of the first page of 100 names, of a page of 100 from the middle of the list (keyset:
``last=``), and of the full list (following ``Link`` with ``n=1000``, the largest page either
implementation serves). Writes ``bench/results/catalog.json`` (or ``--output``).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

REPOSITORIES, GRANTS, PUBLIC_EVERY = 100_000, 1_000, 50
RESULTS = Path(__file__).resolve().parent / "results" / "catalog.json"
SERVICE = "127.0.0.1"
LOGIN = "bench-catalog@example.com"


def _name(index):
    return f"org{index // 1000:03d}/repo{index % 1000:03d}"


def _populate(repositories, grants):
    """Create the rows with set-based SQL (bulk_create cannot write multi-table models)."""
    from django.db import connection, transaction
    from pulp_container.app.models import ContainerDistribution, ContainerNamespace
    from pulpcore.plugin.models import Domain

    from pulp_katello_gateway.app.models import (
        ForemanUser,
        KatelloRepository,
        UserRepositoryGrant,
    )

    if KatelloRepository.objects.count() == repositories:
        return
    names = [_name(index) for index in range(repositories)]
    namespaces = sorted({name.split("/")[0] for name in names})
    domain = Domain.objects.get(name="default").pk
    with transaction.atomic(), connection.cursor() as cursor:
        for model in (UserRepositoryGrant, KatelloRepository):
            cursor.execute(f"DELETE FROM {model._meta.db_table}")
        ForemanUser.objects.all().delete()
        ContainerDistribution.objects.all().delete()
        ContainerNamespace.objects.all().delete()
        cursor.execute(
            "INSERT INTO container_containernamespace"
            " (pulp_id, pulp_created, pulp_last_updated, name, pulp_domain_id, pulp_labels)"
            " SELECT gen_random_uuid(), now(), now(), n, %s, '' FROM unnest(%s::text[]) n",
            [domain, namespaces],
        )
        cursor.execute(
            f"INSERT INTO {KatelloRepository._meta.db_table}"
            " (pulp_id, pulp_created, pulp_last_updated, name, auth_required)"
            " SELECT gen_random_uuid(), now(), now(), n, (i - 1) %% %s <> 0"
            " FROM unnest(%s::text[]) WITH ORDINALITY AS t(n, i)",
            [PUBLIC_EVERY, names],
        )
        cursor.execute(
            "CREATE TEMPORARY TABLE bench_dist ON COMMIT DROP AS"
            " SELECT gen_random_uuid() AS id, r.name, NOT r.auth_required AS public"
            f" FROM {KatelloRepository._meta.db_table} r"
        )
        cursor.execute(
            "INSERT INTO core_distribution (pulp_id, pulp_created, pulp_last_updated, pulp_type,"
            " name, base_path, pulp_labels, pulp_domain_id, hidden, checkpoint)"
            " SELECT id, now(), now(), 'container.container', name, name, '', %s, false, false"
            " FROM bench_dist",
            [domain],
        )
        cursor.execute(
            "INSERT INTO container_containerdistribution (distribution_ptr_id, private,"
            " namespace_id) SELECT d.id, NOT d.public, n.pulp_id FROM bench_dist d"
            " JOIN container_containernamespace n ON n.name = split_part(d.name, '/', 1)"
        )
        user = ForemanUser.objects.create_for_login(LOGIN)
        protected = [index for index in range(repositories) if index % PUBLIC_EVERY]
        step = len(protected) // grants
        granted = [_name(protected[k * step]) for k in range(grants)]
        cursor.execute(
            f"INSERT INTO {UserRepositoryGrant._meta.db_table} (foreman_user_id, repository_id)"
            f" SELECT %s, pulp_id FROM {KatelloRepository._meta.db_table}"
            " WHERE name = ANY(%s)",
            [user.pk, granted],
        )
        cursor.execute("ANALYZE")


def _identities(grants):
    from django.contrib.auth import get_user_model

    from pulp_katello_gateway.app.identities import Identity
    from pulp_katello_gateway.app.models import ForemanUser

    foreman_user = ForemanUser.objects.select_related("user").get(login=LOGIN)
    admin = get_user_model().objects.filter(is_superuser=True).first() or (
        get_user_model().objects.create_superuser("bench-admin", password=None)
    )
    return {
        f"Foreman user, {grants:,} grants": Identity(
            user=foreman_user.user, foreman_user_id=foreman_user.pk
        ),
        "admin": Identity(user=admin),
    }


class Catalog:
    """One implementation's ``/v2/_catalog`` view, called the way the registry calls it."""

    def __init__(self, view_class, identity):
        from django.test import RequestFactory
        from django.urls import ResolverMatch

        from pulp_katello_gateway.app.registry.token import KatelloAuthorizationService

        self.view = view_class.as_view()
        self.factory = RequestFactory()
        self.match = ResolverMatch(self.view, (), {})
        issuer = KatelloAuthorizationService(identity, SERVICE, ["registry:catalog:*"])
        self.authorization = f"Bearer {issuer.generate_token()['token']}"

    def get(self, query):
        request = self.factory.get(
            "/v2/_catalog", query, HTTP_AUTHORIZATION=self.authorization, HTTP_HOST=SERVICE
        )
        request.resolver_match = self.match  # read by pulp_container's scope check
        response = self.view(request)
        response.render()
        if response.status_code != 200:
            raise SystemExit(f"catalog answered {response.status_code}: {response.content[:300]}")
        link = response.get("Link")
        next_query = None
        if link:
            params = parse_qs(urlsplit(link.split(";")[0].strip("<> ")).query)
            next_query = {key: values[-1] for key, values in params.items()}
        return json.loads(response.content)["repositories"], next_query

    def full_list(self):
        names, query = [], {"n": 1000}
        while query:
            page, query = self.get(query)
            names.extend(page)
        return names


def _p50(function, repeat):
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def _measure(label, implementation, catalog, page_repeat, full_repeat):
    names = catalog.full_list()
    if names != sorted(set(names)):
        raise SystemExit(f"{label} ({implementation}): the pages are not sorted and distinct")
    middle = names[len(names) // 2]
    result = {
        "identity": label,
        "implementation": implementation,
        "names": len(names),
        "first_page_100_ms": _p50(lambda: catalog.get({"n": 100}), page_repeat),
        "middle_page_100_ms": _p50(lambda: catalog.get({"n": 100, "last": middle}), page_repeat),
        "full_list_ms": _p50(catalog.full_list, full_repeat),
        "full_list_pages": -(-len(names) // 1000),
    }
    print(f"  {label:28s} {implementation:16s} {result['names']:7d} names  "
          f"first {result['first_page_100_ms']:7.1f} ms  middle {result['middle_page_100_ms']:7.1f}"
          f" ms  full {result['full_list_ms']:8.1f} ms", flush=True)
    return result


def _table(results):
    lines = [
        "| identity | catalog | names | page of 100, first (p50) | page of 100, middle (p50) "
        "| full list, n=1000 pages (p50) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['identity']} | {r['implementation']} | {r['names']:,} "
            f"| {r['first_page_100_ms']:.1f} ms | {r['middle_page_100_ms']:.1f} ms "
            f"| {r['full_list_ms']:,.0f} ms ({r['full_list_pages']} pages) |"
        )
    return "\n".join(lines)


def run(args):
    import django

    django.setup()
    from django.db import connection
    from pulp_container.app.registry_api import CatalogView as StockCatalogView

    from pulp_katello_gateway.app.registry.listings import CatalogView

    connection.settings_dict["TEST"]["NAME"] = f"bench_{connection.settings_dict['NAME']}"
    database = connection.creation.create_test_db(verbosity=0, keepdb=True, serialize=False)
    started = time.perf_counter()
    _populate(args.repositories, args.grants)
    print(f"database {database}: {args.repositories} repositories and distributions, "
          f"{args.grants} grants (ready in {time.perf_counter() - started:.0f} s)")
    identities = _identities(args.grants)
    results = []
    for label, identity in identities.items():
        results.append(_measure(label, "ours", Catalog(CatalogView, identity),
                                args.page_repeat, args.full_repeat))
    results.append(_measure("admin", "pulp_container", Catalog(StockCatalogView,
                                                               identities["admin"]),
                            args.page_repeat, args.full_repeat))
    print()
    print(_table(results))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({
        "repositories": args.repositories,
        "grants": args.grants,
        "public_every": PUBLIC_EVERY,
        "page_repeat": args.page_repeat,
        "full_repeat": args.full_repeat,
        "results": results,
    }, indent=2) + "\n")
    print(f"\nwritten to {args.output}")


def _with_throwaway_database(argv):
    """Run this benchmark again in a child process against a temporary PostgreSQL cluster."""
    from devtools.pg import Cluster
    from devtools.pulp_settings import write_settings

    with tempfile.TemporaryDirectory(prefix="bench-catalog-") as tmp:
        tmp = Path(tmp)
        tmp.chmod(0o755)  # the postgres user must reach the cluster directory inside
        cluster = Cluster(tmp / "postgres")
        try:
            settings = write_settings(
                tmp / "pulp", cluster.start(), api_origin=f"https://{SERVICE}",
                content_origin=f"http://{SERVICE}:24816",
            )
            env = dict(os.environ, PULP_SETTINGS=str(settings),
                       DJANGO_SETTINGS_MODULE="pulpcore.app.settings")
            command = [sys.executable, "-m", "bench.catalog", *argv]
            return subprocess.run(command, env=env, check=False).returncode
        finally:
            cluster.stop()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repositories", type=int, default=REPOSITORIES)
    parser.add_argument("--grants", type=int, default=GRANTS)
    parser.add_argument("--page-repeat", type=int, default=30)
    parser.add_argument("--full-repeat", type=int, default=3)
    parser.add_argument("--output", type=Path, default=RESULTS, help="JSON results file")
    args = parser.parse_args(argv)
    if not os.environ.get("PULP_SETTINGS"):
        return _with_throwaway_database(argv)
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
