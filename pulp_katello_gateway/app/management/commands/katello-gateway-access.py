"""``katello-gateway-access``: what a login, host or anonymous client may pull here, and why."""

from django.core.management import BaseCommand, CommandError

from pulp_katello_gateway.app import access
from pulp_katello_gateway.app.models import CachedLogin, ConsumerHost, ForemanUser, local_user


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
        """(description, Identity) pairs: a login may be a local user and a Foreman user."""
        if anonymous:
            return [("Anonymous clients (no credentials, no client certificate):",
                     access.ANONYMOUS)]
        if host is not None:
            found = ConsumerHost.objects.filter(uuid=host).first()
            if found is None:
                raise CommandError(
                    f"Unknown host {host}: Katello has not pushed it. At its first request with "
                    "a valid consumer certificate Katello is asked for its repositories."
                )
            grants = found.repository_grants.count()
            return [(f"Host {host} ({grants} grants from Katello):",
                     access.Identity(host_id=found.pk))]
        identities = []
        local = local_user(login)
        if local is not None:
            kind = "superuser" if local.is_superuser else "user"
            active = "" if local.is_active else ", INACTIVE: cannot log in"
            identities.append((
                f"Local Pulp {kind} {login}{active} (with its Pulp password; pulp_container's "
                "rules):",
                access.Identity(user=local),
            ))
        foreman_user = ForemanUser.objects.for_login(login)
        if foreman_user is not None:
            grants = foreman_user.repository_grants.count()
            cached = CachedLogin.objects.filter(foreman_user=foreman_user).count()
            identities.append((
                f"Foreman user {foreman_user.login} (Pulp user {foreman_user.user.username}; "
                f"{grants} grants from Katello, {cached} cached logins):",
                access.Identity.of_foreman_user(foreman_user),
            ))
        if not identities:
            raise CommandError(
                f"Unknown login {login}: neither a local Pulp user nor a Foreman user that has "
                "logged in here. At its first login Foreman checks the credentials and its "
                "repositories are loaded from Katello's catalog."
            )
        return identities
