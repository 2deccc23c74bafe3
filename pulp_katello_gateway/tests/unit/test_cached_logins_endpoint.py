"""Katello drops a user's cached logins at once: DELETE .../users/<login>/cached_logins."""

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from devtools.clients import KATELLO_PUSH_PATH
from pulp_katello_gateway.app.models import CachedLogin, ForemanUser

pytestmark = pytest.mark.django_db
URL = KATELLO_PUSH_PATH + "users/{}/cached_logins/"


@pytest.fixture
def cached_users():
    users = {login: ForemanUser.objects.create_for_login(login) for login in ("alice", "bob")}
    for user in users.values():
        for salt in ("s1", "s2"):
            CachedLogin.objects.create(
                foreman_user=user, salt=salt, digest="0" * 64, verified_at=timezone.now()
            )
    return users


@pytest.fixture
def admin_client():
    client = APIClient()
    client.force_authenticate(get_user_model().objects.create_superuser("kg-admin"))
    return client


def _remaining(login):
    return CachedLogin.objects.filter(foreman_user__login=login).count()


@pytest.mark.parametrize("url", [URL, URL.rstrip("/")])
def test_admin_drops_one_users_cached_logins(cached_users, admin_client, url):
    response = admin_client.delete(url.format("alice"))
    assert response.status_code == 200
    assert response.json() == {"login": "alice", "dropped": 2}
    assert _remaining("alice") == 0
    assert _remaining("bob") == 2


def test_unknown_login_drops_nothing(cached_users, admin_client):
    response = admin_client.delete(URL.format("nobody"))
    assert response.status_code == 200
    assert response.json()["dropped"] == 0
    assert CachedLogin.objects.count() == 4


def test_only_katello_may_revoke(cached_users):
    anonymous = APIClient()
    assert anonymous.delete(URL.format("alice")).status_code == 401
    plain = APIClient()
    plain.force_authenticate(get_user_model().objects.create_user("someone"))
    assert plain.delete(URL.format("alice")).status_code == 403
    assert _remaining("alice") == 2
