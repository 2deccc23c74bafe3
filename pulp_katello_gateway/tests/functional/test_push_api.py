"""Katello's push API on the real stack: each endpoint with Katello's exact form-encoded bodies,
the result read back through the Pulp-native API.

The stack is shared by the whole session, so every full replace sends the stand-in's complete
state (as Katello would) with this module's additions in it.
"""

import uuid

import pytest

from devtools import rack
from devtools.clients import KATELLO_PUSH_PATH, NATIVE_API_PATH
from devtools.katello_standin.push import put

PUSH = KATELLO_PUSH_PATH
NATIVE = NATIVE_API_PATH


@pytest.fixture(scope="module")
def names():
    prefix = f"pa{uuid.uuid4().hex[:8]}"
    return {
        "protected": f"{prefix}-prod-web",
        "public": f"{prefix}-library-public",
        "push_repo": f"id/1/2/{prefix}-push-repo",  # Katello names may carry slashes
        "alice": f"{prefix}-alice",
        "carol": f"{prefix}-carol@example.com",
        "host": str(uuid.uuid4()),
        "late_host": str(uuid.uuid4()),
    }


@pytest.fixture(scope="module")
def client(pulp, katello, names):
    katello.add_repository(names["protected"], auth_required=True)
    katello.add_repository(names["public"], auth_required=False)
    katello.add_repository(names["push_repo"], auth_required=True)
    katello.add_user(names["alice"], "alice-pw", repositories=[names["protected"]])
    katello.add_user(names["carol"], "carol-pw", repositories=[])
    katello.add_host(names["host"], [names["protected"], names["public"]])
    session = pulp.session()
    for login in (names["alice"], names["carol"]):  # known here, as after a first login
        assert session.post(pulp.api_url + NATIVE + "users/", json={"login": login}).status_code
    return session


def _put(pulp, endpoint, payload):
    response = put(
        pulp.api_url + PUSH, endpoint, payload, auth=pulp.admin_auth, verify=str(pulp.ca_file)
    )
    assert response.status_code == 200, response.text
    assert response.content == b""
    return response


def _native(pulp, client, path, **params):
    response = client.get(pulp.api_url + NATIVE + path, params={**params, "limit": 1000})
    assert response.status_code == 200, response.text
    return response.json()["results"]


def test_repository_list(pulp, katello, client, names):
    _put(pulp, "repository_list", katello.repository_list_payload())
    for name, auth_required in [
        (names["protected"], True), (names["public"], False), (names["push_repo"], True)
    ]:
        found = _native(pulp, client, "repositories/", name=name)
        assert [repo["auth_required"] for repo in found] == [auth_required]


def test_users_lists_known_logins(pulp, client, names):
    response = client.get(pulp.api_url + PUSH + "users")
    assert response.status_code == 200
    assert {names["alice"], names["carol"]} <= set(response.json()["users"])


def test_user_repository_mapping_with_an_empty_list_as_bare_key(pulp, katello, client, names):
    _put(pulp, "repository_list", katello.repository_list_payload())
    logins = client.get(pulp.api_url + PUSH + "users").json()["users"]
    others = [login for login in logins if login != names["carol"]]
    carol = rack.escape(names["carol"])
    body = rack.encode(katello.user_mapping_payload(others)) + f"&users[][{carol}]"
    assert body.endswith("%40example.com]") and "=" not in body.rsplit("&", 1)[1]
    _put(pulp, "user_repository_mapping", body)

    granted = _native(pulp, client, "repositories/", granted_to_user=names["alice"])
    # Public repositories need no grant, so Katello's auth_required=false entries grant nothing.
    assert [repo["name"] for repo in granted] == [names["protected"]]
    assert _native(pulp, client, "repositories/", granted_to_user=names["carol"]) == []


def test_update_hosts_and_host_repository_mapping(pulp, katello, client, names):
    _put(pulp, "repository_list", katello.repository_list_payload())
    _put(pulp, "update_hosts", katello.hosts_payload())
    assert [h["uuid"] for h in _native(pulp, client, "hosts/", uuid=names["host"])] == [
        names["host"]
    ]
    _put(pulp, "host_repository_mapping", katello.host_mapping_payload())
    granted = _native(pulp, client, "repositories/", granted_to_host=names["host"])
    assert [repo["name"] for repo in granted] == [names["protected"]]


def test_update_host_repositories_creates_the_host_and_replaces_only_its_grants(
    pulp, katello, client, names
):
    _put(pulp, "repository_list", katello.repository_list_payload())
    _put(pulp, "update_hosts", katello.hosts_payload())
    _put(pulp, "host_repository_mapping", katello.host_mapping_payload())
    payload = {
        "hosts": [
            {names["late_host"]: [{"repository": names["push_repo"], "auth_required": True}]}
        ]
    }
    _put(pulp, "update_host_repositories", payload)

    late = _native(pulp, client, "repositories/", granted_to_host=names["late_host"])
    assert [repo["name"] for repo in late] == [names["push_repo"]]
    untouched = _native(pulp, client, "repositories/", granted_to_host=names["host"])
    assert [repo["name"] for repo in untouched] == [names["protected"]]


def test_json_bodies_are_accepted_too(pulp, katello, client, names):
    response = client.put(
        pulp.api_url + PUSH + "repository_list/", json=katello.repository_list_payload()
    )
    assert response.status_code == 200, response.text
    assert _native(pulp, client, "repositories/", name=names["public"])[0]["auth_required"] is False


def test_bad_body_is_400_and_changes_nothing(pulp, client, names):
    before = _native(pulp, client, "repositories/", name=names["protected"])
    response = put(
        pulp.api_url + PUSH,
        "repository_list",
        "repositories[][repository]=&repositories[][auth_required]=true",
        auth=pulp.admin_auth,
        verify=str(pulp.ca_file),
    )
    assert response.status_code == 400
    assert "blank" in response.text
    assert _native(pulp, client, "repositories/", name=names["protected"]) == before
