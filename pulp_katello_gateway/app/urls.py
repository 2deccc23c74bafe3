"""Routes of the Katello-compatible push API (pulpcore includes this module at the root).

Katello calls ``<smart proxy>/container_gateway/<endpoint>``; a reverse proxy maps
``/container_gateway/`` to ``<API_ROOT>container_gateway/``. Every route also answers with a
trailing slash, as the Ruby gateway's did. The Pulp-native API (``viewsets.py``) is routed by
pulpcore itself.
"""

from django.urls import path
from pulpcore.plugin.find_url import find_api_root

from .katello import views

# e.g. "pulp/api/v3/container_gateway/"; with API_ROOT_REWRITE_HEADER it holds <path:api_root>.
PUSH_ROOT = find_api_root(set_domain=False, lstrip=True)[1] + "container_gateway/"

_ENDPOINTS = {
    "users": views.UsersView,
    "repository_list": views.RepositoryListView,
    "user_repository_mapping": views.UserRepositoryMappingView,
    "update_hosts": views.UpdateHostsView,
    "host_repository_mapping": views.HostRepositoryMappingView,
    "update_host_repositories": views.UpdateHostRepositoriesView,
}

urlpatterns = [
    route
    for endpoint, view in _ENDPOINTS.items()
    for route in (
        path(PUSH_ROOT + endpoint, view.as_view(), name=f"katello-gateway-{endpoint}"),
        path(PUSH_ROOT + endpoint + "/", view.as_view()),
    )
] + [
    path(PUSH_ROOT + "users/<str:login>/cached_logins", views.CachedLoginsView.as_view()),
    path(PUSH_ROOT + "users/<str:login>/cached_logins/", views.CachedLoginsView.as_view()),
]
