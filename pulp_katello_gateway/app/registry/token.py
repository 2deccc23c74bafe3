from drf_spectacular.utils import extend_schema
from pulp_container.app.authorization import AuthorizationService
from rest_framework import status
from rest_framework.exceptions import ParseError
from rest_framework.response import Response
from rest_framework.views import APIView

from pulp_katello_gateway.app import access, logins


class KatelloAuthorizationService(AuthorizationService):
    """pulp_container's token issuer (same JWT format and keys) with Katello's decision."""

    def __init__(self, identity, service, scopes):
        super().__init__(identity.user, service, scopes)
        self.identity = identity

    def determine_access(self):
        self.access = access.token_access(self.identity, self.scopes)
        return self.access


class TokenView(APIView):
    """The registry's token endpoint (``TOKEN_SERVER``), issuing JWTs pulp_container accepts.

    GET is the Docker token protocol; POST the OAuth2 form (``grant_type=password``) that
    containerd tries first. Who the client is comes from ``logins``; what it may do from
    ``access``.
    """

    authentication_classes = []
    permission_classes = []
    schema = None

    def get_authenticate_header(self, request):
        return 'Basic realm="pulp_katello_gateway"'

    def _issue(self, request, credentials, service, scopes):
        if not service or not isinstance(service, str):
            raise ParseError("No service name provided.")
        identity = logins.identify_request(request, credentials)
        issuer = KatelloAuthorizationService(identity, service, scopes)
        return issuer.generate_token(), issuer.access

    @extend_schema(exclude=True)
    def get(self, request):
        token, _ = self._issue(
            request,
            logins.basic_credentials(request),
            request.query_params.get("service"),
            request.query_params.getlist("scope"),
        )
        return Response(token)

    @extend_schema(exclude=True)
    def post(self, request):
        data = request.data
        grant_type = data.get("grant_type")
        if grant_type != "password":
            return Response(
                {
                    "error": "unsupported_grant_type",
                    "error_description": "Only grant_type=password is supported; "
                    "use GET for anonymous tokens.",
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        login, secret, scope = (str(data.get(key, "")) for key in ("username", "password", "scope"))
        credentials = (login, secret) if login or secret else None
        token, granted = self._issue(request, credentials, data.get("service"), scope.split())
        token["scope"] = " ".join(
            f"{a['type']}:{a['name']}:{','.join(a['actions'])}" for a in granted if a["actions"]
        )
        return Response(token)
