"""What each identity sees in the catalog, search and Flatpak index, and how those views parse."""


import jwt
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from pulp_container.app.models import ContainerDistribution

from devtools.clients import basic_authorization
from pulp_katello_gateway.app import access, identities
from pulp_katello_gateway.app.models import (
    ConsumerHost,
    ForemanUser,
    HostRepositoryGrant,
    KatelloRepository,
    UserRepositoryGrant,
)
from pulp_katello_gateway.app.registry.identity import HOST_CLAIM, token_identity
from pulp_katello_gateway.app.registry.token import KatelloAuthorizationService

pytestmark = pytest.mark.django_db

HOST_UUID = "0f8e2a55-7c1b-4d8e-a2b4-6f0e9d1c3b2a"
PUBLIC = ["pub/a", "pub/per%cent", "pub/under_score"]
SERVICE = "testserver"  # the Host of Django's test client: the token audience


@pytest.fixture
def world():
    """Katello repositories, a Foreman user and a host with one grant each, two distributions."""
    repositories = {
        name: KatelloRepository.objects.create(name=name, auth_required=False) for name in PUBLIC
    }
    for name in ("priv/b", "priv/c", "priv/d"):
        repositories[name] = KatelloRepository.objects.create(name=name, auth_required=True)
    alice = ForemanUser.objects.create_for_login("alice")
    UserRepositoryGrant.objects.create(foreman_user=alice, repository=repositories["priv/b"])
    host = ConsumerHost.objects.create(uuid=HOST_UUID)
    HostRepositoryGrant.objects.create(host=host, repository=repositories["priv/c"])
    ContainerDistribution.objects.create(name="local", base_path="local/only")
    ContainerDistribution.objects.create(name="b", base_path="priv/b")  # private: Katello's
    return {
        "alice": identities.Identity.of_foreman_user(alice),
        "host": identities.Identity.of_host(host.pk, host.uuid),
        "admin": identities.Identity(
            user=get_user_model().objects.create_superuser("root", password="root-password")
        ),
        "plain": identities.Identity(user=get_user_model().objects.create_user("plain")),
    }


def test_each_identity_sees_exactly_what_it_may_pull(world):
    assert access.visible_repositories(identities.ANONYMOUS) == PUBLIC
    assert access.visible_repositories(world["alice"]) == sorted([*PUBLIC, "priv/b"])
    assert access.visible_repositories(world["host"]) == sorted([*PUBLIC, "priv/c"])
    assert access.visible_repositories(world["admin"]) == sorted(
        [*PUBLIC, "priv/b", "priv/c", "priv/d", "local/only"]
    )
    # pulp_container's own rule for other local users: public distributions only here.
    assert access.visible_repositories(world["plain"]) == ["local/only"]


def test_listing_agrees_with_the_pull_decision(world):
    names = sorted([*PUBLIC, "priv/b", "priv/c", "priv/d"])
    for identity in (identities.ANONYMOUS, world["alice"], world["host"]):
        pullable = [n for n in names if access.permitted_actions(identity, n, {"pull"})]
        assert access.visible_repositories(identity) == pullable


def test_keyset_pages_cover_the_list_once(world):
    everything = access.visible_repositories(world["admin"])
    pages, after = [], ""
    while page := access.visible_repositories(world["admin"], after=after, limit=3):
        pages.append(page)
        after = page[-1]
    assert [name for page in pages for name in page] == everything
    assert [len(page) for page in pages] == [3, 3, 1]


@pytest.mark.parametrize(
    "contains, expected",
    [("%", ["pub/per%cent"]), ("_", ["pub/under_score"]), ("PUB/A", ["pub/a"]), ("", PUBLIC)],
)
def test_substring_takes_wildcards_literally(world, contains, expected):
    assert access.visible_repositories(identities.ANONYMOUS, contains=contains) == expected


def test_pullable_distributions_filter_private_ones_by_identity(world):
    distributions = ContainerDistribution.objects.all()

    def paths(identity):
        return sorted(access.pullable_distributions(identity, distributions).values_list(
            "base_path", flat=True
        ))

    assert paths(identities.ANONYMOUS) == []
    assert paths(world["alice"]) == ["priv/b"]
    assert paths(world["host"]) == []
    assert paths(world["admin"]) == ["local/only", "priv/b"]
    assert paths(world["plain"]) == ["local/only"]


def _token(identity, scopes=("registry:catalog:*",)):
    return KatelloAuthorizationService(identity, SERVICE, list(scopes)).generate_token()["token"]


def _claims(token):
    return jwt.decode(token, options={"verify_signature": False})


def test_host_tokens_name_the_host_and_come_back_as_it(world, django_assert_num_queries):
    claims = _claims(_token(world["host"]))
    assert claims["sub"] == ""
    assert claims[HOST_CLAIM] == HOST_UUID
    with django_assert_num_queries(1):  # one lookup gives the row and its name
        identity = token_identity(get_user_model()(), claims)
    assert identity == world["host"]
    assert identity.name == HOST_UUID


def test_token_of_a_removed_host_is_nobody(world):
    claims = _claims(_token(world["host"]))
    ConsumerHost.objects.filter(uuid=HOST_UUID).delete()
    assert token_identity(AnonymousUser(), claims) == identities.ANONYMOUS


