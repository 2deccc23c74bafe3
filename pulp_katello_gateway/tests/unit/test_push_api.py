"""The push API end to end through DRF: Katello's exact bodies, JSON, errors, permissions."""

import re

import pytest
from django.conf import settings
from django.test import override_settings

from devtools import rack
from devtools.clients import basic_authorization
from pulp_katello_gateway.app.katello import parsers
from pulp_katello_gateway.app.models import (
    ConsumerHost,
    ForemanUser,
    HostRepositoryGrant,
    KatelloRepository,
    UserRepositoryGrant,
)
from pulp_katello_gateway.tests.unit.katello_api import (
    FORM,
    database_state,
    push_url,
    put_form,
    put_json,
)

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    "repository_list",
    "user_repository_mapping",
    "update_hosts",
    "host_repository_mapping",
    "update_host_repositories",
]


def repositories():
    return dict(KatelloRepository.objects.values_list("name", "auth_required"))


def user_grants():
    return set(UserRepositoryGrant.objects.values_list("foreman_user__login", "repository__name"))


def host_grants():
    return set(HostRepositoryGrant.objects.values_list("host__uuid", "repository__name"))


def hosts():
    return set(ConsumerHost.objects.values_list("uuid", flat=True))


@pytest.fixture
def katello_data(katello_client):
    """A state a few pushes produced: repositories, users and hosts with grants."""
    for login in ("admin", "bob", "carol"):
        ForemanUser.objects.create_for_login(login)
    assert put_json(katello_client, "repository_list", {"repositories": [
        {"repository": "org-prod-busybox", "auth_required": True},
        {"repository": "org-prod-web", "auth_required": True},
        {"repository": "org-lib-public", "auth_required": False},
    ]}).status_code == 200
    assert put_json(katello_client, "user_repository_mapping", {"users": [
        {"admin": [{"repository": "org-prod-busybox", "auth_required": True}]},
        {"carol": [{"repository": "org-prod-web", "auth_required": True}]},
    ]}).status_code == 200
    hosts = {"hosts": [{"uuid": "2f1c"}]}
    assert put_json(katello_client, "update_hosts", hosts).status_code == 200
    assert put_json(katello_client, "host_repository_mapping", {"hosts": [
        {"2f1c": [{"repository": "org-prod-web", "auth_required": True}]},
    ]}).status_code == 200
    return database_state()


# Katello's exact bodies (reference §2.3).
def test_repository_list_form(katello_client):
    response = put_form(
        katello_client,
        "repository_list",
        "repositories[][repository]=org-prod-busybox&repositories[][auth_required]=true"
        "&repositories[][repository]=id%2F1%2F2%2Fcontainer-push-repo"
        "&repositories[][auth_required]=false",
    )
    assert (response.status_code, response.content) == (200, b"")
    assert repositories() == {"org-prod-busybox": True, "id/1/2/container-push-repo": False}


def test_empty_repository_list_removes_everything(katello_client, katello_data):
    assert put_form(katello_client, "repository_list", "repositories").status_code == 200
    assert repositories() == {}
    assert user_grants() == set()
    assert host_grants() == set()
    assert hosts() == {"2f1c"}  # hosts are not repositories


def test_user_mapping_form(katello_client, katello_data):
    response = put_form(
        katello_client,
        "user_repository_mapping",
        "users[][admin][][repository]=org-prod-busybox&users[][admin][][auth_required]=true"
        "&users[][bob][][repository]=org-prod-web&users[][bob][][auth_required]=true"
        "&users[][carol]",
    )
    assert (response.status_code, response.content) == (200, b"")
    # carol's empty list revokes her grant; bob gains his.
    assert user_grants() == {("admin", "org-prod-busybox"), ("bob", "org-prod-web")}


def test_the_push_log_line_says_what_changed_and_where_the_time_went(
    katello_client, katello_data, caplog
):
    with caplog.at_level("INFO", logger="pulp_katello_gateway.app.katello.views"):
        put_form(katello_client, "user_repository_mapping",
                 "users[][bob][][repository]=org-prod-web&users[][bob][][auth_required]=true")
    (line,) = [r.getMessage() for r in caplog.records
               if r.name == "pulp_katello_gateway.app.katello.views"]
    assert "user_repository_mapping" in line and ": 1 listed, 1 added, " in line
    phases = re.findall(r"(read and parsed|validated|written|stage|diff|insert) [\d.]+ s", line)
    assert phases == ["read and parsed", "validated", "written", "stage", "diff", "insert"]


