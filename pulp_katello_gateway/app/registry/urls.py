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

OVERRIDDEN = {"/token/": TokenView, "/v2/_catalog": CatalogView, "/v1/search": SearchView}
if settings.FLATPAK_INDEX:  # pulp_container serves its index only then, and so do we
    OVERRIDDEN.update({"/index/static": FlatpakIndexView, "/index/dynamic": FlatpakIndexView})
# pulp-smart-proxy's feature answers, with Container_Gateway added (when it is installed).
OVERRIDDEN.update(smart_proxy.feature_views())

urlpatterns = [path(url.lstrip("/"), view.as_view()) for url, view in OVERRIDDEN.items()]
# Manifest GETs are served by pulp_container as before, and counted in the pull record.
urlpatterns += manifest_routes(RecordedManifests)
OVERRIDDEN["/v2/any/repository/manifests/latest"] = RecordedManifests
urlpatterns.append(path("", include(settings.ROOT_URLCONF)))
