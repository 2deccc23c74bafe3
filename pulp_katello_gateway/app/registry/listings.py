"""Listings filtered by Katello's decision: ``/v2/_catalog``, ``/v1/search``, the Flatpak index.

pulp_container's catalog knows only Pulp's RBAC, it has no search, and its Flatpak index lists
only ``private=False`` distributions whoever asks. These views show each identity exactly the
repositories it may pull. They parse the request, ask ``access`` and render; no rule lives here.
"""

from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpResponse
from pulpcore.plugin.util import get_domain
from rest_framework.exceptions import ParseError
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from pulp_katello_gateway.app import access
from pulp_katello_gateway.app.pulp_internals import (
    ContainerDistribution,
    ContainerRegistryApiMixin,
    Tag,
    get_full_path,
)
from pulp_katello_gateway.app.pulp_internals import (
    FlatpakIndexDynamicView as StockFlatpakIndexView,
)
from pulp_katello_gateway.app.registry.identity import identify

SEARCH_PAGE_SIZE = 25  # Katello's default for /v1/search


def _max_page_size():
    """pulp_container's catalog limit, so clients see the same page sizes as before."""
    return 10 * api_settings.PAGE_SIZE


def _page_size(value, default):
    """``n``: absent -> ``default``; clamped to 0..maximum as pulp_container does; not a
    number -> 400 (pulp_container silently ignores it, hiding the client's mistake).
    """
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ParseError(
            _registry_error("PAGINATION_NUMBER_INVALID", "n must be an integer.")
        ) from None
    return max(0, min(number, _max_page_size()))


def _text(params, name):
    """A query parameter (default ""); NUL, which PostgreSQL text cannot hold, is a 400."""
    value = params.get(name, "")
    if "\x00" in value:
        raise ParseError(f"{name} may not contain NUL characters.")
    return value


def _registry_error(code, message):
    return {"errors": [{"code": code, "message": message, "detail": {}}]}


class BasicChallengeMixin:
    """401 (not 403) for bad credentials: DRF needs a challenge to send one."""

    authentication_classes = []
    permission_classes = []
    schema = None

    def get_authenticate_header(self, request):
        return 'Basic realm="pulp_katello_gateway"'


class CatalogView(ContainerRegistryApiMixin, APIView):
    """``GET /v2/_catalog``: sorted names the token's bearer may pull, ``n``/``last`` paginated.

    Authenticated like every registry view (a JWT carrying ``registry:catalog:*``, which the
    token endpoint grants to everyone, anonymous clients included); who is listing comes from the
    token's subject, or its host claim.
    """

    def get(self, request):
        limit = _page_size(request.query_params.get("n"), api_settings.PAGE_SIZE)
        names = access.visible_repositories(
            identify(request),
            after=_text(request.query_params, "last"),
            limit=limit + 1,  # one more tells whether there is a next page
        )
        more, names = len(names) > limit, names[:limit]
        headers = {}
        if more and names:
            # Relative, so it stays right behind any reverse proxy; clients resolve it.
            query = urlencode({"n": limit, "last": names[-1]})
            headers["Link"] = f'<{request.path}?{query}>; rel="next"'
        return Response({"repositories": names}, headers=headers)


class SearchView(BasicChallengeMixin, APIView):
    """``GET /v1/search`` (Docker's v1 search, as Katello's gateway answers it).

    containers/image clients send ``Docker-Distribution-API-Version: registry/2.0`` and never
    authenticate here; they get 404 so that they fall back to the authenticated ``_catalog``.
    """

    def get(self, request):
        if request.headers.get("Docker-Distribution-API-Version", "").strip() == "registry/2.0":
            return HttpResponse("not found", status=404, content_type="text/plain")
        query = _text(request.query_params, "q")
        limit = _page_size(request.query_params.get("n"), SEARCH_PAGE_SIZE)
        identity = identify(request)
        names = access.visible_repositories(identity, contains=query, limit=limit) if limit else []
        return Response(
            {
                "num_results": len(names),
                "query": query,
                "results": [{"name": name, "description": ""} for name in names],
            }
        )