def test_user_mapping_keeps_only_what_can_be_granted(katello_client, katello_data):
    response = put_json(katello_client, "user_repository_mapping", {"users": [
        {"admin": [
            {"repository": "org-prod-busybox", "auth_required": "TRUE"},
            {"repository": "org-prod-web", "auth_required": "False"},  # public for admin
            {"repository": "org-lib-public", "auth_required": True},  # public here
            {"repository": "org-unknown", "auth_required": True},  # not pushed
        ]},
        {"mallory": [{"repository": "org-prod-web", "auth_required": True}]},  # unknown user
    ]})
    assert response.status_code == 200
    assert user_grants() == {("admin", "org-prod-busybox")}
    assert not ForemanUser.objects.filter(login="mallory").exists()


def test_update_hosts_form_skips_entries_without_a_uuid(katello_client, katello_data):
    response = put_form(
        katello_client,
        "update_hosts",
        "hosts[][uuid]=9a0b&hosts[][uuid]&hosts[][uuid]=&hosts[][uuid]=+&hosts[][uuid]=2f1c",
    )
    assert (response.status_code, response.content) == (200, b"")
    assert hosts() == {"9a0b", "2f1c"}
    assert host_grants() == {("2f1c", "org-prod-web")}  # 2f1c was kept, with its grant


def test_update_hosts_json_skips_entries_without_a_uuid(katello_client, katello_data):
    response = put_json(katello_client, "update_hosts", {"hosts": [
        {"uuid": None}, {"uuid": ""}, {"name": "no uuid"}, {"uuid": "9a0b", "name": "x"},
    ]})
    assert response.status_code == 200
    assert hosts() == {"9a0b"}
    assert host_grants() == set()


@pytest.mark.parametrize("body", ["hosts", "hosts[][uuid]"])
def test_update_hosts_with_no_usable_entry_removes_all(katello_client, katello_data, body):
    assert put_form(katello_client, "update_hosts", body).status_code == 200
    assert hosts() == set()
    assert host_grants() == set()


def test_host_mapping_form(katello_client, katello_data):
    response = put_form(
        katello_client,
        "host_repository_mapping",
        "hosts[][2f1c][][repository]=org-prod-busybox&hosts[][2f1c][][auth_required]=true"
        "&hosts[][ffff][][repository]=org-prod-web&hosts[][ffff][][auth_required]=true",
    )
    assert (response.status_code, response.content) == (200, b"")
    assert host_grants() == {("2f1c", "org-prod-busybox")}  # ffff is unknown: ignored
    assert hosts() == {"2f1c"}


def test_update_host_repositories_creates_the_host_and_touches_only_it(
    katello_client, katello_data
):
    response = put_form(
        katello_client,
        "update_host_repositories",
        "hosts[][9a0b][][repository]=org-prod-busybox&hosts[][9a0b][][auth_required]=true",
    )
    assert response.status_code == 200
    assert hosts() == {"2f1c", "9a0b"}
    assert host_grants() == {("2f1c", "org-prod-web"), ("9a0b", "org-prod-busybox")}


def test_get_users_lists_known_logins(katello_client, katello_data):
    response = katello_client.get(push_url("users"))
    assert response.status_code == 200
    assert response.json() == {"users": ["admin", "bob", "carol"]}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_trailing_slash_is_optional(katello_client, endpoint):
    key = "repositories" if endpoint == "repository_list" else (
        "users" if endpoint == "user_repository_mapping" else "hosts"
    )
    assert put_form(katello_client, endpoint + "/", key).status_code == 200
    assert katello_client.get(push_url("users/")).status_code == 200


def test_big_form_beyond_django_upload_limits(katello_client):
    """30 000 entries: 60 000 fields and ~3 MB, past what Django accepts for a form."""
    body = "&".join(
        f"repositories[][repository]=acme-production-content-view-{i:06d}"
        "&repositories[][auth_required]=true"
        for i in range(30_000)
    )
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert body.count("&") + 1 > settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    assert put_form(katello_client, "repository_list", body).status_code == 200
    assert KatelloRepository.objects.count() == 30_000


