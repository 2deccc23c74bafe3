"""The failed-login throttle: the token endpoint answers 429 instead of letting guesses through.

Four counts, in the database (``LoginThrottle``, keys hashed) so that every API process and node
sees them, each lasting until a whole window passes without a failure (as Foreman's own counters
do, so that no run of windows adds up past Foreman's limits):

- ``PAIR``, a login from one client address, and ``ADDRESS``, one client address whatever the
  login (password spraying): stop every guess from there, even one a cached login would answer
  (the cache must not become a guessing oracle), and local Pulp users' logins too;
- ``LOGIN``, a login from anywhere: stops asking Foreman about it, below Foreman's account
  lockout, so the capsule is never the way to lock a Foreman user out of Foreman. Its owner's
  cached login is still honoured, fresh or stale (as while Foreman is unreachable): strangers
  cannot lock her out of the registry;
- ``FOREMAN``, every failure Foreman saw from this capsule: stays below Foreman's
  ``failed_login_attempts_limit``, past which Foreman refuses every login from the capsule's
  address (and answers the right password like a wrong one).

An IPv6 client is counted by its /64 network, which one client commonly holds whole.
"""

import ipaddress
import math
from dataclasses import dataclass
from datetime import timedelta
from hashlib import sha256

from django.conf import settings
from django.db import connection
from django.db.models import F
from django.utils import timezone

from pulp_katello_gateway.app.models import LoginThrottle

# The counts of where a guess came from: they stop every guess from there, and a guess Foreman
# never saw still adds to them.
WHERE_FROM = (LoginThrottle.PAIR, LoginThrottle.ADDRESS)
FOREMAN_BOUND = (LoginThrottle.LOGIN, LoginThrottle.FOREMAN)
EVERY_COUNT = WHERE_FROM + FOREMAN_BOUND
_TABLE = LoginThrottle._meta.db_table
_PRUNE_BATCH = 1000


@dataclass(frozen=True)
class Attempt:
    """A login attempt: the folded login (``names.fold_login``) and the client's address."""

    login: str
    source: str

    def keys(self, kinds):
        """``{hashed key: kind}`` of this attempt's counts of ``kinds``."""
        source = _client(self.source)
        values = {
            LoginThrottle.PAIR: f"{self.login}\0{source}",
            LoginThrottle.LOGIN: self.login,
            LoginThrottle.ADDRESS: source,
            LoginThrottle.FOREMAN: "",
        }
        return {sha256(f"{kind}\0{values[kind]}".encode()).hexdigest(): kind for kind in kinds}


def _client(source):
    """The client an address stands for: an IPv6 address's /64 network, or the address."""
    try:
        address = ipaddress.ip_address(source)
    except ValueError:
        return source
    if address.version == 4:
        return str(address)
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.ip_network(f"{address}/64", strict=False))


def _window():
    return timedelta(seconds=settings.KATELLO_GATEWAY_THROTTLE_WINDOW)


def limits():
    """Failures tolerated per kind of count."""
    return {
        LoginThrottle.PAIR: settings.KATELLO_GATEWAY_THROTTLE_ADDRESS_FAILURES,
        LoginThrottle.LOGIN: settings.KATELLO_GATEWAY_THROTTLE_LOGIN_FAILURES,
        LoginThrottle.ADDRESS: settings.KATELLO_GATEWAY_THROTTLE_CLIENT_FAILURES,
        LoginThrottle.FOREMAN: settings.KATELLO_GATEWAY_THROTTLE_FOREMAN_FAILURES,
    }


def retry_after(attempt, kinds):
    """Seconds until none of ``attempt``'s counts of ``kinds`` is over its limit; 0 when none
    is."""
    now = timezone.now()
    tolerated = limits()
    waits = [
        (row.last_failure + _window() - now).total_seconds()
        for row in LoginThrottle.objects.filter(
            key__in=attempt.keys(kinds), last_failure__gt=now - _window()
        )
        if row.failures >= tolerated[row.kind]
    ]
    return max(1, math.ceil(max(waits))) if waits else 0


def throttled_counts():
    """{kind: number of counts answered 429 right now}, for operators."""
    rows = LoginThrottle.objects.filter(last_failure__gt=timezone.now() - _window())
    return {kind: rows.filter(kind=kind, failures__gte=limit).count()
            for kind, limit in limits().items()}


def record_failure(attempt, kinds, *, extend=True):
    """Count one failure in each of ``attempt``'s counts of ``kinds``: one upsert, so concurrent
    failures on several nodes all count. A count whose last failure is a window old starts
    again; a new row also prunes the counts that ended. ``extend=False`` (an attempt refused
    without asking Foreman) counts without moving the last failure, so that retrying while
    refused never keeps a count alive."""
    keys = sorted(attempt.keys(kinds).items())  # one lock order for concurrent upserts
    rows = ", ".join(["(%s, %s, now(), 1)"] * len(keys))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {_TABLE} AS t (key, kind, last_failure, failures) VALUES {rows}
            ON CONFLICT (key) DO UPDATE SET
                failures = CASE WHEN t.last_failure > now() - %s THEN t.failures + 1 ELSE 1 END,
                last_failure = CASE WHEN %s OR t.last_failure <= now() - %s
                                    THEN now() ELSE t.last_failure END
            RETURNING (xmax = 0), kind, failures, last_failure
            """,
            [value for pair in keys for value in pair] + [_window(), extend, _window()],
        )
        counts = cursor.fetchall()
        if any(inserted for inserted, *_ in counts):
            cursor.execute(
                f"DELETE FROM {_TABLE} WHERE id IN (SELECT id FROM {_TABLE}"
                f" WHERE last_failure < now() - %s LIMIT {_PRUNE_BATCH})",
                [_window()],
            )
    return [count for _, *count in counts]


def reserve(attempt):
    """Count a failure in every count of ``attempt`` before Foreman is asked, so that
    concurrent attempts on any node cannot all pass the check and then all fail at Foreman.
    Returns the seconds to wait, after giving the reservation back, when this one went past a
    limit that protects Foreman; else 0. Then ``confirm`` it when Foreman says no, ``refund`` it
    otherwise: only a confirmed failure moves a count's last failure, so successes never keep
    a count alive."""
    tolerated, now = limits(), timezone.now()
    over = [
        max((last_failure + _window() - now).total_seconds(), 1)
        for kind, failures, last_failure in record_failure(attempt, EVERY_COUNT, extend=False)
        if kind in FOREMAN_BOUND and failures > tolerated[kind]
    ]
    if not over:
        return 0
    refund(attempt)
    return max(1, math.ceil(max(over)))


def confirm(attempt):
    """A ``reserve``d failure happened: Foreman said no."""
    LoginThrottle.objects.filter(key__in=attempt.keys(EVERY_COUNT)).update(
        last_failure=timezone.now()
    )


def refund(attempt):
    """Give back a ``reserve``d failure: Foreman said yes, or gave no answer. A count left
    without failures is no count."""
    counts = LoginThrottle.objects.filter(key__in=attempt.keys(EVERY_COUNT))
    counts.filter(failures__gt=0).update(failures=F("failures") - 1)
    counts.filter(failures__lte=0).delete()


def forgive(attempt):
    """A success ends only this login's count from this address: the login may be under attack
    from elsewhere, and Foreman's own counters do not forget a failure at a success either."""
    LoginThrottle.objects.filter(key__in=attempt.keys([LoginThrottle.PAIR])).delete()
