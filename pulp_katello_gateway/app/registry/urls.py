"""The URLconf every request resolves through: our registry views first, then Pulp's.

pulpcore includes plugin URLconfs in entry-point order, so a plugin ``urls.py`` entry for
``token/`` may or may not win over pulp_container's. ``RegistryUrlconfMiddleware`` sets this
module as ``request.urlconf`` instead, which Django resolves before anything else.
"""

from django.conf import settings
from django.urls import include, path

from pulp_katello_gateway.app import smart_proxy
from pulp_katello_gateway.app.pulp_internals import manifest_routes
from pulp_katello_gateway.app.registry.listings import CatalogView, FlatpakIndexView, SearchView
from pulp_katello_gateway.app.registry.manifests import RecordedManifests
from pulp_katello_gateway.app.registry.token import TokenView

# The registry's own answers, Katello's rules in them.
REGISTRY = {"/token/": TokenView, "/v2/_catalog": CatalogView, "/v1/search": SearchView}
if settings.FLATPAK_INDEX:  # pulp_container serves its index only then, and so do we
    REGISTRY.update({"/index/static": FlatpakIndexView, "/index/dynamic": FlatpakIndexView})
# Manifest GETs, served by pulp_container as before and counted in the pull record, on
# pulp_container's own patterns (any repository name): checked at a sample path.
MANIFESTS = {"/v2/any/repository/manifests/latest": RecordedManifests}
# Every path the override must answer with its view (``middleware.override_problems`` checks):
# the registry's, pulp-smart-proxy's feature answers (``smart_proxy.feature_views``, empty
# without it) and the manifests'.
OVERRIDDEN = {**REGISTRY, **smart_proxy.feature_views(), **MANIFESTS}

urlpatterns = [
    *(path(url.lstrip("/"), view.as_view()) for url, view in OVERRIDDEN.items()
      if url not in MANIFESTS),
    *manifest_routes(RecordedManifests),
    path("", include(settings.ROOT_URLCONF)),
]
