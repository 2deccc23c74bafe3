"""pulp-glue contexts of pulp_katello_gateway's REST API: Katello's repositories, Foreman users and
hosts, the pull record (``katello_gateway/*`` resources), and the explain/ and status/ answers."""

import json
import typing as t

from pulp_glue.common.context import PluginRequirement, PulpEntityContext, PulpViewSetContext
from pulp_glue.common.exceptions import PulpEntityNotFound, PulpHTTPError

# The component Pulp's status reports for the plugin (its Django app label).
NEEDS_GATEWAY = [PluginRequirement("katello_gateway")]


class PulpKatelloRepositoryContext(PulpEntityContext):
    ENTITY = "katello gateway repository"
    ENTITIES = "katello gateway repositories"
    HREF = "katello_gateway_katello_repository_href"
    ID_PREFIX = "katello_gateway_repositories"
    NEEDS_PLUGINS = NEEDS_GATEWAY


class PulpForemanUserContext(PulpEntityContext):
    ENTITY = "katello gateway user"
    ENTITIES = "katello gateway users"
    HREF = "katello_gateway_foreman_user_href"
    ID_PREFIX = "katello_gateway_users"
    NEEDS_PLUGINS = NEEDS_GATEWAY


class PulpConsumerHostContext(PulpEntityContext):
    ENTITY = "katello gateway host"
    ENTITIES = "katello gateway hosts"
    HREF = "katello_gateway_consumer_host_href"
    ID_PREFIX = "katello_gateway_hosts"
    NEEDS_PLUGINS = NEEDS_GATEWAY


class PulpPullRecordContext(PulpEntityContext):
    ENTITY = "pull record"
    ENTITIES = "pull records"
    HREF = "katello_gateway_pull_record_href"
    ID_PREFIX = "katello_gateway_pulls"
    NEEDS_PLUGINS = NEEDS_GATEWAY


class PulpKatelloGatewayContext(PulpViewSetContext):
    """The answers that are not resources: ``katello_gateway/explain/`` and ``status/``."""

    ID_PREFIX = "katello_gateway"
    NEEDS_PLUGINS = NEEDS_GATEWAY

    def explain(
        self,
        repository: str,
        login: str | None = None,
        host: str | None = None,
        action: str = "pull",
    ) -> t.Any:
        """The registry's decision on ``repository`` for a login, a host's uuid or, with
        neither, anonymous clients.

        Raises:
            PulpEntityNotFound: Pulp knows no such login or host (Pulp's sentence says which).
        """
        parameters = {"repository": repository, "login": login, "host": host, "action": action}
        try:
            return self.call("explain", parameters=parameters)  # pulp-glue drops the Nones
        except PulpHTTPError as error:
            if error.status_code == 404:
                raise PulpEntityNotFound(_detail(error)) from None
            raise

    def status(self) -> t.Any:
        """The ACL's freshness: each push endpoint's last push, count and fingerprint."""
        return self.call("status")


def _detail(error: PulpHTTPError) -> str:
    """The sentence of DRF's ``{"detail": …}`` body, or the body as it came (from a proxy)."""
    try:
        return str(json.loads(str(error))["detail"])
    except (ValueError, KeyError, TypeError):
        return str(error)