@dataclass
class IndexQuery:
    """The filters of a Flatpak index request (pulp_container's parameters and rules)."""

    repositories: list = field(default_factory=list)
    tags: list = field(default_factory=list)
    oss: list = field(default_factory=list)
    architectures: list = field(default_factory=list)
    label_exists: set = field(default_factory=set)
    label_values: dict = field(default_factory=dict)

    @classmethod
    def parse(cls, params):
        query = cls()
        plain = {
            "repository": query.repositories,
            "tag": query.tags,
            "os": query.oss,
            "architecture": query.architectures,
        }
        for key, values in params.lists():
            if any("\x00" in value for value in values):
                raise ParseError(f"{key} may not contain NUL characters.")
            if key in plain:
                plain[key].extend(values)
            elif key.startswith("label:") and key.endswith(":exists"):
                if any(value != "1" for value in values):
                    raise ParseError(f"{key} must have value 1.")
                query.label_exists.add(key[len("label:") : -len(":exists")])
            elif key.startswith("label:"):
                query.label_values[key[len("label:") :]] = values
            else:  # annotation:... among others, which pulp_container does not support either
                raise ParseError(f"Unsupported {key}.")
        if "org.flatpak.ref" not in query.label_exists:
            raise ParseError("Missing label:org.flatpak.ref:exists=1.")
        return query

    def matches(self, config):
        labels = config["labels"]
        return (
            bool(labels)
            and all(label in labels for label in self.label_exists)
            and (not self.oss or config["os"] in self.oss)
            and (not self.architectures or config["architecture"] in self.architectures)
            and all(labels.get(label) in values for label, values in self.label_values.items())
        )


class FlatpakIndexView(BasicChallengeMixin, StockFlatpakIndexView):
    """``GET /index/static`` and ``/index/dynamic``: pulp_container's Flatpak index, listing the
    distributions the caller may pull instead of only public ones.

    Flatpak fetches it with the host's consumer certificate and no ``Authorization``; Basic
    credentials and registry tokens are honoured too. pulp_container's static-index cache is
    keyed by host and query only, so it is not used: it would show one caller's list to another.
    """

    def get(self, request):
        query = IndexQuery.parse(request.query_params)
        domain = get_domain()
        distributions = access.pullable_distributions(
            identify(request), ContainerDistribution.objects.filter(pulp_domain=domain)
        )
        if query.repositories:
            distributions = distributions.filter(base_path__in=query.repositories)
        storage = domain.get_storage()
        results = []
        distributions = distributions.select_related(
            "pulp_domain", "repository", "repository_version"
        ).order_by("base_path")
        for distribution in distributions:
            images = self._images(distribution, query, storage)
            if images:
                name = get_full_path(distribution.base_path, distribution.pulp_domain)
                results.append({"Name": name, "Images": images})
        registry = settings.CONTENT_ORIGIN or request.build_absolute_uri("/")
        return Response({"Registry": registry, "Results": results})

    def _images(self, distribution, query, storage):
        """The index entries of one distribution (pulp_container's own traversal)."""
        version = (
            distribution.repository.latest_version()
            if distribution.repository
            else distribution.repository_version
        )
        if version is None:
            return []
        tags = Tag.objects.select_related("tagged_manifest").filter(
            pk__in=version.content
        )
        if query.tags:
            tags = tags.filter(name__in=query.tags)
        manifests = {}  # manifest -> names of the tags that reach it
        for tag in tags:
            self.recurse_through_manifest_lists(
                tag.name, tag.tagged_manifest, query.oss, query.architectures, manifests
            )
        images = []
        for manifest, tagged in manifests.items():
            config = self.get_manifest_config(manifest, storage)
            if query.matches(config):
                images.append(
                    {
                        "Tags": sorted(tagged),
                        "Digest": manifest.digest,
                        "MediaType": manifest.media_type,
                        "OS": config["os"],
                        "Architecture": config["architecture"],
                        "Labels": config["labels"],
                    }
                )
        return images
