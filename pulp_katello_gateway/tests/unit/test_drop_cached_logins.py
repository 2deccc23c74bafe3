"""An admin drops a Foreman user's cached logins at once: ``POST <user href>drop_cached_logins/``
(the next token of that login asks Foreman; a changed password stops working now)."""

import logging

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from devtools.clients import NATIVE_API_PATH
from pulp_katello_gateway.app.models import CachedLogin, ForemanUser, UserRepositoryGrant
from pulp_katello_gateway.tests.unit.katello_api import make_world

pytestmark = pytest.mark.django_db
USERS = NATIVE_API_PATH + "users/"


@pytest.fixture
def cached_users():
    """alice and bob, each with two cached logins and a grant."""
    make_world({"kat/a": True}, users={"alice": ["kat/a"], "bob": ["kat/a"]})
    users = {user.login: user for user in ForemanUser.objects.all()}
    for user in users.values():
        for salt in ("s1", "s2"):
            CachedLogin.objects.create(
                foreman_user=user, salt=salt, digest="0" * 64, verified_at=timezone.now()
            )
    return users


def drop_url(user):
    return f"{USERS}{user.pk}/drop_cached_logins/"


def remaining(login):
    return CachedLogin.objects.filter(foreman_user__login=login).count()


def test_admin_drops_one_users_cached_logins(cached_users, admin_client, caplog):
    with caplog.at_level(logging.INFO, logger="pulp_katello_gateway.audit"):
        response = admin_client.post(drop_url(cached_users["alice"]))
    assert response.status_code == 200
    assert response.json() == {"login": "alice", "dropped": 2}
    assert (remaining("alice"), remaining("bob")) == (0, 2)
    # Her grants stay: only her next login goes to Foreman again.
    assert UserRepositoryGrant.objects.filter(foreman_user__login="alice").count() == 1
    assert "cached logins of user=alice dropped=2" in caplog.text
    again = admin_client.post(drop_url(cached_users["alice"]))
    assert again.json() == {"login": "alice", "dropped": 0}


def test_the_href_the_native_api_shows_is_the_one_to_post_to(cached_users, admin_client):
    listed = admin_client.get(USERS, {"login": "bob"}).json()["results"]
    response = admin_client.post(f"{listed[0]['pulp_href']}drop_cached_logins/")
    assert response.json() == {"login": "bob", "dropped": 2}


@pytest.mark.parametrize("pk", ["00000000-0000-0000-0000-000000000000", "not-a-uuid"])
def test_an_unknown_user_is_404_and_drops_nothing(cached_users, admin_client, pk):
    response = admin_client.post(f"{USERS}{pk}/drop_cached_logins/")
    assert response.status_code == 404
    assert CachedLogin.objects.count() == 4


def test_only_an_admin_may_drop_them(cached_users, plain_client, katello_client):
    """Not anonymous, not a plain user, not Katello (it pushes and reads, never revokes)."""
    url = drop_url(cached_users["alice"])
    assert APIClient().post(url).status_code == 401
    assert plain_client.post(url).status_code == 403
    assert katello_client.post(url).status_code == 403
    assert remaining("alice") == 2


def test_get_is_not_allowed(cached_users, admin_client):
    response = admin_client.get(drop_url(cached_users["alice"]))
    assert response.status_code == 405
    assert remaining("alice") == 2