def test_large_pushes_first_free_what_earlier_pushes_left(katello_client, monkeypatch):
    """A full collection before reading a large body frees the previous push's payload (held by
    reference cycles only); small bodies, such as one host's repositories, skip its cost."""
    collections = []
    monkeypatch.setattr(parsers.gc, "collect", lambda: collections.append(True))
    entries = [{"repository": f"acme-{i:06d}", "auth_required": True} for i in range(20_000)]
    body = rack.encode({"repositories": entries})
    assert len(body) >= parsers.COLLECT_FROM_BYTES
    assert put_form(katello_client, "repository_list", body).status_code == 200
    assert put_json(katello_client, "repository_list", {"repositories": entries}).status_code == 200
    assert collections == [True, True]
    assert put_form(katello_client, "repository_list", rack.encode({"repositories": entries[:1]}))
    assert collections == [True, True]


# Bad input: 400 (or 413/415) with a message, and nothing changes.
@pytest.mark.parametrize(
    "endpoint, body, message",
    [
        ("repository_list", "repositories[][repository]=a%zz", "Invalid %-encoding"),
        ("repository_list", b"repositories[][repository]=\xff", "not UTF-8"),
        ("repository_list", "repositories[]=x&repositories[a]=y", "Expected a hash"),
        ("repository_list", "", "This field is required"),
        ("repository_list", "repository=x", "the body has 'repository' instead"),
        ("repository_list", "repositories=x", "repositories must be a list"),
        ("repository_list", "repositories[]=x", "repositories[0] must be a hash"),
        ("repository_list", "repositories[][repository]=x", "[0][auth_required] is required"),
        (
            "repository_list",
            "repositories[][auth_required]=true",
            "repositories[0][repository] is required",
        ),
        (
            "repository_list",
            "repositories[][repository]=+&repositories[][auth_required]=true",
            "repositories[0][repository] may not be blank",
        ),
        (
            "repository_list",
            "repositories[][repository]&repositories[][auth_required]=true",
            "repositories[0][repository] must be a string",
        ),
        (
            "repository_list",
            f"repositories[][repository]={'a' * 256}&repositories[][auth_required]=true",
            "may not be longer than 255 characters",
        ),
        (
            "repository_list",
            "repositories[][repository]=a%00b&repositories[][auth_required]=true",
            "may not contain control characters",
        ),
        (
            "repository_list",
            "repositories[][repository]=a&repositories[][auth_required]=yes",
            "repositories[0][auth_required] must be true or false",
        ),
        (
            "repository_list",
            "repositories[][repository]=a&repositories[][auth_required]=true"
            "&repositories[][repository]=a&repositories[][auth_required]=false",
            "repositories[1][repository] repeats 'a'",
        ),
        (
            "user_repository_mapping",
            "users[][admin][][repository]=x&users[][admin][][auth_required]=maybe",
            "users[0][admin][0][auth_required] must be true or false",
        ),
        ("user_repository_mapping", "users[][admin]=x", "users[0][admin] must be a list"),
        ("user_repository_mapping", "users[]=admin", "users[0] must be a hash"),
        ("user_repository_mapping", "users[][+]", "may not be blank"),
        ("update_hosts", "hosts[][uuid][x]=1", "hosts[0][uuid] must be a string"),
        (
            "update_hosts",
            "hosts[][uuid]=a&hosts[][uuid]=a",
            "hosts[1][uuid] repeats 'a'",
        ),
        ("host_repository_mapping", "hosts[][2f1c]=x", "hosts[0][2f1c] must be a list"),
        ("update_host_repositories", "hosts=x", "hosts must be a list"),
        (
            "repository_list",
            "repositories[=x",
            "repositories is missing; the body has 'repositories[' instead",
        ),
        ("update_hosts", "host[][uuid]=a", "hosts is missing; the body has 'host' instead"),
    ],
)
def test_bad_form_is_refused_and_changes_nothing(
    katello_client, katello_data, endpoint, body, message
):
    response = put_form(katello_client, endpoint, body)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert database_state() == katello_data


