"""Credentials -> Identity on the token endpoint: local Pulp users, cached Foreman logins.

Foreman is asked only on a cache miss. A verified login is remembered as a salted HMAC keyed with
the server secret (never the secret itself) for ``KATELLO_GATEWAY_LOGIN_CACHE_TTL`` seconds;
while Foreman is unreachable an expired entry is honoured for ``KATELLO_GATEWAY_LOGIN_MAX_STALE``
more seconds. Failed logins are counted in the database, so every API process sees them, and
answered 429 once too many: a brute-force attempt never reaches Foreman (whose own lockout would
otherwise block Pulp's address).
"""

import base64
import ipaddress
import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from rest_framework.authentication import BasicAuthentication
from rest_framework.exceptions import APIException, AuthenticationFailed, Throttled
from rest_framework.settings import api_settings

from pulp_katello_gateway.app import certificates, foreman, host_refresh, metrics
from pulp_katello_gateway.app.access import ANONYMOUS, Identity
from pulp_katello_gateway.app.katello.apply import update_host_grants, update_user_grants
from pulp_katello_gateway.app.katello.locks import PushInProgress
from pulp_katello_gateway.app.models import (
    CachedLogin,
    ConsumerHost,
    ForemanUser,
    LoginThrottle,
    local_user,
    name_problem,
)

audit = logging.getLogger("pulp_katello_gateway.audit")

# Longer secrets are refused without asking Foreman: no Foreman password or personal access
# token is that long, and Foreman's web server refuses such an Authorization header (400 or 431),
# which would read as "Foreman unavailable" (503) instead of a wrong password.
SECRET_MAX_LENGTH = 4096


class ForemanUnreachable(APIException):
    status_code = 503
    default_code = "foreman_unavailable"


def _digest(salt, secret):
    return salted_hmac(
        f"pulp_katello_gateway.login.{salt}", secret, algorithm="sha256"
    ).hexdigest()


def _cached_entry(foreman_user, secret):
    """The cache entry these exact credentials match, compared in constant time."""
    match = None
    for entry in CachedLogin.objects.filter(foreman_user=foreman_user):
        if constant_time_compare(_digest(entry.salt, secret), entry.digest):
            match = entry
    return match


def _remember(foreman_user, secret, entry):
    now = timezone.now()
    if entry is not None:
        CachedLogin.objects.filter(pk=entry.pk).update(verified_at=now)
    else:
        salt = secrets.token_hex(16)
        CachedLogin.objects.create(
            foreman_user=foreman_user, salt=salt, digest=_digest(salt, secret), verified_at=now
        )
    horizon = now - timedelta(
        seconds=settings.KATELLO_GATEWAY_LOGIN_CACHE_TTL + settings.KATELLO_GATEWAY_LOGIN_MAX_STALE
    )
    CachedLogin.objects.filter(foreman_user=foreman_user, verified_at__lt=horizon).delete()


def basic_credentials(request):
    """``(login, secret)`` from an ``Authorization: Basic`` header; None without one.

    Empty credentials (``Basic Og==``) count as none: clients send them for anonymous access.
    """
    scheme, _, value = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except ValueError:  # not base64 (binascii.Error), not even ASCII, or not UTF-8 once decoded
        raise AuthenticationFailed("Malformed Basic credentials.") from None
    login, sep, secret = decoded.partition(":")
    if not sep:
        raise AuthenticationFailed("Malformed Basic credentials.")
    return (login, secret) if login or secret else None


def identify_request(request, credentials):
    """Who sends a registry request: Basic credentials (a local Pulp user or a Foreman login),
    else a verified consumer certificate (a host), else - only where
    ``KATELLO_GATEWAY_TOKEN_REMOTE_AUTHENTICATION`` allows it - Pulp's other authentication
    methods (remote user, session), else anonymous.
    """
    if credentials is not None:
        return identify(request, *credentials)
    uuid = certificates.consumer_uuid(request)
    if uuid is not None:
        return identify_host(request, uuid)
    if not settings.KATELLO_GATEWAY_TOKEN_REMOTE_AUTHENTICATION:
        return ANONYMOUS
    for authenticator in api_settings.DEFAULT_AUTHENTICATION_CLASSES:
        if issubclass(authenticator, BasicAuthentication):
            continue
        result = authenticator().authenticate(request)
        if result is not None:
            return Identity(user=result[0])
    return ANONYMOUS


