from importlib import metadata
from importlib.util import find_spec

from django.core.exceptions import ImproperlyConfigured
from pulpcore.plugin import PulpPluginAppConfig

if find_spec("pulp_container") is None:
    raise ImproperlyConfigured(
        "pulp_katello_gateway requires pulp_container: install pulp-container>=2.26,<2.31."
    )


class PulpKatelloGatewayPluginAppConfig(PulpPluginAppConfig):
    """Entry point of the Katello gateway plugin."""

    name = "pulp_katello_gateway.app"
    label = "katello_gateway"
    python_package_name = "pulp-katello-gateway"
    version = metadata.version(python_package_name)  # pyproject.toml's, the one place it is written
    domain_compatible = False

    def ready(self):
        super().ready()
        from django.conf import settings

        from . import checks  # noqa: F401
        from .middleware import MIDDLEWARE_PATH, refuse_every_request

        if MIDDLEWARE_PATH not in settings.MIDDLEWARE:
            # Fail closed, without stopping ``pulpcore-manager check`` from saying why (E003):
            # the stock token endpoint would otherwise ignore Katello's ACL.
            refuse_every_request(
                f"pulp_katello_gateway needs {MIDDLEWARE_PATH} in MIDDLEWARE; when setting "
                "MIDDLEWARE, merge with 'dynaconf_merge' instead of replacing Pulp's list."
            )
        from django.db.models.signals import pre_save
        from pulpcore.plugin.models import RepositoryVersion

        from .acl.private_flag import enforce_private
        from .ownership import (
            refuse_local_content,
            refuse_local_distribution,
            refuse_reserved_usernames,
        )
        from .pulp_internals import ContainerDistribution

        pre_save.connect(
            refuse_reserved_usernames,
            sender=settings.AUTH_USER_MODEL,
            dispatch_uid="katello_gateway_refuse_reserved_usernames",
        )
        # Any type of distribution (pulpcore's signals name the concrete model), refused before
        # its private flag is set: receivers run in the order they connect.
        pre_save.connect(
            refuse_local_distribution, dispatch_uid="katello_gateway_refuse_local_distribution"
        )
        pre_save.connect(
            refuse_local_content,
            sender=RepositoryVersion,
            dispatch_uid="katello_gateway_refuse_local_content",
        )
        pre_save.connect(
            enforce_private,
            sender=ContainerDistribution,
            dispatch_uid="katello_gateway_enforce_private",
        )
