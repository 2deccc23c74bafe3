"""Foreman logins as a Django authentication backend, for the registry's token endpoint only.

``ForemanLoginBackend`` is never listed in ``AUTHENTICATION_BACKENDS``: Pulp's REST API must not
accept Foreman passwords. ``registry/identity.py`` calls it for credentials that are not a local
Pulp user's. Foreman is asked only on a cache miss (``cache``); failed logins are throttled
(``throttle``); while Foreman is unreachable a stale cached login is honoured.
"""

from django.contrib.auth.backends import BaseBackend
from django.db import IntegrityError, transaction
from rest_framework.exceptions import Throttled

from pulp_katello_gateway.app import foreman, grant_refresh
from pulp_katello_gateway.app.certificates import client_address
from pulp_katello_gateway.app.logins import cache, outcomes, throttle
from pulp_katello_gateway.app.models import ForemanUser

# Longer secrets are refused without asking Foreman: no Foreman password or personal access
# token is that long, and Foreman's web server refuses such an Authorization header (400 or 431),
# which would read as "Foreman unavailable" (503) instead of a wrong password.
SECRET_MAX_LENGTH = 4096


class ForemanLoginBackend(BaseBackend):
    """``authenticate`` answers the Django user standing for the Foreman user, or None when
    Foreman says the credentials are wrong. It raises ``Throttled`` (429) after too many
    failures, and ``foreman.ForemanUnavailable`` when Foreman gives no answer and no stale
    cached login can stand in for one."""

    def authenticate(self, request, username=None, password=None):
        source = client_address(request)
        if len(password) > SECRET_MAX_LENGTH:
            outcomes.login("denied", username, source)
            return None
        keys = throttle.keys(username, source)
        retry_after = throttle.retry_after(keys)
        if retry_after:
            outcomes.login("throttled", username, source)
            raise Throttled(wait=retry_after, detail="Too many failed logins; try again later.")

        foreman_user = ForemanUser.objects.for_login(username)
        entry = cache.match(foreman_user, password) if foreman_user else None
        age = cache.age(entry) if entry else None
        if age == cache.FRESH:
            outcomes.login("ok", username, source, cache="hit")
            return foreman_user.user

        answer = "expired" if entry else "miss"
        try:
            foreman.verify_login(username, password)
        except foreman.ForemanRejected:
            if entry:
                entry.delete()
            throttle.record_failure(keys)
            outcomes.login("denied", username, source, cache=answer)
            return None
        except foreman.ForemanUnavailable:
            if age == cache.STALE:
                outcomes.login("ok", username, source, cache="stale")
                return foreman_user.user
            outcomes.login("unavailable", username, source, cache=answer)
            raise

        foreman_user = foreman_user or _create(username)
        cache.remember(foreman_user, password, entry)
        throttle.clear(keys[1:])  # the login's own count stays: it may be under attack elsewhere
        grant_refresh.refresh_user(foreman_user.login, username, password)
        outcomes.login("ok", username, source, cache=answer)
        return foreman_user.user


def _create(login):
    try:
        with transaction.atomic():
            return ForemanUser.objects.create_for_login(login)
    except IntegrityError:  # another process created it at the same moment
        return ForemanUser.objects.select_related("user").get(login=login)
