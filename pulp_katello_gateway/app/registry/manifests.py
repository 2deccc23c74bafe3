"""pulp_container's manifest view, counting each manifest pull in the pull record.

pulp_container still decides and serves (or, before 2.28, redirects to the content app); this
only notes a successful GET afterwards: who (from the registry token), which repository,
reference and digest, from which address. HEAD is not a pull.
"""

from pulp_katello_gateway.app import pull_record
from pulp_katello_gateway.app.pulp_internals import Manifests, served_manifest_digest
from pulp_katello_gateway.app.registry.identity import identify
from pulp_katello_gateway.app.trust_boundary import client_address

# 200: the manifest itself; 302/307: pulp_container < 2.28 sends it from the content app.
_SERVED = {200, 302, 307}


class RecordedManifests(Manifests):
    def get(self, request, path, pk):
        response = super().get(request, path, pk)
        if response.status_code in _SERVED and pull_record.enabled():
            digest = served_manifest_digest(self, response, path, pk)
            if digest:
                pull_record.record(identify(request), path, pk, digest, client_address(request))
        return response
