"""The cache of Foreman-verified logins: Foreman is asked only when it holds no fresh entry.

An entry is a salted HMAC of the folded login and the secret, keyed with the server secret (never
the secret itself): it matches only the login Foreman verified it for.
It is ``fresh`` for ``KATELLO_GATEWAY_LOGIN_CACHE_TTL`` seconds after Foreman verified it, then
``stale`` (honoured only while Foreman is unreachable) for ``KATELLO_GATEWAY_LOGIN_MAX_STALE``
more seconds, then ``expired``.
"""

import secrets
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from pulp_katello_gateway.app.models import CachedLogin, ForemanUser
from pulp_katello_gateway.app.names import fold_login, name_problem

FRESH, STALE, EXPIRED = "fresh", "stale", "expired"


def _digest(salt, foreman_user, secret):
    # Folded logins hold no control characters (``names``), so the NUL separates unambiguously.
    return salted_hmac(
        f"pulp_katello_gateway.login.{salt}", f"{foreman_user.login}\0{secret}",
        algorithm="sha256",
    ).hexdigest()


def _cutoffs():
    """Entries verified after the first time are fresh; after the second, at least stale."""
    fresh = timezone.now() - timedelta(seconds=settings.KATELLO_GATEWAY_LOGIN_CACHE_TTL)
    return fresh, fresh - timedelta(seconds=settings.KATELLO_GATEWAY_LOGIN_MAX_STALE)


def age(entry):
    """``FRESH``, ``STALE`` or ``EXPIRED``."""
    fresh, stale = _cutoffs()
    if entry.verified_at > fresh:
        return FRESH
    return STALE if entry.verified_at > stale else EXPIRED


def match(login, secret):
    """``(Foreman user, entry)``: the Foreman user folded ``login`` names (None when there is
    none) and the cache entry these exact credentials match, compared in constant time (None when
    none does). One query when the user has cached logins: they come with their user."""
    entries = list(CachedLogin.objects.filter(foreman_user__login=login)
                   .select_related("foreman_user__user"))
    if not entries:
        return ForemanUser.objects.for_login(login), None
    foreman_user, found = entries[0].foreman_user, None
    for entry in entries:
        if constant_time_compare(_digest(entry.salt, foreman_user, secret), entry.digest):
            found = entry
    return foreman_user, found


def remember(foreman_user, secret, entry):
    """Foreman verified these credentials now: refresh ``entry`` (the one they matched, or
    None for a new one), its user's grants not loaded since (``CachedLogin.grants_loaded``), and
    drop the user's expired entries."""
    now = timezone.now()
    if entry is not None:
        CachedLogin.objects.filter(pk=entry.pk).update(verified_at=now, grants_loaded=False)
    else:
        salt = secrets.token_hex(16)
        CachedLogin.objects.create(
            foreman_user=foreman_user, salt=salt, digest=_digest(salt, foreman_user, secret),
            verified_at=now,
        )
    _, stale = _cutoffs()
    CachedLogin.objects.filter(foreman_user=foreman_user, verified_at__lte=stale).delete()


def forget(login):
    """Drop every cached login of Foreman user ``login`` (revocation); returns how many."""
    if name_problem(login):
        return 0  # no Foreman user has such a login (and a NUL would not reach PostgreSQL)
    deleted, _ = CachedLogin.objects.filter(foreman_user__login=fold_login(login)).delete()
    return deleted


def forget_all():
    """Drop every cached login (e.g. after a Foreman-wide password reset); returns how many."""
    deleted, _ = CachedLogin.objects.all().delete()
    return deleted


def ages():
    """How many cached logins are fresh, stale and expired (deleted at the user's next verified
    login)."""
    fresh, stale = _cutoffs()
    entries = CachedLogin.objects
    return {
        FRESH: entries.filter(verified_at__gt=fresh).count(),
        STALE: entries.filter(verified_at__lte=fresh, verified_at__gt=stale).count(),
        EXPIRED: entries.filter(verified_at__lte=stale).count(),
    }
