"""Checking a login's secret for the registry's token endpoint: a Foreman login
(``verify_foreman_login``) or a local Pulp user's password (``check_local_password``).

Not a Django authentication backend, and never in ``AUTHENTICATION_BACKENDS``: Pulp's REST API
must not accept Foreman passwords. ``registry/identity.py`` calls it for credentials that are
not a local Pulp user's. A login is the Foreman user its folded form names
(``names.fold_login``). Foreman is asked only on a cache miss (``cache``); failed logins are
throttled (``throttle``); while Foreman is unreachable a stale cached login is honoured.
"""

from django.db import IntegrityError, transaction
from rest_framework.exceptions import AuthenticationFailed, Throttled

from pulp_katello_gateway.app import foreman
from pulp_katello_gateway.app.identities import Identity
from pulp_katello_gateway.app.logins import cache, outcomes, throttle
from pulp_katello_gateway.app.models import ForemanUser, reserved_name_problem
from pulp_katello_gateway.app.names import fold_login
from pulp_katello_gateway.app.trust_boundary import client_address

# Longer secrets are refused without asking Foreman: no Foreman password or personal access
# token is that long, and Foreman's web server refuses such an Authorization header (400 or 431),
# which would read as "Foreman unavailable" (503) instead of a wrong password.
SECRET_MAX_LENGTH = 4096


def _throttled(wait, username, source):
    outcomes.login("throttled", username, source)
    return Throttled(wait=wait, detail="Too many failed logins; try again later.")


def verify_foreman_login(request, username, password):
    """The identity of the Foreman user these credentials prove (``grants_due`` when Foreman
    was asked and said yes, or said so earlier and the user's grants were not loaded since), or
    None when Foreman says they are wrong. Raises
    ``Throttled`` (429) after too many failures, ``AuthenticationFailed`` when a local Pulp user
    holds the login's reserved name, and ``foreman.ForemanUnavailable`` when Foreman gives no
    answer and no stale cached login can stand in for one."""
    source = client_address(request)
    login = fold_login(username)
    if len(password) > SECRET_MAX_LENGTH:
        outcomes.login("denied", login, source)
        return None
    attempt = throttle.Attempt(login, source)
    wait = throttle.retry_after(attempt, throttle.WHERE_FROM)
    if wait:
        raise _throttled(wait, login, source)

    foreman_user, entry = cache.match(login, password)
    age = cache.age(entry) if entry else None
    if age == cache.FRESH:
        outcomes.login("ok", login, source, cache="hit")
        return Identity.of_foreman_user(foreman_user, grants_due=not entry.grants_loaded)

    problem = reserved_name_problem(login) if foreman_user is None else None
    if problem:
        outcomes.login("denied", login, source, cache="reserved")
        raise AuthenticationFailed(problem)
    wait = throttle.retry_after(attempt, throttle.FOREMAN_BOUND)
    if wait:  # counted where it came from, not moving those counts' last failure
        throttle.record_failure(attempt, throttle.WHERE_FROM, extend=False)
    else:  # counted as a failure until Foreman says otherwise
        wait = throttle.reserve(attempt)
    if wait:  # Foreman is not asked, as if it could not be reached
        if age == cache.STALE:
            outcomes.login("ok", login, source, cache="stale")
            return Identity.of_foreman_user(foreman_user)
        raise _throttled(wait, login, source)

    answer = "expired" if entry else "miss"
    try:
        foreman.verify_login(username, password)
    except foreman.ForemanRejected:
        throttle.confirm(attempt)
        if entry:
            entry.delete()
        outcomes.login("denied", login, source, cache=answer)
        return None
    except foreman.ForemanUnavailable:
        throttle.refund(attempt)
        if age == cache.STALE:
            outcomes.login("ok", login, source, cache="stale")
            return Identity.of_foreman_user(foreman_user)
        outcomes.login("unavailable", login, source, cache=answer)
        raise

    throttle.refund(attempt)
    foreman_user = foreman_user or _create(login)
    if foreman_user.verified_as != username:
        ForemanUser.objects.filter(pk=foreman_user.pk).update(verified_as=username)
    cache.remember(foreman_user, password, entry)
    throttle.forgive(attempt)
    outcomes.login("ok", login, source, cache=answer)
    return Identity.of_foreman_user(foreman_user, grants_due=True)


def check_local_password(request, user, password, *, final):
    """Whether ``password`` is local Pulp user ``user``'s, checked with Django's password
    hashers whatever ``AUTHENTICATION_BACKENDS`` lists (foremanctl lists only remote-user
    authentication): a local password is never sent anywhere. Throttled by where the guesses
    come from, never per login, so nobody can lock the Pulp admin out from elsewhere; a miss
    counts when it is ``final`` (not then tried as the same login's Foreman secret)."""
    attempt = throttle.Attempt(fold_login(user.get_username()), client_address(request))
    wait = throttle.retry_after(attempt, throttle.WHERE_FROM)
    if wait:
        raise _throttled(wait, user.get_username(), attempt.source)
    if user.is_active and user.check_password(password):
        return True
    if final:
        throttle.record_failure(attempt, throttle.WHERE_FROM)
    return False


def _create(login):
    try:
        with transaction.atomic():
            return ForemanUser.objects.create_for_login(login)
    except IntegrityError:  # another process created it at the same moment
        return ForemanUser.objects.select_related("user").get(login=login)
