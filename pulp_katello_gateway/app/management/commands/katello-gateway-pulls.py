"""``katello-gateway-pulls``: who pulled a manifest (by digest, repository, login or host), when."""

from django.core.management import BaseCommand, CommandError

from pulp_katello_gateway.app import pull_record
from pulp_katello_gateway.app.viewsets import PullRecordFilter

FILTERS = ("digest", "repository", "login", "host", "since", "until")


class Command(BaseCommand):
    help = (
        "List the pull record (the Pulp-native endpoint pulls/ answers the same): each identity "
        "that pulled a manifest, with repository, reference, digest, address, first and last "
        "pull and count, newest first."
    )

    def add_arguments(self, parser):
        parser.add_argument("--digest", help="Manifest digest, e.g. sha256:…")
        parser.add_argument("--repository")
        parser.add_argument("--login", help="A Foreman login or Pulp username.")
        parser.add_argument("--host", metavar="UUID", help="A host's consumer uuid.")
        parser.add_argument("--since", help="Pulls last seen at or after this ISO 8601 time.")
        parser.add_argument("--until", help="Pulls first seen at or before this ISO 8601 time.")
        parser.add_argument("--limit", type=int, default=100, help="At most (default 100).")

    def handle(self, limit, **options):
        query = {name: options[name] for name in FILTERS if options[name] is not None}
        filters = PullRecordFilter(data=query, queryset=pull_record.current())  # as pulls/ filters
        if not filters.is_valid():
            raise CommandError(filters.errors.as_text())
        records = filters.qs.order_by("-last_pulled")
        shown = 0
        for record in records[:limit]:
            who = record.login or record.host_uuid or "-"
            self.stdout.write(
                f"{record.last_pulled.isoformat(timespec='seconds')} {record.kind} {who} "
                f"{record.repository}:{record.reference} {record.digest} from "
                f"{record.client_address}: {record.count} pulls since "
                f"{record.first_pulled.isoformat(timespec='seconds')}"
            )
            shown += 1
        if not shown:
            self.stdout.write("No pulls recorded for this query.")
