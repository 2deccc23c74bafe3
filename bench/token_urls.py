"""``ROOT_URLCONF`` of the stack ``bench.token`` starts: Pulp's URLs plus the STOCK token view.

The plugin's middleware routes ``/token/`` to its own view before anything else, so
pulp_container's ``BearerTokenView`` is unreachable in a stack with the plugin. The benchmark
mounts that very class a second time, at ``STOCK_TOKEN_PATH``, so both token endpoints are served
by the same gunicorn workers, database, keys and TLS in one run. Not for production use.
"""

from django.urls import include, path
from pulp_container.app.registry_api import BearerTokenView

from bench.token import STOCK_TOKEN_PATH

urlpatterns = [
    path(STOCK_TOKEN_PATH, BearerTokenView.as_view()),
    path("", include("pulpcore.app.urls")),
]
