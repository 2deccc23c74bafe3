"""The failed-login throttle: too many wrong Foreman passwords and the token endpoint answers
429 without asking Foreman.

Failures are counted per login and per login from one address, in the database (``LoginThrottle``,
keys hashed), so every API process and node sees them. A brute-force attempt thus never reaches
Foreman, whose own lockout would otherwise block Pulp's address for everybody.
"""

import math
from datetime import timedelta
from hashlib import sha256

from django.conf import settings
from django.db import connection
from django.utils import timezone

from pulp_katello_gateway.app.models import LoginThrottle


def keys(login, source):
    """The throttle keys of a login attempt: the login, and the login from this address.
    Foreman ignores the case of logins: so does the count of failures."""
    folded = login.lower()
    return [(LoginThrottle.LOGIN, folded), (LoginThrottle.ADDRESS, f"{folded}|{source}")]


def _hashed(keys):
    return {sha256(key.encode()).hexdigest(): kind for kind, key in keys}


def _window():
    return timedelta(seconds=settings.KATELLO_GATEWAY_THROTTLE_WINDOW)


def _limits():
    return {
        LoginThrottle.ADDRESS: settings.KATELLO_GATEWAY_THROTTLE_ADDRESS_FAILURES,
        LoginThrottle.LOGIN: settings.KATELLO_GATEWAY_THROTTLE_LOGIN_FAILURES,
    }


def retry_after(keys):
    """Seconds until ``keys`` may try again; 0 when not throttled."""
    now = timezone.now()
    limits = _limits()
    waits = [
        (row.window_start + _window() - now).total_seconds()
        for row in LoginThrottle.objects.filter(
            key__in=_hashed(keys), window_start__gt=now - _window()
        )
        if row.failures >= limits[row.kind]
    ]
    return max(1, math.ceil(max(waits))) if waits else 0


def throttled_counts():
    """{kind: number of keys answered 429 right now}, for operators."""
    rows = LoginThrottle.objects.filter(window_start__gt=timezone.now() - _window())
    return {
        kind: rows.filter(kind=kind, failures__gte=limit).count()
        for kind, limit in _limits().items()
    }


def record_failure(keys):
    """Count one failure for each key, starting a new window when the old one is over (one
    upsert per key, so concurrent failures on several nodes all count)."""
    window = _window()
    with connection.cursor() as cursor:
        for key, kind in _hashed(keys).items():
            cursor.execute(
                f"""
                INSERT INTO {LoginThrottle._meta.db_table} AS t (key, kind, window_start, failures)
                VALUES (%s, %s, now(), 1)
                ON CONFLICT (key) DO UPDATE SET
                    failures = CASE WHEN t.window_start > now() - %s
                                    THEN t.failures + 1 ELSE 1 END,
                    window_start = CASE WHEN t.window_start > now() - %s
                                        THEN t.window_start ELSE now() END
                """,
                [key, kind, window, window],
            )


def clear(keys):
    LoginThrottle.objects.filter(key__in=_hashed(keys)).delete()
