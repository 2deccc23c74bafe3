"""The six endpoints Katello's capsule sync calls, under ``<API_ROOT>container_gateway/``.

Each PUT parses (``parsers``), validates (``serializers``) and writes (``apply``), then answers
200 with an empty body, as the Ruby gateway did. Only superusers and holders of the
``katello_gateway.katello`` role may call them.
"""

import logging
import time

from drf_spectacular.utils import extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from ..logins import forget_logins
from ..models import ForemanUser
from . import apply
from .parsers import BoundedJSONParser, RackFormParser
from .serializers import (
    HostGrantsSerializer,
    HostListSerializer,
    RepositoryListSerializer,
    UserGrantsSerializer,
)

log = logging.getLogger(__name__)


@extend_schema(exclude=True)  # Katello's wire format, not part of Pulp's REST API and bindings
class KatelloPushView(APIView):
    """Common ground of the push endpoints: access policy, body formats, the write itself."""

    parser_classes = [RackFormParser, BoundedJSONParser]
    renderer_classes = [JSONRenderer]
    # A fixed policy (these views have no access-policy row an admin could loosen).
    DEFAULT_ACCESS_POLICY = {
        "statements": [
            {"action": "*", "principal": "admin", "effect": "allow"},
            {
                "action": "*",
                "principal": "authenticated",
                "effect": "allow",
                "condition": "has_model_perms:katello_gateway.push_katello",
            },
        ],
    }

    def push(self, request, serializer_class, replace):
        """Validate the body with ``serializer_class``, hand its one field to ``replace``."""
        started = time.monotonic()
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        (payload,) = serializer.validated_data.values()
        changes = replace(payload)
        log.info(
            "Katello push %s by %s: %d listed, %d added, %d removed, %d updated, %.2f s",
            request.path,
            request.user.get_username(),
            len(payload),
            changes.added,
            changes.removed,
            changes.updated,
            time.monotonic() - started,
        )
        return Response()


class UsersView(KatelloPushView):
    def get(self, request, **kwargs):
        """Logins of the Foreman users known here; Katello maps only these."""
        logins = ForemanUser.objects.order_by("login").values_list("login", flat=True)
        return Response({"users": list(logins)})


class RepositoryListView(KatelloPushView):
    def put(self, request, **kwargs):
        return self.push(request, RepositoryListSerializer, apply.replace_repositories)


class UserRepositoryMappingView(KatelloPushView):
    def put(self, request, **kwargs):
        return self.push(request, UserGrantsSerializer, apply.replace_user_grants)


class UpdateHostsView(KatelloPushView):
    def put(self, request, **kwargs):
        return self.push(request, HostListSerializer, apply.replace_hosts)


class HostRepositoryMappingView(KatelloPushView):
    def put(self, request, **kwargs):
        return self.push(request, HostGrantsSerializer, apply.replace_host_grants)


class UpdateHostRepositoriesView(KatelloPushView):
    def put(self, request, **kwargs):
        return self.push(request, HostGrantsSerializer, apply.update_host_grants)


class CachedLoginsView(KatelloPushView):
    def delete(self, request, login, **kwargs):
        """Forget every cached login of ``login`` at once, so its next token asks Foreman.

        For revoking a password or personal access token before the cache TTL runs out.
        Idempotent: an unknown login drops nothing.
        """
        dropped = forget_logins(login)
        log.info("Katello dropped %d cached logins of %s", dropped, login)
        return Response({"login": login, "dropped": dropped})
