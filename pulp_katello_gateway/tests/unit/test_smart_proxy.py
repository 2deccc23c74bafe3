"""With pulp-smart-proxy installed, Pulp as a smart proxy has Katello's Container_Gateway feature
and takes Katello's pushes at the smart proxy's own URL."""

import pytest

from pulp_katello_gateway.app.models import KatelloRepository
from pulp_katello_gateway.tests.unit.katello_api import FORM

pytestmark = pytest.mark.django_db

SMART_PROXY = "/pulp/api/v3/smart_proxy/"


def test_features_list_the_gateway_beside_pulpcore(admin_client):
    response = admin_client.get(SMART_PROXY + "features")
    assert response.status_code == 200
    assert response.json() == ["pulpcore", "container_gateway"]


def test_v2_features_describe_the_gateway_as_running(admin_client):
    features = admin_client.get(SMART_PROXY + "v2/features").json()
    assert set(features) == {"pulpcore", "container_gateway"}
    assert features["container_gateway"] == {
        "http_enabled": False,
        "https_enabled": True,
        "settings": {},
        "state": "running",
        "capabilities": [],
    }
    assert features["pulpcore"]["state"] == "running"
    assert "katello_gateway" in features["pulpcore"]["capabilities"]


def test_features_keep_pulp_smart_proxys_permissions(katello_client, anonymous_client):
    """Foreman reads them as a Pulp admin; nobody else learns more than before."""
    assert katello_client.get(SMART_PROXY + "features").status_code == 403
    assert anonymous_client.get(SMART_PROXY + "v2/features").status_code == 401


@pytest.mark.parametrize("slash", ["", "/"])
def test_katello_pushes_at_the_smart_proxy_url(katello_client, slash):
    response = katello_client.put(
        f"{SMART_PROXY}container_gateway/repository_list{slash}",
        data="repositories[][repository]=acme%2Fweb&repositories[][auth_required]=true",
        content_type=FORM,
    )
    assert response.status_code == 200
    assert list(KatelloRepository.objects.values_list("name", "auth_required")) == [
        ("acme/web", True)
    ]


def test_the_smart_proxy_push_url_has_the_same_permissions(plain_client):
    response = plain_client.put(
        SMART_PROXY + "container_gateway/repository_list/", data="repositories", content_type=FORM
    )
    assert response.status_code == 403
    assert not KatelloRepository.objects.exists()