@pytest.mark.parametrize(
    "endpoint, body, message",
    [
        ("repository_list", "{", "JSON parse error"),
        ("repository_list", '{"repositories": NaN}', "not JSON compliant"),
        ("repository_list", "[" * 100_000, "JSON parse error"),
        ("repository_list", "[]", "Expected a dictionary"),
        ("repository_list", '{"repositories": {"repository": "a"}}', "must be a list"),
        (
            "repository_list",
            '{"repositories": [{"repository": 5, "auth_required": true}]}',
            "must be a string",
        ),
        (
            "repository_list",
            '{"repositories": [{"repository": "a", "auth_required": 1}]}',
            "must be true or false",
        ),
        ("user_repository_mapping", '{"users": [{"a": []}, {"a": []}]}', "repeats an earlier"),
        ("update_hosts", '{"hosts": [{"uuid": ["x"]}]}', "must be a string"),
    ],
)
def test_bad_json_is_refused_and_changes_nothing(
    katello_client, katello_data, endpoint, body, message
):
    response = katello_client.put(push_url(endpoint), data=body, content_type="application/json")
    assert response.status_code == 400
    assert message in response.content.decode()
    assert database_state() == katello_data


@override_settings(KATELLO_GATEWAY_PUSH_MAX_BYTES=64)
def test_body_over_the_limit_is_refused(katello_client, katello_data):
    body = "repositories[][repository]=org-a&repositories[][auth_required]=true" * 2
    response = put_form(katello_client, "repository_list", body)
    assert response.status_code == 413
    assert "KATELLO_GATEWAY_PUSH_MAX_BYTES" in response.json()["detail"]
    assert database_state() == katello_data


@override_settings(KATELLO_GATEWAY_PUSH_MAX_ENTRIES=4)
@pytest.mark.parametrize("as_json", [False, True], ids=["form", "json"])
def test_body_with_too_many_entries_is_refused(katello_client, katello_data, as_json):
    """Entries (hashes and arrays) cost memory whatever their size; at most the limit is built."""
    def push(names):
        entries = [{"repository": name, "auth_required": True} for name in names]
        if as_json:
            return put_json(katello_client, "repository_list", {"repositories": entries})
        return put_form(katello_client, "repository_list", rack.encode({"repositories": entries}))

    refused = push(["org-a", "org-b", "org-c"])  # the body's hash, the array and three hashes
    assert refused.status_code == 413
    assert "KATELLO_GATEWAY_PUSH_MAX_ENTRIES (4)" in refused.json()["detail"]
    assert database_state() == katello_data
    assert push(["org-a", "org-b"]).status_code == 200


def test_unknown_content_type_is_refused(katello_client, katello_data):
    response = katello_client.put(
        push_url("repository_list"), data="repositories", content_type="text/plain"
    )
    assert response.status_code == 415
    assert database_state() == katello_data


def test_wrong_method(katello_client):
    assert katello_client.post(push_url("repository_list"), data={}).status_code == 405
    assert katello_client.put(push_url("users"), data={}).status_code == 405


# Who may push.
@pytest.mark.parametrize("endpoint", ["users", *ENDPOINTS])
def test_anonymous_is_asked_to_authenticate(anonymous_client, endpoint):
    call = anonymous_client.get if endpoint == "users" else anonymous_client.put
    response = call(push_url(endpoint))
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")


@pytest.mark.parametrize("endpoint", ["users", *ENDPOINTS])
def test_plain_user_is_forbidden(plain_client, endpoint):
    call = plain_client.get if endpoint == "users" else plain_client.put
    assert call(push_url(endpoint)).status_code == 403


def test_plain_user_cannot_change_anything(plain_client, katello_data):
    assert put_form(plain_client, "repository_list", "repositories").status_code == 403
    assert database_state() == katello_data


@pytest.mark.parametrize("client", ["katello_client", "admin_client"])
def test_katello_role_and_superuser_may_push(request, client):
    client = request.getfixturevalue(client)
    assert put_form(client, "repository_list", "repositories").status_code == 200
    assert client.get(push_url("users")).status_code == 200


def test_katello_role_with_basic_credentials(anonymous_client, katello_user):
    anonymous_client.credentials(
        HTTP_AUTHORIZATION=basic_authorization("katello", "katello-secret"))
    assert put_form(anonymous_client, "repository_list", "repositories").status_code == 200


def test_remote_user_set_by_the_web_server(anonymous_client, katello_user,
                                           remote_user_authentication):
    """The set-up install.md describes for Foreman's client certificate."""

    def put_as(remote_user):
        return anonymous_client.put(
            push_url("repository_list"), "repositories", content_type=FORM,
            HTTP_REMOTE_USER=remote_user,
        )

    assert put_as("katello").status_code == 200
    assert put_as("stranger").status_code == 401
