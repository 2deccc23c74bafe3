"""The Pulp-native API: Katello's repositories, Foreman users and hosts as Pulp resources.

Katello owns this data and replaces it on every capsule sync, so repositories are read-only
here; an admin may add a Foreman user ahead of its first login (Katello then maps it at the
next sync) and remove users and hosts (revoking their grants at once). Readable by the
``katello_gateway.katello`` role, writable by admins.
"""

from django.core.exceptions import ValidationError
from django.db import DataError, connection, transaction
from django.forms.utils import ErrorList
from django_filters import CharFilter, IsoDateTimeFilter
from django_filters.constants import EMPTY_VALUES
from pulpcore.plugin.viewsets import (
    NAME_FILTER_OPTIONS,
    BaseFilterSet,
    NamedModelViewSet,
    StableOrderingFilter,
)
from rest_framework import mixins
from rest_framework.pagination import LimitOffsetPagination

from . import pulls
from .katello.locks import lock_for_push
from .katello.parsers import PARSER_CLASSES
from .models import ConsumerHost, ForemanUser, KatelloRepository, PullRecord
from .serializers import (
    ConsumerHostSerializer,
    ForemanUserSerializer,
    KatelloRepositorySerializer,
    PullRecordSerializer,
)

BIGINT_MAX = 2**63 - 1


class _Pagination(LimitOffsetPagination):
    """Pulp's limit/offset pages, with both numbers capped at PostgreSQL's bigint: a larger one
    fails the query (a 500 on pulpcore's own endpoints); capped, it reads as "all" or "past the
    end"."""

    max_limit = BIGINT_MAX

    def get_offset(self, request):
        return min(super().get_offset(request), BIGINT_MAX)


def _access_policy(view_permission):
    return {
        "statements": [
            {
                "action": ["list", "retrieve"],
                "principal": "authenticated",
                "effect": "allow",
                "condition": f"has_model_perms:{view_permission}",
            },
            {"action": "*", "principal": "admin", "effect": "allow"},
        ],
    }


class _DestroyBehindPushesMixin(mixins.DestroyModelMixin):
    """Deletes wait for a running push, which may be inserting grants of the deleted row."""

    def perform_destroy(self, instance):
        with transaction.atomic():
            lock_for_push()
            instance.delete()


def _postgres_regex(value):
    """Refuse a pattern PostgreSQL cannot compile, which would fail the query (a 500)."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT '' ~ %s", [value])
    except DataError:
        raise ValidationError("Not a valid regular expression.") from None


class _Ordering(StableOrderingFilter):
    """Skips empty names as django-filter's own ordering does: pulpcore orders by ``''`` for
    ``ordering=,``, which fails the query."""

    def filter(self, qs, value):
        return super().filter(qs, [name for name in value or () if name not in EMPTY_VALUES])


class _FilterSet(BaseFilterSet):
    """pulpcore's filters, answering 400 or ignoring where pulpcore's own endpoints answer 500:
    for a ``__regex``/``__iregex`` pattern PostgreSQL rejects (400), an unknown parameter whose
    name holds a ``%`` (400; pulpcore puts the name into its message, which django-filter
    %-formats) and empty names in ``ordering`` (ignored)."""

    @classmethod
    def get_filters(cls):
        filters = super().get_filters()
        fields = [(field, param) for param, field in filters["ordering"].param_map.items()]
        filters["ordering"] = _Ordering(fields=fields)
        return filters

    @classmethod
    def filter_for_field(cls, field, name, lookup_expr):
        filter_ = super().filter_for_field(field, name, lookup_expr)
        if lookup_expr in ("regex", "iregex"):
            filter_.extra["validators"] = [*filter_.extra.get("validators", ()), _postgres_regex]
        return filter_

    def is_valid(self, *args, **kwargs):
        valid = super().is_valid(*args, **kwargs)
        unknown = self.form._errors.get("errors")
        if unknown:
            self.form._errors["errors"] = ErrorList(
                [str(message).replace("%", "%%") for message in unknown]
            )
        return valid


class KatelloRepositoryFilter(_FilterSet):
    granted_to_user = CharFilter(
        field_name="foreman_users__login", help_text="Repositories this Foreman login may pull."
    )
    granted_to_host = CharFilter(
        field_name="hosts__uuid", help_text="Repositories the host with this uuid may pull."
    )

    class Meta:
        model = KatelloRepository
        fields = {"name": NAME_FILTER_OPTIONS, "auth_required": ["exact"]}


class KatelloRepositoryViewSet(
    NamedModelViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin
):
    """Container repositories Katello serves here (pushed by Katello; read-only)."""

    endpoint_name = "katello_gateway/repositories"
    pagination_class = _Pagination
    parser_classes = PARSER_CLASSES
    queryset = KatelloRepository.objects.all()
    serializer_class = KatelloRepositorySerializer
    filterset_class = KatelloRepositoryFilter
    DEFAULT_ACCESS_POLICY = _access_policy("katello_gateway.view_katellorepository")
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


class ForemanUserFilter(_FilterSet):
    granted_repository = CharFilter(
        field_name="repositories__name",
        help_text="Users who may pull the repository of this name.",
    )

    class Meta:
        model = ForemanUser
        fields = {"login": NAME_FILTER_OPTIONS}


class ForemanUserViewSet(
    NamedModelViewSet,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    _DestroyBehindPushesMixin,
):
    """Foreman logins known here; deleting one deletes its Pulp user and its grants."""

    endpoint_name = "katello_gateway/users"
    pagination_class = _Pagination
    parser_classes = PARSER_CLASSES
    queryset = ForemanUser.objects.select_related("user")
    serializer_class = ForemanUserSerializer
    filterset_class = ForemanUserFilter
    DEFAULT_ACCESS_POLICY = _access_policy("katello_gateway.view_foremanuser")


class ConsumerHostFilter(_FilterSet):
    granted_repository = CharFilter(
        field_name="repositories__name",
        help_text="Hosts that may pull the repository of this name.",
    )

    class Meta:
        model = ConsumerHost
        fields = {"uuid": ["exact", "in"]}


class ConsumerHostViewSet(
    NamedModelViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin, _DestroyBehindPushesMixin
):
    """Content hosts pushed by Katello; deleting one revokes its grants until the next sync."""

    endpoint_name = "katello_gateway/hosts"
    pagination_class = _Pagination
    parser_classes = PARSER_CLASSES
    queryset = ConsumerHost.objects.all()
    serializer_class = ConsumerHostSerializer
    filterset_class = ConsumerHostFilter
    DEFAULT_ACCESS_POLICY = _access_policy("katello_gateway.view_consumerhost")


class PullRecordFilter(_FilterSet):
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


class PullRecordViewSet(NamedModelViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Who pulled which manifest, when and how often (within the retention period)."""

    endpoint_name = "katello_gateway/pulls"
    pagination_class = _Pagination
    parser_classes = PARSER_CLASSES
    queryset = PullRecord.objects.all()
    serializer_class = PullRecordSerializer
    filterset_class = PullRecordFilter
    DEFAULT_ACCESS_POLICY = _access_policy("katello_gateway.view_pullrecord")

    def get_queryset(self):
        return pulls.current().order_by("-last_pulled", "pulp_id")
