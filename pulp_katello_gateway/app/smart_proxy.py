"""Pulp as Foreman's smart proxy (pulp-smart-proxy) with Katello's ``Container_Gateway`` feature.

Katello pushes repositories and grants only to a smart proxy that has that feature, at
``<smart proxy URL>/container_gateway/<endpoint>``; a Pulp registered through pulp-smart-proxy
has the URL ``<API_ROOT>smart_proxy``. When pulp-smart-proxy is installed, its two feature answers
(Foreman reads them when a proxy is added or refreshed) gain ``container_gateway`` and the push API
answers under ``<API_ROOT>smart_proxy/container_gateway/`` too. Its views still answer (same
permissions: Foreman reads them as a Pulp admin); this only adds one entry to what they say.
Without pulp-smart-proxy nothing here is routed.
"""

from .pulp_internals import smart_proxy_feature_views, smart_proxy_installed, v3_api_root

FEATURE = "container_gateway"
# What the Ruby gateway reports for itself, over HTTPS like pulp-smart-proxy's own feature.
FEATURE_V2 = {
    "http_enabled": False,
    "https_enabled": True,
    "settings": {},
    "state": "running",
    "capabilities": [],
}
ROOT = v3_api_root() + "smart_proxy/"


def feature_views():
    """``{path: view}`` answering pulp-smart-proxy's feature URLs with the gateway added."""
    if not smart_proxy_installed():
        return {}
    FeaturesView, FeaturesV2View = smart_proxy_feature_views()

    class GatewayFeaturesView(FeaturesView):
        def get(self, request):
            response = super().get(request)
            response.data = [*response.data, FEATURE]
            return response

    class GatewayFeaturesV2View(FeaturesV2View):
        def get(self, request):
            response = super().get(request)
            response.data = {**response.data, FEATURE: FEATURE_V2}
            return response

    return {f"/{ROOT}features": GatewayFeaturesView, f"/{ROOT}v2/features": GatewayFeaturesV2View}