def identify_host(request, uuid):
    """The host with consumer ``uuid``; a host Katello has not pushed yet is asked for once."""
    host = ConsumerHost.objects.filter(uuid=uuid).first()
    if host is None:
        try:
            names = foreman.host_catalog(uuid)
        except (foreman.ForemanUnavailable, foreman.ForemanRejected) as exc:
            audit.info("host uuid=%s source=%s result=unavailable", uuid, client_address(request))
            metrics.login("unavailable", "miss", "host")
            raise ForemanUnreachable(f"Cannot look the host up now: {exc}.") from None
        update_host_grants({uuid: names})
        host = ConsumerHost.objects.get(uuid=uuid)
        audit.info("host uuid=%s source=%s cache=miss result=ok", uuid, client_address(request))
        metrics.login("ok", "miss", "host")
    else:
        metrics.login("ok", "hit", "host")
        host_refresh.request_if_stale(host.pk)
    return Identity(host_id=host.pk)


def identify(request, login, secret):
    """The Identity for Basic-style credentials; raises a DRF exception when there is none."""
    source = client_address(request)
    if name_problem(login):
        # No user has such a login (blank, control characters, too long for Foreman users). A
        # blank one would also get Katello's anonymous answer, which reads as "Foreman
        # unavailable" (503); a NUL would not even reach PostgreSQL.
        audit.info("login user=- source=%s kind=- result=denied", source)
        metrics.login("denied", "-", "-")
        raise AuthenticationFailed("Invalid username/password.")
    if local_user(login) is not None:  # a local Pulp user authenticates the Pulp way
        # Not throttled: Pulp's REST API checks these passwords unthrottled anyway, so a throttle
        # here would protect nothing and only let anyone lock the Pulp admin out of the registry.
        user = authenticate(request, username=login, password=secret)
        if user is not None and user.is_active:
            audit.info("login user=%s source=%s kind=pulp result=ok", login, source)
            metrics.login("ok", "-", "pulp")
            return Identity(user=user)
    if not settings.KATELLO_GATEWAY_FOREMAN_URL:
        audit.info("login user=%s source=%s kind=pulp result=denied", login, source)
        metrics.login("denied", "-", "pulp")
        raise AuthenticationFailed("Invalid username/password.")
    if len(secret) > SECRET_MAX_LENGTH:
        audit.info("login user=%s source=%s cache=- result=denied", login, source)
        metrics.login("denied")
        raise AuthenticationFailed("Invalid username/password.")
    return _foreman_login(request, login, secret)


def client_address(request):
    """The client's address, for the throttle and the audit log.

    Behind the capsule's web server every request comes from the web server's address, so a
    request from a trusted proxy (``KATELLO_GATEWAY_TRUSTED_PROXIES``) is attributed to the
    address that proxy appended to ``X-Forwarded-For`` (the last one; earlier entries are the
    client's own word). Otherwise the per-address throttle would be one budget for everybody.
    """
    remote = request.META.get("REMOTE_ADDR") or "-"
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded and certificates.from_trusted_proxy(request):
        try:
            return str(ipaddress.ip_address(forwarded.rsplit(",", 1)[-1].strip()))
        except ValueError:
            pass
    return remote


