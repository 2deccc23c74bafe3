"""The one boundary to Pulp's internals: everything this plugin takes from pulp_container, from
pulpcore outside ``pulpcore.plugin`` (or added to it after the oldest line), and from
pulp-smart-proxy. No other module imports them (``make lint`` checks that: ruff's banned-api,
ruff.toml).

Supported lines: pulpcore 3.85 to 3.129 with pulp_container 2.26 to 2.30 (Katello's previous,
current and the newest upstream line). Where the lines differ it is said here; what is not
annotated is the same in all of them (compared source, pulp_container 2.26.19, 2.27.14, 2.30.0,
pulpcore 3.85.34, 3.105.25, 3.123.1).
"""

from django.apps import apps
from django.conf import settings
from django.db.models import Q, TextField, Value
from django.db.models.functions import Concat
from django.urls import re_path

# The token issuer (JWT format, keys, claim set) and pulp_container's own pull/push rules. On
# 2.26/2.27 ``PermissionChecker.has_push_permissions`` prints one line per check to stdout
# (removed in 2.28); only local Pulp users asking for push reach it.
from pulp_container.app.authorization import AuthorizationService, PermissionChecker
from pulp_container.app.models import ContainerDistribution, ContainerNamespace, Tag

# Registry views this plugin answers instead: the stock catalog (its queryset is Pulp's RBAC for
# local users), the Flatpak index, and the mixin that makes a view a token-authenticated registry
# view. ``ContainerRegistryApiMixin.authentication_classes`` differs (2.30 adds Pulp's default
# classes) only with TOKEN_AUTH_DISABLED, which this plugin refuses (katello_gateway.E004).
# Manifests: 2.26/2.27 redirect a manifest GET to the content app (a signed URL), 2.28+ serve it
# from the API; the token decides either way, so nothing here depends on it.
from pulp_container.app.registry_api import (
    CatalogView,
    ContainerRegistryApiMixin,
    FlatpakIndexDynamicView,
    Manifests,
)
from pulp_container.app.token_verification import TokenAuthentication
from pulp_container.app.utils import get_full_path

# Object roles (who may change or push to a distribution or its namespace): pulpcore's models, not
# in its plugin API.
from pulpcore.app.models.role import GroupRole, UserRole
from pulpcore.openapi import PulpAutoSchema

__all__ = [
    "AuthorizationService",
    "CatalogView",
    "ContainerDistribution",
    "ContainerRegistryApiMixin",
    "FlatpakIndexDynamicView",
    "PermissionChecker",
    "PulpAutoSchema",
    "Tag",
    "TokenAuthentication",
    "distribution_role_holders",
    "get_full_path",
    "init_otel_meter",
    "Manifests",
    "manifest_routes",
    "served_manifest_digest",
    "smart_proxy_feature_views",
    "smart_proxy_installed",
    "v3_api_root",
]

try:
    from pulpcore.plugin.find_url import find_api_root
except ImportError:  # pulpcore < 3.100 has only the settings (deprecated later)
    find_api_root = None


# Permissions that let their holder change what a container distribution serves: pulp_container's
# distribution and namespace owner and collaborator roles hold them, its consumer roles do not.
_WRITE_PERMISSIONS = (
    "change_containerdistribution",
    "push_containerdistribution",
    "namespace_change_containerdistribution",
    "namespace_push_containerdistribution",
    "namespace_change_containerrepository",
    "namespace_change_containerpushrepository",
    "namespace_modify_content_containerrepository",
    "namespace_modify_content_containerpushrepository",
)


def _write_role_holders():
    """``{(model, object id as text): holder names}`` of the object roles on container
    distributions and namespaces that let a user who is not a superuser (``user``), or a group
    (``group:name``), change what a distribution serves. One plain query; usually empty."""
    models = {
        model._meta.model_name: model for model in (ContainerDistribution, ContainerNamespace)
    }
    writes = Q(
        content_type__app_label=ContainerDistribution._meta.app_label,
        content_type__model__in=list(models),
        role__permissions__codename__in=_WRITE_PERMISSIONS,
    )
    users = UserRole.objects.filter(writes, user__is_superuser=False).values_list(
        "content_type__model", "object_id", "user__username"
    )
    groups = GroupRole.objects.filter(writes).annotate(
        holder=Concat(Value("group:"), "group__name", output_field=TextField())
    ).values_list("content_type__model", "object_id", "holder")
    holders = {}
    for model, object_id, name in users.union(groups):
        holders.setdefault((models[model], object_id), set()).add(name)
    return holders


def distribution_role_holders(base_paths=None):
    """``{base_path: sorted holder names}`` for the distributions (at ``base_paths``, a list or
    queryset of names, or all) that they, or their namespaces, let users who are not superusers
    or groups change."""
    holders = _write_role_holders()
    if not holders:
        return {}
    distributions = ContainerDistribution.objects.all()
    if base_paths is not None:
        distributions = distributions.filter(base_path__in=base_paths)
    ids = {model: [object_id for held, object_id in holders if held is model]
           for model in (ContainerDistribution, ContainerNamespace)}
    found = {}
    for pk, namespace, base_path in distributions.filter(
        Q(pk__in=ids[ContainerDistribution]) | Q(namespace_id__in=ids[ContainerNamespace])
    ).values_list("pk", "namespace_id", "base_path"):
        names = found.setdefault(base_path, set())
        names |= holders.get((ContainerDistribution, str(pk)), set())
        names |= holders.get((ContainerNamespace, str(namespace)), set())
    return {base_path: sorted(names) for base_path, names in found.items()}


def v3_api_root():
    """Pulp's REST API root without the leading slash, e.g. ``pulp/api/v3/`` (with
    ``API_ROOT_REWRITE_HEADER`` it holds ``<path:api_root>``)."""
    if find_api_root is None:
        return settings.V3_API_ROOT_NO_FRONT_SLASH
    return find_api_root(set_domain=False, lstrip=True)[1]


def init_otel_meter(service_name):
    """pulpcore's OpenTelemetry meter (a no-op meter unless OTEL_ENABLED)."""
    from pulpcore.metrics import init_otel_meter as pulpcore_meter

    return pulpcore_meter(service_name)


def smart_proxy_installed():
    return apps.is_installed("pulp_smart_proxy.app")


def smart_proxy_feature_views():
    """pulp-smart-proxy's (0.6) views answering ``features`` and ``v2/features``."""
    from pulp_smart_proxy.app.views import FeaturesV2View, FeaturesView

    return FeaturesView, FeaturesV2View


def manifest_routes(view):
    """pulp_container's own URL patterns of manifests (same regex, methods and names), answered
    by ``view``, a subclass of its ``Manifests``."""
    from pulp_container.app.urls import router

    return [
        re_path(
            pattern.pattern.regex.pattern,
            view.as_view(pattern.callback.actions, **pattern.callback.initkwargs),
            name=pattern.name,
        )
        for pattern in router.urls
        if getattr(pattern.callback, "cls", None) is Manifests
    ]


def served_manifest_digest(view, response, path, reference):
    """The digest of the manifest a GET served. 2.28+ answer with ``Docker-Content-Digest``;
    2.26/2.27 redirect to the content app without it, so a tag is looked up the way their view
    did (the distribution's latest repository version)."""
    digest = response.headers.get("Docker-Content-Digest")
    if digest or reference.startswith("sha256:"):
        return digest or reference
    _, _, version = view.get_drv_pull(path)
    return (
        Tag.objects.filter(name=reference, pk__in=version.content)
        .values_list("tagged_manifest__digest", flat=True)
        .first()
    )
