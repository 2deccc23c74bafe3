"""``katello-gateway-purge-logins``: make Foreman users log in against Foreman again, now."""

from django.core.management import BaseCommand, CommandError

from pulp_katello_gateway.app.logins import cache
from pulp_katello_gateway.app.models import ForemanUser


class Command(BaseCommand):
    help = (
        "Drop cached Foreman logins, so that the next token request of those users asks Foreman "
        "(e.g. after a password change or a revoked personal access token, instead of waiting "
        "up to KATELLO_GATEWAY_LOGIN_CACHE_TTL). Registry tokens already issued stay valid "
        "until they expire (TOKEN_EXPIRATION_TIME)."
    )

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--user", metavar="LOGIN", help="One Foreman login.")
        which.add_argument("--all", action="store_true", help="Every Foreman user.")

    def handle(self, user, **options):
        if options["all"]:
            dropped = cache.forget_all()
            self.stdout.write(f"Dropped {dropped} cached logins of all Foreman users.")
            return
        if ForemanUser.objects.for_login(user) is None:
            raise CommandError(f"No Foreman user {user} has logged in here.")
        dropped = cache.forget(user)
        self.stdout.write(f"Dropped {dropped} cached logins of {user}; its next login asks "
                          "Foreman.")
