"""The Pulp-native API: Katello's repositories, Foreman users and hosts as Pulp resources.

Katello owns this data and replaces it on every capsule sync, so repositories are read-only
here; an admin may add a Foreman user ahead of its first login (Katello then maps it at the
next sync) and remove users and hosts (revoking their grants at once). Readable by the
``katello_gateway.katello`` role, writable by admins.
"""

import logging

from django_filters import CharFilter, IsoDateTimeFilter
from drf_spectacular.utils import extend_schema
from pulpcore.plugin.viewsets import NAME_FILTER_OPTIONS, NamedModelViewSet
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.response import Response

from . import pull_record
from .acl import revocations
from .logins import cache
from .models import ConsumerHost, ForemanUser, KatelloRepository, PullRecord
from .names import fold_login
from .parsers import PARSER_CLASSES
from .policies import read_only
from .pulp_fixes import BasicChallenge, FilterSet, HrefPathSchema, Pagination
from .serializers import (
    ConsumerHostSerializer,
    DroppedLoginsSerializer,
    ForemanUserSerializer,
    KatelloRepositorySerializer,
    PullRecordSerializer,
)

audit = logging.getLogger("pulp_katello_gateway.audit")


class _Defaults(BasicChallenge):
    """What the plugin's viewsets share: pulpcore's pages, schema and challenge with their fixes,
    DRF's parsers. A mixin, not a NamedModelViewSet: pulpcore registers every NamedModelViewSet
    in this module. The viewsets below each declare their endpoint, queryset, serializer, filters
    and policy: parallel by design."""

    pagination_class = Pagination
    parser_classes = PARSER_CLASSES
    schema = HrefPathSchema()


class _RevokingDestroyMixin(mixins.DestroyModelMixin):
    """A delete revokes: the user or host stays without grants until Katello pushes it again."""

    def perform_destroy(self, instance):
        revocations.revoke(instance)


class KatelloRepositoryFilter(FilterSet):
    granted_to_user = CharFilter(
        method="filter_granted_to_user",
        help_text="Repositories this Foreman login (any spelling Foreman accepts) may pull.",
    )
    granted_to_host = CharFilter(
        field_name="hosts__uuid", help_text="Repositories the host with this uuid may pull."
    )

    class Meta:
        model = KatelloRepository
        fields = {"name": NAME_FILTER_OPTIONS, "auth_required": ["exact"]}

    def filter_granted_to_user(self, queryset, name, value):
        return queryset.filter(foreman_users__login=fold_login(value))


class KatelloRepositoryViewSet(
    _Defaults, NamedModelViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin
):
    """Container repositories Katello serves here (pushed by Katello; read-only)."""

    endpoint_name = "katello_gateway/repositories"
    queryset = KatelloRepository.objects.all()
    serializer_class = KatelloRepositorySerializer
    filterset_class = KatelloRepositoryFilter
    DEFAULT_ACCESS_POLICY = read_only("katello_gateway.view_katellorepository")
    LOCKED_ROLES = {
        "katello_gateway.katello": {
            "description": "Katello itself: push repositories, users, hosts and grants through "
            "the Katello-compatible API, and read them.",
            "permissions": [
                "katello_gateway.push_katello",
                "katello_gateway.view_katellorepository",
                "katello_gateway.view_foremanuser",
                "katello_gateway.view_consumerhost",
                "katello_gateway.view_pullrecord",
            ],
        },
    }


class ForemanUserFilter(FilterSet):
    granted_repository = CharFilter(
        field_name="repositories__name",
        help_text="Users who may pull the repository of this name.",
    )

    class Meta:
        model = ForemanUser
        fields = {"login": NAME_FILTER_OPTIONS}


class ForemanUserViewSet(
    _Defaults,
    NamedModelViewSet,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    _RevokingDestroyMixin,
):
    """Foreman logins known here; deleting one deletes its Pulp user, cached logins and grants,
    and keeps it without grants until Katello's next push of user grants."""

    endpoint_name = "katello_gateway/users"
    queryset = ForemanUser.objects.select_related("user")
    serializer_class = ForemanUserSerializer
    filterset_class = ForemanUserFilter
    DEFAULT_ACCESS_POLICY = read_only("katello_gateway.view_foremanuser")

    @extend_schema(
        summary="Drop cached logins",
        description="Forget every cached login of this Foreman user, on every node: its next "
        "token request asks Foreman (a changed password or a revoked personal access token "
        "stops working now, not when the cache TTL runs out). Its grants stay.",
        request=None,
        responses={200: DroppedLoginsSerializer},
    )
    @action(detail=True, methods=["post"])
    def drop_cached_logins(self, request, pk):
        foreman_user = self.get_object()
        dropped = cache.forget(foreman_user.login)
        audit.info("cached logins of user=%s dropped=%d by=%s", foreman_user.login, dropped,
                   request.user.get_username())
        return Response({"login": foreman_user.login, "dropped": dropped})


class ConsumerHostFilter(FilterSet):
    granted_repository = CharFilter(
        field_name="repositories__name",
        help_text="Hosts that may pull the repository of this name.",
    )

    class Meta:
        model = ConsumerHost
        fields = {"uuid": ["exact", "in"]}


class ConsumerHostViewSet(
    _Defaults,
    NamedModelViewSet,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    _RevokingDestroyMixin,
):
    """Content hosts pushed by Katello; deleting one revokes it until Katello pushes it again
    (the next capsule sync): meanwhile it pulls only what anonymous clients may."""

    endpoint_name = "katello_gateway/hosts"
    queryset = ConsumerHost.objects.all()
    serializer_class = ConsumerHostSerializer
    filterset_class = ConsumerHostFilter
    DEFAULT_ACCESS_POLICY = read_only("katello_gateway.view_consumerhost")


class PullRecordFilter(FilterSet):
    host = CharFilter(field_name="host_uuid", help_text="Pulls by the host with this uuid.")
    since = IsoDateTimeFilter(field_name="last_pulled", lookup_expr="gte",
                              help_text="Pulls last seen at or after this time.")
    until = IsoDateTimeFilter(field_name="first_pulled", lookup_expr="lte",
                              help_text="Pulls first seen at or before this time.")

    class Meta:
        model = PullRecord
        fields = {
            "digest": ["exact"],
            "repository": ["exact"],
            "login": ["exact"],
            "kind": ["exact"],
        }


class PullRecordViewSet(
    _Defaults, NamedModelViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin
):
    """Who pulled which manifest, when and how often (within the retention period)."""

    endpoint_name = "katello_gateway/pulls"
    queryset = PullRecord.objects.all()
    serializer_class = PullRecordSerializer
    filterset_class = PullRecordFilter
    DEFAULT_ACCESS_POLICY = read_only("katello_gateway.view_pullrecord")

    def get_queryset(self):
        return pull_record.current().order_by("-last_pulled", "pulp_id")
