"""Who sends a registry request: the one place that answers it, for the token endpoint, the
listings and the pull record.

In order: the registry token the request carries (``HOST_CLAIM`` names a host, ``sub`` a user;
never at the token endpoint, where a token must not buy another one that outlives a
revocation), then Basic credentials (a local Pulp user the Pulp way, else a Foreman login through
``logins``), then a verified consumer certificate (a host), then, only where
``KATELLO_GATEWAY_TOKEN_REMOTE_AUTHENTICATION`` allows it, Pulp's other authentication methods
(remote user, session), else anonymous.
"""

import base64

from django.conf import settings
from rest_framework.authentication import BasicAuthentication
from rest_framework.exceptions import APIException, AuthenticationFailed
from rest_framework.settings import api_settings

from pulp_katello_gateway.app import certificates, foreman, metrics, trust_boundary
from pulp_katello_gateway.app.identities import ANONYMOUS, Identity, login_candidates
from pulp_katello_gateway.app.logins import outcomes
from pulp_katello_gateway.app.logins.verification import (
    check_local_password,
    verify_foreman_login,
)
from pulp_katello_gateway.app.models import ConsumerHost, ForemanUser
from pulp_katello_gateway.app.names import login_problem
from pulp_katello_gateway.app.pulp_internals import TokenAuthentication

# Private claim naming the host (its consumer uuid) a token was issued to. Hosts have no Django
# user, so ``sub`` stays "" and pulp_container's views treat them as the anonymous user they are
# for Pulp's RBAC; only the views that must know whose grants to show read this claim.
HOST_CLAIM = "katello_host"


class IdentityUnavailable(APIException):
    """Foreman had to be asked who this is, and gave no answer (503)."""

    status_code = 503
    default_code = "foreman_unavailable"


def identify(request, credentials=None, *, registry_token=True):
    """The Identity behind ``request``, found without writing any grant; raises a DRF exception
    (401, 429, 503) when the client claims to be somebody and is not, or that cannot be checked
    now.

    ``credentials`` are ``(login, secret)`` sent some other way than the Basic header (the token
    endpoint's OAuth2 form). ``registry_token=False`` at the token endpoint.
    """
    if registry_token:
        bearer = _registry_token(request)
        if bearer is not None:
            return token_identity(*bearer)
    if credentials is None:
        credentials = basic_credentials(request)
    if credentials is not None:
        return _login(request, *credentials)
    uuid = certificates.consumer_uuid(request)
    if uuid is not None:
        return _host(uuid)
    if settings.KATELLO_GATEWAY_TOKEN_REMOTE_AUTHENTICATION:
        for authenticator in api_settings.DEFAULT_AUTHENTICATION_CLASSES:
            if not issubclass(authenticator, BasicAuthentication):
                result = authenticator().authenticate(request)
                if result is not None:
                    return Identity(user=result[0])
    return ANONYMOUS


def _registry_token(request):
    """``(subject, claims)`` of the request's registry token: verified by the view's own
    authentication (registry views), or now when the view has none (search, Flatpak index);
    None without a token."""
    if isinstance(request.auth, dict):
        return request.user, request.auth
    return TokenAuthentication().authenticate(request)


def token_identity(user, claims):
    """The Identity a registry token stands for (``user`` is its subject).

    A host Katello has since removed, like any unknown one, is nobody in particular.
    """
    host_uuid = claims.get(HOST_CLAIM)
    if host_uuid:
        host = ConsumerHost.objects.filter(uuid=host_uuid).values_list("pk", flat=True).first()
        return Identity.of_host(host, host_uuid) if host is not None else ANONYMOUS
    if not user.is_authenticated:
        return ANONYMOUS
    foreman_user = ForemanUser.objects.filter(user=user).values_list("pk", "login").first()
    if foreman_user is None:
        return Identity(user=user)
    return Identity(user=user, foreman_user_id=foreman_user[0], name=foreman_user[1])


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


def _login(request, login, secret):
    """The local Pulp user or Foreman user these credentials prove (``logins.md``), tried
    in ``identities.login_candidates``' order.

    A login naming a local Pulp user is that user when the secret is its password
    (``logins.verification.check_local_password``): a local password never leaves Pulp. Any other
    secret is a Foreman login only where an admin said that Foreman user exists here too
    (``admin`` exists in both on every capsule), so a mistyped local password never reaches
    Foreman either.
    """
    source = trust_boundary.client_address(request)
    if login_problem(login):
        # No user has such a login (blank, control characters, too long for Foreman users). A
        # blank one would also get Katello's anonymous answer, which reads as "Foreman
        # unavailable" (503); a NUL would not even reach PostgreSQL.
        outcomes.login("denied", "-", source, kind="-")
        raise AuthenticationFailed("Invalid username/password.")
    candidates = login_candidates(login)
    if candidates.local is not None:
        final = not candidates.asks_foreman
        if check_local_password(request, candidates.local, secret, final=final):
            outcomes.login("ok", login, source, kind="pulp")
            return Identity(user=candidates.local)
        if final:
            outcomes.login("denied", login, source, kind="pulp")
            raise AuthenticationFailed("Invalid username/password.")
    if not settings.KATELLO_GATEWAY_FOREMAN_URL:
        outcomes.login("denied", login, source, kind="pulp")
        raise AuthenticationFailed("Invalid username/password.")
    try:
        identity = verify_foreman_login(request, login, secret)
    except foreman.ForemanUnavailable as exc:
        raise IdentityUnavailable(f"Cannot verify the login now: {exc}. Try again later.") from None
    if identity is None:
        raise AuthenticationFailed("Invalid username/password.")
    return identity


def _host(uuid):
    """The host with consumer ``uuid``, or one Katello has not pushed (anonymous until
    ``grant_refresh.catch_up`` looks it up at the token endpoint)."""
    host_id = ConsumerHost.objects.filter(uuid=uuid).values_list("pk", flat=True).first()
    if host_id is None:
        return Identity(unregistered_host=uuid)
    metrics.login("ok", "hit", "host")
    return Identity.of_host(host_id, uuid)
