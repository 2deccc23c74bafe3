"""The URLconf every request resolves through: our registry views first, then Pulp's.

pulpcore includes plugin URLconfs in entry-point order, so a plugin ``urls.py`` entry for
``token/`` may or may not win over pulp_container's. ``RegistryUrlconfMiddleware`` sets this
module as ``request.urlconf`` instead, which Django resolves before anything else.
"""

from django.conf import settings
from django.urls import include, path

from pulp_katello_gateway.app.registry.token import TokenView

OVERRIDDEN = {"/token/": TokenView}

urlpatterns = [
    path("token/", TokenView.as_view(), name="katello-gateway-token"),
    path("", include(settings.ROOT_URLCONF)),
]
