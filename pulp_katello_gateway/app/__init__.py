from importlib.util import find_spec

from django.core.exceptions import ImproperlyConfigured
from pulpcore.plugin import PulpPluginAppConfig

if find_spec("pulp_container") is None:
    raise ImproperlyConfigured(
        "pulp_katello_gateway requires pulp_container: install pulp-container>=2.30,<2.31."
    )


class PulpKatelloGatewayPluginAppConfig(PulpPluginAppConfig):
    """Entry point of the Katello gateway plugin."""

    name = "pulp_katello_gateway.app"
    label = "katello_gateway"
    version = "0.1.0.dev0"
    python_package_name = "pulp-katello-gateway"
    domain_compatible = False

    def ready(self):
        super().ready()
        from . import checks  # noqa: F401
