"""``katello-gateway-access``: what a login, host or anonymous client may pull here, and why."""

from django.core.management import BaseCommand, CommandError

from pulp_katello_gateway.app import access
from pulp_katello_gateway.app.identities import ANONYMOUS, Identity, login_candidates
from pulp_katello_gateway.app.models import CachedLogin, ConsumerHost


class Command(BaseCommand):
    help = (
        "Show the effective registry access of a login (Foreman user and/or local Pulp user), a "
        "host or anonymous clients, and the rule behind it, as the token endpoint decides it."
    )

    def add_arguments(self, parser):
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("login", nargs="?", help="A Foreman login or a local Pulp username.")
        who.add_argument("--host", metavar="UUID", help="A content host's consumer uuid.")
        who.add_argument("--anonymous", action="store_true", help="Clients without credentials.")
        parser.add_argument(
            "--repository", metavar="NAME",
            help="Explain the decision for this repository (a distribution's base path); "
            "without it, list the repositories the identity may pull.",
        )
        parser.add_argument(
            "--limit", type=int, default=100,
            help="Repositories listed at most without --repository (default 100, 0 for all).",
        )

    def handle(self, login, host, anonymous, repository, limit, **options):
        for title, identity in self._identities(login, host, anonymous):
            self.stdout.write(title)
            if repository is not None:
                actions, rule = access.explain(identity, repository)
                granted = ", ".join(sorted(actions)) or "nothing"
                self.stdout.write(f"  {repository}: {granted} ({rule})")
                continue
            names = access.visible_repositories(identity, limit=limit + 1 if limit else None)
            if limit and len(names) > limit:
                self.stdout.write(f"  may pull more than {limit} repositories; the first {limit} "
                                  "(--limit 0 lists all, --repository NAME explains one):")
                names = names[:limit]
            else:
                self.stdout.write(f"  may pull {len(names)} repositories:")
            for name in names:
                self.stdout.write(f"    {name}")

    def _identities(self, login, host, anonymous):
        """(description, Identity) pairs; a login's in the token endpoint's order, each with the
        secret that makes the token endpoint take it (``identities.login_candidates``)."""
        if anonymous:
            return [("Anonymous clients (no credentials, no client certificate):", ANONYMOUS)]
        if host is not None:
            found = ConsumerHost.objects.filter(uuid=host).first()
            if found is None:
                raise CommandError(
                    f"Unknown host {host}: Katello has not pushed it. At its first request with "
                    "a valid consumer certificate Katello is asked for its repositories."
                )
            grants = found.repository_grants.count()
            return [(f"Host {host} ({grants} grants from Katello):",
                     Identity.of_host(found.pk, found.uuid))]
        candidates = login_candidates(login)
        described = []
        for identity, secret in candidates.in_order():
            if identity.kind == "pulp":
                local = identity.user
                kind = "superuser" if local.is_superuser else "user"
                active = "" if local.is_active else ", INACTIVE: cannot log in"
                title = (f"Local Pulp {kind} {login}{active}, with {secret} (pulp_container's "
                         "rules):")
            else:
                foreman_user = candidates.foreman
                grants = foreman_user.repository_grants.count()
                cached = CachedLogin.objects.filter(foreman_user=foreman_user).count()
                title = (f"Foreman user {foreman_user.login}, with {secret} (Pulp user "
                         f"{foreman_user.user.username}; {grants} grants from Katello, {cached} "
                         "cached logins):")
            described.append((title, identity))
        if not described:
            raise CommandError(
                f"Unknown login {login}: neither a local Pulp user nor a Foreman user that has "
                "logged in here. At its first login Foreman checks the credentials and its "
                "repositories are loaded from Katello's catalog."
            )
        return described
