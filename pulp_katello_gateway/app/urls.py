"""Routes of the Katello-compatible push API (pulpcore includes this module at the root).

Katello calls ``<smart proxy>/container_gateway/<endpoint>``; a reverse proxy maps
``/container_gateway/`` to ``<API_ROOT>container_gateway/``. Every route also answers with a
trailing slash, as the Ruby gateway's did. The Pulp-native API (``viewsets.py``) is routed by
pulpcore itself.
"""

from django.urls import path

from . import smart_proxy
from .katello import views
from .pulp_internals import smart_proxy_installed, v3_api_root
from .views import ExplainView, StatusView

# e.g. "pulp/api/v3/container_gateway/"; with API_ROOT_REWRITE_HEADER it holds <path:api_root>.
PUSH_ROOT = v3_api_root() + "container_gateway/"

_ENDPOINTS = {
    "users": views.UsersView,
    "repository_list": views.RepositoryListView,
    "user_repository_mapping": views.UserRepositoryMappingView,
    "update_hosts": views.UpdateHostsView,
    "host_repository_mapping": views.HostRepositoryMappingView,
    "update_host_repositories": views.UpdateHostRepositoriesView,
}

# Where Katello finds the push API: behind the web server's /container_gateway/ mapping, and at
# the URL of Pulp as a smart proxy (pulp-smart-proxy), where no mapping is needed.
PUSH_ROOTS = [PUSH_ROOT]
if smart_proxy_installed():
    PUSH_ROOTS.append(smart_proxy.ROOT + "container_gateway/")

urlpatterns = [
    path(v3_api_root() + "katello_gateway/explain/", ExplainView.as_view()),
    path(v3_api_root() + "katello_gateway/status/", StatusView.as_view()),
] + [
    route
    for root in PUSH_ROOTS
    for endpoint, view in _ENDPOINTS.items()
    for route in (
        path(root + endpoint, view.as_view()),
        path(root + endpoint + "/", view.as_view()),
    )
]
