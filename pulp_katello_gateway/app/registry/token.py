from collections.abc import Mapping

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import ParseError
from rest_framework.response import Response
from rest_framework.views import APIView

from pulp_katello_gateway.app import access, grant_refresh
from pulp_katello_gateway.app.parsers import PARSER_CLASSES
from pulp_katello_gateway.app.pulp_internals import AuthorizationService
from pulp_katello_gateway.app.registry.identity import (
    HOST_CLAIM,
    basic_credentials,
    identify,
)
from pulp_katello_gateway.app.trust_boundary import client_address

# Registry clients ask for one to a few scopes per token (a copy between two repositories: two).
# Each costs a query or two and makes the JWT longer, so a request for more is refused rather than
# tying up a worker (50 000 scopes in a POST took 17 s and made an 8 MB token). A resource is
# decided once however many scopes name it; for a local Pulp user pulp_container's permission
# checks cost tens of milliseconds each, so the distinct resources are bounded more tightly.
MAX_SCOPES = 100
MAX_RESOURCES = 10


def requester(request, credentials):
    """Who the token endpoint issues a token to: identified from what the client sent (never a
    registry token, which would buy another that outlives a revocation), once the grants that
    identification found out of date are brought up to date."""
    identity = identify(request, credentials, registry_token=False)
    return grant_refresh.catch_up(identity, credentials, client_address(request))


class KatelloAuthorizationService(AuthorizationService):
    """pulp_container's token issuer (same JWT format and keys) with Katello's decision."""

    def __init__(self, identity, service, scopes):
        super().__init__(identity.user, service, scopes)
        self.identity = identity

    def determine_access(self):
        self.access = access.token_access(self.identity, self.scopes)
        return self.access

    def generate_claim_set(self, **claims):
        claim_set = super().generate_claim_set(**claims)
        if self.identity.host_id is not None:
            claim_set[HOST_CLAIM] = self.identity.name
        return claim_set


class TokenView(APIView):
    """The registry's token endpoint (``TOKEN_SERVER``), issuing JWTs pulp_container accepts.

    GET is the Docker token protocol; POST the OAuth2 form (``grant_type=password``) that
    containerd tries first. Who the client is comes from ``registry.identity``; what it may
    do from ``access``.
    """

    authentication_classes = []
    permission_classes = []
    parser_classes = PARSER_CLASSES
    schema = None

    def get_authenticate_header(self, request):
        return 'Basic realm="pulp_katello_gateway"'

    def _issue(self, request, credentials, service, scopes):
        if not service or not isinstance(service, str):
            raise ParseError("No service name provided.")
        if len(scopes) > MAX_SCOPES:
            raise ParseError(f"Too many scopes: at most {MAX_SCOPES} per token request.")
        if len(access.requested_resources(scopes)) > MAX_RESOURCES:
            raise ParseError(
                f"Too many repositories: at most {MAX_RESOURCES} per token request."
            )
        issuer = KatelloAuthorizationService(requester(request, credentials), service, scopes)
        return issuer.generate_token(), issuer.access

    @extend_schema(exclude=True)
    def get(self, request):
        token, _ = self._issue(
            request,
            basic_credentials(request),
            request.query_params.get("service"),
            request.query_params.getlist("scope"),
        )
        return Response(token)

    @extend_schema(exclude=True)
    def post(self, request):
        data = request.data
        if not isinstance(data, Mapping):
            return _oauth_error("invalid_request", "Send an OAuth2 form (or a JSON object).")
        grant_type = data.get("grant_type")
        if grant_type != "password":
            return _oauth_error(
                "unsupported_grant_type",
                "Only grant_type=password is supported; use GET for anonymous tokens.",
            )
        fields = {key: data.get(key, "") for key in ("username", "password", "scope", "service")}
        if not all(_is_text(value) for value in fields.values()):
            return _oauth_error("invalid_request", "Form fields must be strings.")
        if not fields["username"]:
            return _oauth_error("invalid_request", "grant_type=password needs a username.")
        token, granted = self._issue(
            request,
            (fields["username"], fields["password"]),
            fields["service"],
            fields["scope"].split(),
        )
        token["scope"] = " ".join(
            f"{a['type']}:{a['name']}:{','.join(a['actions'])}" for a in granted if a["actions"]
        )
        return Response(token)


def _is_text(value):
    """A string UTF-8 can carry: JSON may hold lone surrogates, which PostgreSQL cannot."""
    if not isinstance(value, str):
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _oauth_error(error, description):
    """An RFC 6749 §5.2 error answer (400); containerd falls back to GET on it."""
    return Response(
        {"error": error, "error_description": description}, status=status.HTTP_400_BAD_REQUEST
    )
