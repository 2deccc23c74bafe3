"""Where pulpcore's REST API answers 500 to bad input, the native API answers 400 or ignores it.

Each class keeps pulpcore's behaviour and fixes one case; remove a fix once every supported
pulpcore line has it. All reproduce on pulpcore's own endpoints (e.g. ``/pulp/api/v3/tasks/``)
on 3.85 to 3.123, and are not reported upstream as far as we know:

- ``offset`` or ``limit`` beyond PostgreSQL's bigint fails the query;
- ``ordering=,`` orders by an empty name, which fails the query;
- a ``__regex``/``__iregex`` pattern PostgreSQL cannot compile fails the query;
- an unknown query parameter whose name holds a ``%`` breaks the error message (pulpcore puts
  the name into a message that django-filter %-formats);
- a ``pulp_href__in``/``prn__in`` item whose pk is not a UUID (``prn:a:b``; on pulpcore before
  3.107 also an href such as ``.../hosts/b/``) fails the query.

Two more keep pulpcore's defaults from saying untrue things about this plugin's endpoints:
``check --deploy`` warning (drf_spectacular W001) that an href path parameter has no type, and a
request without credentials answered 403 where pulpcore's authentication list starts with a class
that sends no challenge (foremanctl's starts with SessionAuthentication).
"""

import copy
import uuid

from django.core.exceptions import ValidationError
from django.db import DataError, connection, transaction
from django.forms.utils import ErrorList
from django_filters.constants import EMPTY_VALUES
from drf_spectacular.plumbing import build_basic_type, build_parameter_type
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from pulpcore.plugin.util import extract_pk
from pulpcore.plugin.viewsets import BaseFilterSet, StableOrderingFilter
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.pagination import LimitOffsetPagination

from pulp_katello_gateway.app.pulp_internals import PulpAutoSchema

BIGINT_MAX = 2**63 - 1


class Pagination(LimitOffsetPagination):
    """Pulp's limit/offset pages, with both numbers capped at PostgreSQL's bigint: a larger one
    fails the query (a 500 on pulpcore's own endpoints); capped, it reads as "all" or "past the
    end"."""

    max_limit = BIGINT_MAX

    def get_offset(self, request):
        return min(super().get_offset(request), BIGINT_MAX)


def _postgres_regex(value):
    """Refuse a pattern PostgreSQL cannot compile, which would fail the query (a 500)."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT '' ~ %s", [value])
    except DataError:
        raise ValidationError("Not a valid regular expression.") from None


def _pk_is_uuid(only_prn):
    """Refuse an href or PRN whose pk is not a UUID, which would fail the query (a 500)."""

    def validate(item):
        try:
            pk = extract_pk(item, only_prn)
        except DRFValidationError:
            return  # pulpcore's filter refuses it in its own words
        try:
            uuid.UUID(pk)
        except ValueError:
            kind = "PRN" if item.startswith("prn:") else "URI"
            raise ValidationError(f"{kind} not valid: {item}") from None

    return validate


class _Ordering(StableOrderingFilter):
    """Skips empty names as django-filter's own ordering does: pulpcore orders by ``''`` for
    ``ordering=,``, which fails the query."""

    def filter(self, qs, value):
        return super().filter(qs, [name for name in value or () if name not in EMPTY_VALUES])


class FilterSet(BaseFilterSet):
    """pulpcore's filters, answering 400 or ignoring where pulpcore's own endpoints answer 500:
    for a ``__regex``/``__iregex`` pattern PostgreSQL rejects (400), an unknown parameter whose
    name holds a ``%`` (400; pulpcore puts the name into its message, which django-filter
    %-formats), an href or PRN whose pk is not a UUID (400) and empty names in ``ordering``
    (ignored)."""

    @classmethod
    def get_filters(cls):
        filters = super().get_filters()
        fields = [(field, param) for param, field in filters["ordering"].param_map.items()]
        filters["ordering"] = _Ordering(fields=fields)
        for name, only_prn in (("pulp_href__in", False), ("prn__in", True)):
            filter_ = copy.deepcopy(filters[name])  # pulpcore's own instance serves every endpoint
            filter_.extra["validators"] = [*filter_.extra.get("validators", ()),
                                           _pk_is_uuid(only_prn)]
            filters[name] = filter_
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


class HrefPathSchema(PulpAutoSchema):
    """pulpcore names a detail path's parameter after the model (``<app>_<model>_href``) and
    drf-spectacular then looks for a model field of that name, warning when there is none. The
    parameter is the resource's href: a string."""

    def _resolve_path_parameters(self, variables):
        hrefs = [name for name in variables if name.endswith("_href")]
        others = [name for name in variables if name not in hrefs]
        return [
            build_parameter_type(name=name, schema=build_basic_type(OpenApiTypes.STR),
                                 location=OpenApiParameter.PATH)
            for name in hrefs
        ] + super()._resolve_path_parameters(others)


class BasicChallenge:
    """401 with a Basic challenge for a request without credentials, whichever authentication
    class Pulp lists first: Katello's client and pulp-cli answer a challenge; a 403 says the
    credentials were wrong."""

    def get_authenticate_header(self, request):
        return super().get_authenticate_header(request) or 'Basic realm="api"'
