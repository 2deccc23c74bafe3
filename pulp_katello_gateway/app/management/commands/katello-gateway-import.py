"""``katello-gateway-import <URL> [--dry-run]``: take over the Ruby gateway's data."""

from django.core.management import BaseCommand, CommandError

from pulp_katello_gateway.app import ruby_gateway


class Command(BaseCommand):
    help = (
        "Import repositories, users, hosts and grants from the database of the Ruby "
        "smart_proxy_container_gateway, so that access keeps working before Katello's next "
        "capsule sync. Replaces repositories, hosts and grants (as a Katello push would), adds "
        "users; running it again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "database_url",
            help="The Ruby gateway's PostgreSQL database, e.g. "
            "postgres://user@host/container_gateway (the gateway's db_connection_string). "
            "Give the password through PGPASSWORD or ~/.pgpass rather than in the URL.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Count what would be added and removed; write nothing.",
        )

    def handle(self, database_url, dry_run, **options):
        try:
            where = ruby_gateway.describe(database_url)
            snapshot = ruby_gateway.read(database_url)
        except ruby_gateway.GatewayDatabaseError as exc:
            raise CommandError(f"Ruby gateway database: {exc}") from None
        outcomes, notes = ruby_gateway.import_snapshot(snapshot, dry_run=dry_run)

        self.stdout.write(f"Ruby gateway database {where}{' (dry run)' if dry_run else ''}:")
        changes = ("added", "removed", "updated")
        if dry_run:
            changes = ("to add", "to remove", "to update")
        header = ("", "Ruby gateway", *changes, "here after")
        rows = [header] + [
            (o.label, o.source, o.changes.added, o.changes.removed, o.changes.updated, o.total)
            for o in outcomes
        ]
        for row in rows:
            self.stdout.write(f"  {row[0]:<15}" + "".join(f"{value:>14}" for value in row[1:]))
        for note in notes:
            self.stdout.write(f"  Note: {note}.")
        if dry_run:
            self.stdout.write("Dry run: nothing was written. Run without --dry-run to import.")
        else:
            self.stdout.write(self.style.SUCCESS("Imported (one transaction)."))
