"""Catalog, search and Flatpak index through real clients: each identity sees exactly its set.

One module-wide world under a unique prefix: two public repositories, one granted to each of two
Foreman users and to a host, one granted to nobody, and a distribution Katello does not know.
Other tests add repositories too, so every listing is compared on this prefix only.
"""

import uuid

import pytest

from devtools.oci import build_image
from pulp_katello_gateway.tests.functional.listing_clients import (
    FLATPAK_QUERY,
    catalog,
    catalog_pages,
    podman_search,
    session,
)

REPOSITORIES = ("alice-1", "bob-1", "host-1", "local", "pub-1", "pub-2", "secret")
WITH_IMAGES = ("alice-1", "host-1", "local", "pub-1", "secret")  # Flatpak-labelled images
PUBLIC = ("pub-1", "pub-2")
SEES = {
    "anonymous": PUBLIC,
    "alice": ("alice-1", *PUBLIC),
    "bob": ("bob-1", *PUBLIC),
    "host": ("host-1", *PUBLIC),
    "admin": REPOSITORIES,
}


class Listings:
    """The module's world, and each identity's client."""

    def __init__(self, pulp, nginx, world):
        self.pulp, self.nginx, self.prefix = pulp, nginx, world.prefix
        self.users = {who: user["auth"] for who, user in world.users.items()}
        self.users["admin"] = pulp.admin_auth
        self.host_certs = world.host_certs["host"]

    def name(self, short):
        return f"{self.prefix}/{short}"

    def ours(self, names):
        """The short names of this world's repositories among ``names``, in their order."""
        return [n.removeprefix(self.prefix + "/") for n in names if n.startswith(self.prefix + "/")]

    def client(self, who):
        """(base URL, requests session) of ``who``: hosts come through nginx with their cert."""
        if who == "host":
            return self.nginx.url, session(self.pulp.ca_file, cert_dir=self.host_certs)
        auth = None if who == "anonymous" else self.users[who]
        return self.pulp.api_url, session(self.pulp.ca_file, auth=auth)


@pytest.fixture(scope="module")
def world(pulp, nginx, make_world, tmp_path_factory):
    layout = tmp_path_factory.mktemp("listings") / "flatpak-image"
    flatpak_ref = f"app/org.example.App{uuid.uuid4().hex[:8]}/x86_64/stable"
    digest = build_image(layout, labels={"org.flatpak.ref": flatpak_ref})
    built = make_world(
        "listing",
        # "local": a distribution only Pulp knows
        {short: None if short == "local" else short not in PUBLIC for short in REPOSITORIES},
        users={"alice": ["alice-1"], "bob": ["bob-1"]},
        hosts={"host": ["host-1"]},
        images=WITH_IMAGES,
        image=(layout, digest),
    )
    return Listings(pulp, nginx, built)


@pytest.mark.parametrize("who", list(SEES))
def test_catalog_shows_each_identity_its_set(world, who):
    base_url, http = world.client(who)
    assert world.ours(catalog(http, base_url)) == list(SEES[who])


@pytest.mark.parametrize("who", list(SEES))
def test_podman_search_shows_each_identity_its_set(world, who, tmp_path):
    if who == "host":
        found = podman_search(world.nginx.registry, world.prefix, world.host_certs, tmp_path)
    else:
        creds = None if who == "anonymous" else world.users[who]
        cert_dir = world.pulp.certs_dir / world.pulp.registry
        found = podman_search(world.pulp.registry, world.prefix, cert_dir, tmp_path, creds)
    assert world.ours(found) == list(SEES[who])


def test_catalog_pages_cover_everything_once(world):
    base_url, http = world.client("admin")
    pages = catalog_pages(http, base_url, n=2)
    names = [name for page, _ in pages for name in page]
    assert len(pages) > 3
    assert all(len(page) == 2 and link for page, link in pages[:-1])
    assert pages[-1][1] is None
    assert names == sorted(set(names))
    assert names == catalog(http, base_url)  # one big page (default n) lists the same
    assert world.ours(names) == list(REPOSITORIES)


@pytest.mark.parametrize("who", list(SEES))
def test_v1_search_shows_each_identity_its_matches(world, who):
    base_url, http = world.client(who)
    response = http.get(f"{base_url}/v1/search", params={"q": world.prefix, "n": 100}, timeout=30)
    assert response.status_code == 200
    body = response.json()
    assert body["query"] == world.prefix
    assert body["num_results"] == len(body["results"])
    assert [r["name"] for r in body["results"]] == [world.name(s) for s in SEES[who]]


def test_v1_search_limits_and_refuses(world):
    base_url, http = world.client("alice")
    response = http.get(f"{base_url}/v1/search", params={"q": world.prefix, "n": 1}, timeout=30)
    assert [r["name"] for r in response.json()["results"]] == [world.name("alice-1")]
    response = http.get(
        f"{base_url}/v1/search",
        params={"q": world.prefix},
        headers={"Docker-Distribution-API-Version": "registry/2.0"},
        timeout=30,
    )
    assert (response.status_code, response.text) == (404, "not found")
    wrong = session(world.pulp.ca_file, auth=(world.users["alice"][0], "wrong-password"))
    assert wrong.get(f"{base_url}/v1/search", timeout=30).status_code == 401
    assert http.get(f"{base_url}/v1/search?n=lots", timeout=30).status_code == 400


@pytest.mark.parametrize("path", ["/index/static", "/index/dynamic"])
@pytest.mark.parametrize("who", list(SEES))
def test_flatpak_index_lists_what_each_identity_may_pull(world, who, path):
    base_url, http = world.client(who)
    response = http.get(f"{base_url}{path}?{FLATPAK_QUERY}", timeout=30)
    assert response.status_code == 200
    listed = world.ours(result["Name"] for result in response.json()["Results"])
    assert listed == [short for short in SEES[who] if short in WITH_IMAGES]