def _foreman_login(request, login, secret):
    source = client_address(request)
    # Foreman ignores the case of logins: so does the count of failures.
    folded = login.lower()
    throttle_keys = [(LoginThrottle.LOGIN, folded), (LoginThrottle.ADDRESS, f"{folded}|{source}")]
    retry_after = LoginThrottle.retry_after(throttle_keys)
    if retry_after:
        audit.info("login user=%s source=%s cache=- result=throttled", login, source)
        metrics.login("throttled")
        raise Throttled(wait=retry_after, detail="Too many failed logins; try again later.")

    now = timezone.now()
    ttl = timedelta(seconds=settings.KATELLO_GATEWAY_LOGIN_CACHE_TTL)
    stale = timedelta(seconds=settings.KATELLO_GATEWAY_LOGIN_MAX_STALE)
    foreman_user = ForemanUser.objects.for_login(login)
    entry = _cached_entry(foreman_user, secret) if foreman_user else None
    if entry is not None and entry.verified_at + ttl > now:
        audit.info("login user=%s source=%s cache=hit result=ok", login, source)
        metrics.login("ok", "hit")
        return Identity(user=foreman_user.user, foreman_user_id=foreman_user.pk)

    cache = "expired" if entry is not None else "miss"
    try:
        foreman.verify_login(login, secret)
    except foreman.ForemanRejected:
        if entry is not None:
            entry.delete()
        LoginThrottle.record_failure(throttle_keys)
        audit.info("login user=%s source=%s cache=%s result=denied", login, source, cache)
        metrics.login("denied", cache)
        raise AuthenticationFailed("Invalid username/password.") from None
    except foreman.ForemanUnavailable as exc:
        if entry is not None and entry.verified_at + ttl + stale > now:
            audit.info("login user=%s source=%s cache=stale result=ok", login, source)
            metrics.login("ok", "stale")
            return Identity(user=foreman_user.user, foreman_user_id=foreman_user.pk)
        audit.info("login user=%s source=%s cache=%s result=unavailable", login, source, cache)
        metrics.login("unavailable", cache)
        raise ForemanUnreachable(
            f"Cannot verify the login now: {exc}. Try again later."
        ) from None

    foreman_user = foreman_user or _foreman_user(login)
    _remember(foreman_user, secret, entry)
    LoginThrottle.clear(throttle_keys[1:])
    try:
        # Never wait behind a capsule-sync push (seconds for a million grants): the client's
        # token request would time out, and the push brings Katello's list anyway.
        update_user_grants({foreman_user.login: foreman.user_catalog(login, secret)}, wait=False)
    except (foreman.ForemanUnavailable, foreman.ForemanRejected, PushInProgress):
        audit.warning("catalog of user=%s could not be refreshed; keeping its grants", login)
    audit.info("login user=%s source=%s cache=%s result=ok", login, source, cache)
    metrics.login("ok", cache)
    return Identity(user=foreman_user.user, foreman_user_id=foreman_user.pk)


def _foreman_user(login):
    try:
        with transaction.atomic():
            return ForemanUser.objects.create_for_login(login)
    except IntegrityError:  # another process created it at the same moment
        return ForemanUser.objects.select_related("user").get(login=login)


def forget_logins(login):
    """Drop every cached login of ``login``, in any case (revocation); returns how many."""
    if name_problem(login):
        return 0  # no Foreman user has such a login (and a NUL would not reach PostgreSQL)
    deleted, _ = CachedLogin.objects.filter(foreman_user__login__iexact=login).delete()
    return deleted


def forget_all_logins():
    """Drop every cached login (e.g. after a Foreman-wide password reset); returns how many."""
    deleted, _ = CachedLogin.objects.all().delete()
    return deleted


def cached_login_ages():
    """How many cached logins are ``fresh`` (served without asking Foreman), ``stale`` (past
    the TTL, honoured only while Foreman is unreachable) and ``expired`` (never honoured again;
    deleted at the user's next verified login)."""
    now = timezone.now()
    ttl = now - timedelta(seconds=settings.KATELLO_GATEWAY_LOGIN_CACHE_TTL)
    stale = ttl - timedelta(seconds=settings.KATELLO_GATEWAY_LOGIN_MAX_STALE)
    entries = CachedLogin.objects
    return {
        "fresh": entries.filter(verified_at__gt=ttl).count(),
        "stale": entries.filter(verified_at__lte=ttl, verified_at__gt=stale).count(),
        "expired": entries.filter(verified_at__lte=stale).count(),
    }

