"""``katello-gateway-status``: what the gateway holds, how fresh its ACL is and how its logins
stand, at a glance."""

from django.conf import settings
from django.core.management import BaseCommand

from pulp_katello_gateway.app import foreman
from pulp_katello_gateway.app.acl import state as acl_state
from pulp_katello_gateway.app.logins import cache, throttle
from pulp_katello_gateway.app.models import (
    ConsumerHost,
    ForemanUser,
    HostRepositoryGrant,
    KatelloRepository,
    LoginThrottle,
    UserRepositoryGrant,
)


class Command(BaseCommand):
    help = (
        "Show counts of Katello's repositories, Foreman users, hosts and grants, of cached "
        "logins by age and of throttled logins, whether Foreman is being backed off, and per "
        "push endpoint Katello's last push and a fingerprint of what it holds (the status "
        "endpoint's ACL state)."
    )

    def handle(self, **options):
        repositories = KatelloRepository.objects.count()
        public = KatelloRepository.objects.filter(auth_required=False).count()
        ages = cache.ages()
        throttled = throttle.throttled_counts()
        backoff = foreman.backoff_until()
        ttl = settings.KATELLO_GATEWAY_LOGIN_CACHE_TTL
        foreman_url = (settings.KATELLO_GATEWAY_FOREMAN_URL
                       or "not set: only local Pulp users log in")
        if backoff:
            until = backoff.isoformat(timespec="seconds")
            foreman_url += f" (did not answer in time; not asked until {until})"
        rows = [
            ("Repositories", f"{repositories} ({public} public, {repositories - public} "
                             "require authentication)"),
            ("Foreman users", ForemanUser.objects.count()),
            ("User grants", UserRepositoryGrant.objects.count()),
            ("Hosts", ConsumerHost.objects.count()),
            ("Host grants", HostRepositoryGrant.objects.count()),
            ("Cached logins", f"{ages['fresh']} fresh (verified less than {ttl} s ago), "
                              f"{ages['stale']} stale (used only while Foreman is unreachable), "
                              f"{ages['expired']} expired"),
            ("Throttled", f"{throttled[LoginThrottle.PAIR]} login+address pairs (every "
                          f"guess), {throttled[LoginThrottle.LOGIN]} logins, "
                          f"{throttled[LoginThrottle.ADDRESS]} client addresses"
                          + (", all logins new to the cache" if throttled[LoginThrottle.FOREMAN]
                             else "")
                          + " (answered 429 until a window passes without a failure)"),
            ("Foreman", foreman_url),
        ]
        state = acl_state.state()
        last = state["last_push"]
        rows.append(("Last push", f"{last.isoformat(timespec='seconds') if last else 'never'}"
                     + (" (STALE: older than KATELLO_GATEWAY_PUSH_MAX_AGE)" if state["stale"]
                        else "")))
        for endpoint, pushed in state["endpoints"].items():
            when = pushed["last_push"]
            rows.append((f"  {endpoint}",
                         f"{when.isoformat(timespec='seconds') if when else 'never pushed'}, "
                         f"{pushed['count']} rows, {pushed['fingerprint']}"))
        width = max(len(label) for label, _ in rows) + 1
        for label, value in rows:
            self.stdout.write(f"{label + ':':<{width}} {value}")