def test_foreman_user_tokens_come_back_as_the_foreman_user(world, django_assert_num_queries):
    claims = _claims(_token(world["alice"]))
    assert HOST_CLAIM not in claims
    with django_assert_num_queries(1):
        identity = token_identity(world["alice"].user, claims)
    assert identity == world["alice"]
    assert identity.name == "alice"


def _catalog(client, identity, query=""):
    return client.get(
        f"/v2/_catalog{query}", HTTP_AUTHORIZATION=f"Bearer {_token(identity)}"
    )


def test_catalog_lists_by_token_identity(client, world):
    for name, expected in [("alice", "priv/b"), ("host", "priv/c")]:
        response = _catalog(client, world[name])
        assert response.status_code == 200
        assert response.json() == {"repositories": sorted([*PUBLIC, expected])}
        assert response["Docker-Distribution-Api-Version"] == "registry/2.0"
        assert "Link" not in response


def test_anonymous_catalog_needs_a_catalog_token(client, world):
    response = client.get("/v2/_catalog")
    assert response.status_code == 401
    assert 'scope="registry:catalog:*"' in response["WWW-Authenticate"]
    response = _catalog(client, identities.ANONYMOUS)
    assert response.json() == {"repositories": PUBLIC}


def test_catalog_token_without_catalog_scope_is_insufficient(client, world):
    token = _token(world["alice"], scopes=())
    response = client.get("/v2/_catalog", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401
    assert 'error="insufficient_scope"' in response["WWW-Authenticate"]


def test_catalog_pages_link_to_the_next_page(client, world):
    response = _catalog(client, world["admin"], "?n=4")
    assert response.json()["repositories"] == ["local/only", "priv/b", "priv/c", "priv/d"]
    assert response["Link"] == '</v2/_catalog?n=4&last=priv%2Fd>; rel="next"'
    response = _catalog(client, world["admin"], "?n=4&last=priv%2Fd")
    assert response.json()["repositories"] == PUBLIC
    assert "Link" not in response


@pytest.mark.parametrize("n, status, count", [("0", 200, 0), ("-3", 200, 0), ("x", 400, None)])
def test_catalog_page_size_edge_cases(client, world, n, status, count):
    response = _catalog(client, world["admin"], f"?n={n}")
    assert response.status_code == status
    if count is None:
        assert response.json()["errors"][0]["code"] == "PAGINATION_NUMBER_INVALID"
    else:
        assert len(response.json()["repositories"]) == count


def test_nul_in_parameters_is_a_client_error(client, world):
    assert _catalog(client, world["admin"], "?last=a%00b").status_code == 400
    assert client.get("/v1/search?q=a%00b").status_code == 400
    assert client.get("/index/dynamic?label:org.flatpak.ref:exists=1&tag=%00").status_code == 400


def test_search_refuses_containers_image_clients(client, world):
    response = client.get(
        "/v1/search?q=pub", HTTP_DOCKER_DISTRIBUTION_API_VERSION="registry/2.0"
    )
    assert response.status_code == 404
    assert response.content == b"not found"


def test_search_without_credentials_shows_public_matches(client, world):
    response = client.get("/v1/search?q=under")
    assert response.status_code == 200
    assert response.json() == {
        "num_results": 1,
        "query": "under",
        "results": [{"name": "pub/under_score", "description": ""}],
    }


def test_search_with_credentials_and_limit(client, world):
    response = client.get(
        "/v1/search?q=priv&n=2", HTTP_AUTHORIZATION=basic_authorization("root", "root-password")
    )
    assert [r["name"] for r in response.json()["results"]] == ["priv/b", "priv/c"]
    assert response.json()["num_results"] == 2


@pytest.mark.parametrize("query, status, results", [
    ("?n=0", 200, 0), ("?n=-1", 200, 0), ("?n=many", 400, None), ("", 200, 3),
])
def test_search_limits(client, world, query, status, results):
    response = client.get(f"/v1/search{query}")
    assert response.status_code == status
    if results is not None:
        assert response.json()["num_results"] == results


def test_search_with_bad_credentials_is_401(client, world, settings):
    settings.KATELLO_GATEWAY_FOREMAN_URL = None  # only local users then: no Foreman call
    response = client.get("/v1/search", HTTP_AUTHORIZATION=basic_authorization("root", "wrong"))
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")


def test_search_accepts_a_registry_token(client, world):
    response = client.get("/v1/search?q=priv", HTTP_AUTHORIZATION=f"Bearer {_token(world['host'])}")
    assert [r["name"] for r in response.json()["results"]] == ["priv/c"]


def test_search_with_a_forged_token_is_401(client, world):
    forged = jwt.encode({"sub": "", HOST_CLAIM: HOST_UUID}, "not-the-key", algorithm="HS256")
    response = client.get("/v1/search", HTTP_AUTHORIZATION=f"Bearer {forged}")
    assert response.status_code == 401


@pytest.mark.skipif(not settings.FLATPAK_INDEX, reason="Flatpak index disabled")
@pytest.mark.parametrize("path", ["/index/static", "/index/dynamic"])
@pytest.mark.parametrize("query, status", [
    ("", 400), ("?label:org.flatpak.ref:exists=2", 400), ("?annotation:x=1", 400),
    ("?label:org.flatpak.ref:exists=1", 200),
])
def test_index_parameters(client, world, path, query, status):
    response = client.get(path + query)
    assert response.status_code == status
    if status == 200:
        assert response.json()["Results"] == []  # no distribution here has content
