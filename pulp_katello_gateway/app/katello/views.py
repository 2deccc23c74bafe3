"""The six endpoints Katello's capsule sync calls, under ``<API_ROOT>container_gateway/``.

Each PUT parses (``parsers``), validates (``serializers``) and writes (``acl.writes``), then answers
200 with an empty body, as the Ruby gateway did. Only superusers and holders of the
``katello_gateway.katello`` role may call them.
"""

import logging
import time

from drf_spectacular.utils import extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from pulp_katello_gateway.app import metrics
from pulp_katello_gateway.app.acl import state, writes
from pulp_katello_gateway.app.katello.parsers import BoundedJSONParser, RackFormParser
from pulp_katello_gateway.app.katello.serializers import (
    HostGrantsSerializer,
    HostListSerializer,
    RepositoryListSerializer,
    UserGrantsSerializer,
)
from pulp_katello_gateway.app.models import ForemanUser
from pulp_katello_gateway.app.policies import every_action
from pulp_katello_gateway.app.pulp_fixes import BasicChallenge

log = logging.getLogger(__name__)


@extend_schema(exclude=True)  # Katello's wire format, not part of Pulp's REST API and bindings
class KatelloView(BasicChallenge, APIView):
    """What every view of Katello's API (its pushes, its user list, the cached-login drop) has:
    Katello's access policy and body formats, a 401 with a Basic challenge without
    credentials."""

    parser_classes = [RackFormParser, BoundedJSONParser]
    renderer_classes = [JSONRenderer]
    DEFAULT_ACCESS_POLICY = every_action("katello_gateway.push_katello")


class KatelloWriteView(KatelloView):
    """A PUT endpoint: ``serializer_class`` validates the body, ``write`` stores its one field,
    and the push is noted in the ACL state under ``endpoint``."""

    endpoint = serializer_class = write = None

    def put(self, request, **kwargs):
        started = time.monotonic()
        serializer = self.serializer_class(data=request.data)  # the body is read and parsed here
        parsed = time.monotonic()
        serializer.is_valid(raise_exception=True)
        (payload,) = serializer.validated_data.values()
        validated = time.monotonic()
        changes = self.write(payload)
        body_bytes = int(request.META.get("CONTENT_LENGTH") or 0)
        state.note_push(self.endpoint, body_bytes, len(payload))
        metrics.push(self.endpoint, body_bytes)
        written = time.monotonic()
        parts = "".join(f", {phase} {seconds:.2f} s" for phase, seconds in changes.seconds)
        log.info(
            "Katello push %s by %s: %d listed, %d added, %d removed, %d updated, %.2f s"
            " (read and parsed %.2f s, validated %.2f s, written %.2f s%s)",
            request.path,
            request.user.get_username(),
            len(payload),
            changes.added,
            changes.removed,
            changes.updated,
            written - started,
            parsed - started,
            validated - parsed,
            written - validated,
            parts,
        )
        return Response()


class UsersView(KatelloView):
    def get(self, request, **kwargs):
        """Logins of the Foreman users known here, folded and as their last login Foreman
        accepted spelled them: Katello maps only those it finds by Foreman's exact ``login``
        (its pushes are folded again here, so either spelling lands on the one user)."""
        logins = set()
        for login, verified_as in ForemanUser.objects.values_list("login", "verified_as"):
            logins.update(name for name in (login, verified_as) if name)
        return Response({"users": sorted(logins)})


class RepositoryListView(KatelloWriteView):
    endpoint, serializer_class = "repository_list", RepositoryListSerializer
    write = staticmethod(writes.replace_repositories)


class UserRepositoryMappingView(KatelloWriteView):
    endpoint, serializer_class = "user_repository_mapping", UserGrantsSerializer
    write = staticmethod(writes.replace_user_grants)


class UpdateHostsView(KatelloWriteView):
    endpoint, serializer_class = "update_hosts", HostListSerializer
    write = staticmethod(writes.replace_hosts)


class HostRepositoryMappingView(KatelloWriteView):
    endpoint, serializer_class = "host_repository_mapping", HostGrantsSerializer

    write = staticmethod(writes.replace_host_grants)


class UpdateHostRepositoriesView(KatelloWriteView):
    endpoint, serializer_class = "update_host_repositories", HostGrantsSerializer

    @staticmethod
    def write(grants):
        return writes.update_host_grants(grants, pushed=True)
