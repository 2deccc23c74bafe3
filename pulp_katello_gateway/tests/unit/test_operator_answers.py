"""Answers for operators: the pull record (pulls/), explain/, status/ and their command-line
twins, as an operator or Katello's role sees them."""

import io
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from devtools.clients import NATIVE_API_PATH
from pulp_katello_gateway.app import identities, pull_record
from pulp_katello_gateway.app.models import ConsumerHost, ForemanUser, PullRecord, PushState
from pulp_katello_gateway.tests.unit.katello_api import put_json

pytestmark = pytest.mark.django_db

NATIVE = NATIVE_API_PATH
DIGEST = "sha256:" + "ab" * 32


@pytest.fixture
def people(katello_client):
    """Katello pushed kat/a (protected, granted to alice and host h1) and kat/pub (public)."""
    put_json(katello_client, "repository_list", {"repositories": [
        {"repository": "kat/a", "auth_required": True},
        {"repository": "kat/pub", "auth_required": False},
    ]})
    alice = ForemanUser.objects.create_for_login("alice")
    put_json(katello_client, "user_repository_mapping", {"users": [
        {"alice": [{"repository": "kat/a", "auth_required": True}]}]})
    put_json(katello_client, "update_hosts", {"hosts": [{"uuid": "h1"}]})
    put_json(katello_client, "host_repository_mapping", {"hosts": [
        {"h1": [{"repository": "kat/a", "auth_required": True}]}]})
    host = ConsumerHost.objects.get(uuid="h1")
    return {
        "alice": identities.Identity.of_foreman_user(alice),
        "host": identities.Identity.of_host(host.pk, host.uuid),
    }


# -- the pull record -------------------------------------------------------------------------


def test_one_row_per_identity_repository_and_digest(people):
    pull_record.record(people["alice"], "kat/a", "latest", DIGEST, "192.0.2.1")
    pull_record.record(people["alice"], "kat/a", DIGEST, DIGEST, "192.0.2.2")
    pull_record.record(people["host"], "kat/a", "v1", DIGEST, "192.0.2.3")
    pull_record.record(identities.ANONYMOUS, "kat/pub", "latest", DIGEST, "192.0.2.4")
    rows = {
        (r.kind, r.login, r.host_uuid, r.repository): (r.count, r.reference, r.client_address)
        for r in PullRecord.objects.all()
    }
    assert rows == {
        ("foreman", "alice", "", "kat/a"): (2, DIGEST, "192.0.2.2"),
        ("host", "", "h1", "kat/a"): (1, "v1", "192.0.2.3"),
        ("anonymous", "", "", "kat/pub"): (1, "latest", "192.0.2.4"),
    }


def test_a_pull_is_one_statement(people, django_assert_num_queries):
    """The identity carries its name: recording looks nobody up, and a pull, first or repeated,
    is recorded and prunes in one statement."""
    for who in ("alice", "host"):
        for _ in range(2):
            with django_assert_num_queries(1):
                pull_record.record(people[who], "kat/a", "latest", DIGEST, "192.0.2.1")
    assert sorted(PullRecord.objects.values_list("kind", "count")) == [("foreman", 2),
                                                                        ("host", 2)]


def test_a_local_pulp_user_is_recorded_by_username(people):
    root = get_user_model().objects.create_user("deployer")
    pull_record.record(identities.Identity(user=root), "kat/a", "latest", DIGEST, "192.0.2.1")
    assert PullRecord.objects.get().login == "deployer"


def _age(days, **which):
    then = timezone.now() - timedelta(days=days)
    PullRecord.objects.filter(**which).update(first_pulled=then, last_pulled=then)


@pytest.mark.parametrize("pruner", ["host", "alice"])
def test_expired_rows_are_hidden_and_pruned_by_pulls(people, settings, pruner):
    """Any recorded pull prunes, a repeated one as much as a new row."""
    settings.KATELLO_GATEWAY_PULL_RECORD_RETENTION_DAYS = 90
    pull_record.record(people["alice"], "kat/a", "latest", DIGEST, "192.0.2.1")
    pull_record.record(people["host"], "kat/a", "latest", DIGEST, "192.0.2.1")
    _age(91, kind="host" if pruner == "alice" else "foreman")
    assert pull_record.current().count() == 1
    pull_record.record(people[pruner], "kat/a", "latest", DIGEST, "192.0.2.1")
    assert list(PullRecord.objects.values_list("kind", "count")) == [
        ("foreman" if pruner == "alice" else "host", 2)]


def test_a_pull_renews_its_own_expired_row(people, settings):
    """The victim's side of pruning: pulling again after the retention period keeps the row
    (its first pull and its count) and shows it again, instead of pruning it."""
    settings.KATELLO_GATEWAY_PULL_RECORD_RETENTION_DAYS = 90
    pull_record.record(people["alice"], "kat/a", "latest", DIGEST, "192.0.2.1")
    _age(91)
    first = PullRecord.objects.get().first_pulled
    pull_record.record(people["alice"], "kat/a", "v2", DIGEST, "192.0.2.9")
    row = pull_record.current().get()
    assert (row.login, row.count, row.first_pulled, row.reference, row.client_address) == (
        "alice", 2, first, "v2", "192.0.2.9")


def test_pulls_endpoint_filters(katello_client, people):
    pull_record.record(people["alice"], "kat/a", "latest", DIGEST, "192.0.2.1")
    pull_record.record(people["host"], "kat/a", "latest", DIGEST, "192.0.2.1")
    pull_record.record(identities.ANONYMOUS, "kat/pub", "latest", "sha256:" + "cd" * 32,
                       "192.0.2.1")

    def who(**params):
        response = katello_client.get(NATIVE + "pulls/", params)
        assert response.status_code == 200, response.content
        return sorted((r["kind"], r["login"] or r["host_uuid"]) for r in response.json()["results"])

    assert who(digest=DIGEST) == [("foreman", "alice"), ("host", "h1")]
    assert who(login="alice") == [("foreman", "alice")]
    assert who(host="h1") == [("host", "h1")]
    assert who(repository="kat/pub") == [("anonymous", "")]
    assert who(since=(timezone.now() + timedelta(hours=1)).isoformat()) == []
    assert who(until=(timezone.now() - timedelta(hours=1)).isoformat()) == []
    entry = katello_client.get(NATIVE + "pulls/", {"login": "alice"}).json()["results"][0]
    assert {"pulp_href", "repository", "reference", "digest", "first_pulled", "last_pulled",
            "count", "client_address"} <= set(entry)


def test_pulls_need_the_role(plain_client, anonymous_client):
    assert plain_client.get(NATIVE + "pulls/").status_code == 403
    assert anonymous_client.get(NATIVE + "pulls/").status_code == 401


def test_pulls_command(people):
    pull_record.record(people["alice"], "kat/a", "latest", DIGEST, "192.0.2.1")
    out = io.StringIO()
    call_command("katello-gateway-pulls", "--digest", DIGEST, stdout=out)
    assert f"foreman alice kat/a:latest {DIGEST} from 192.0.2.1: 1 pulls" in out.getvalue()
    out = io.StringIO()
    call_command("katello-gateway-pulls", "--host", "nobody", stdout=out)
    assert out.getvalue().strip() == "No pulls recorded for this query."


# -- explain/ --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, actions, rule",
    [
        ({"login": "alice", "repository": "kat/a"}, ["pull"], "grant from Katello"),
        ({"host": "h1", "repository": "kat/a"}, ["pull"], "grant from Katello"),
        ({"repository": "kat/a"}, [], "anonymous clients get nothing"),
        ({"repository": "kat/pub"}, ["pull"], "public repository"),
        ({"login": "alice", "repository": "kat/a", "action": "push"}, [], "may only pull"),
        ({"login": "alice", "repository": "kat/unknown"}, [], "unknown repository"),
    ],
)
def test_explain_answers_as_the_token_endpoint_decides(katello_client, people, params, actions,
                                                       rule):
    response = katello_client.get(NATIVE + "explain/", params)
    assert response.status_code == 200, response.content
    assert response.json()["actions"] == actions
    assert rule in response.json()["rule"]


@pytest.mark.parametrize(
    "params, status",
    [
        ({"login": "nobody", "repository": "kat/a"}, 404),
        ({"host": "nowhere", "repository": "kat/a"}, 404),
        ({"login": "alice", "host": "h1", "repository": "kat/a"}, 400),
        ({"login": "alice"}, 400),
        ({"repository": "kat/a", "action": "delete"}, 400),
        ({"repository": "a\x00b"}, 400),
    ],
)
def test_explain_refuses_what_it_cannot_answer(katello_client, people, params, status):
    assert katello_client.get(NATIVE + "explain/", params).status_code == status


def test_explain_needs_the_role(plain_client):
    assert plain_client.get(NATIVE + "explain/", {"repository": "kat/a"}).status_code == 403


# -- status/ ---------------------------------------------------------------------------------


def test_status_follows_pushes(katello_client, people):
    before = katello_client.get(NATIVE + "status/").json()
    repositories = before["endpoints"]["repository_list"]
    assert repositories["count"] == 2 and repositories["last_push_entries"] == 2
    assert before["stale"] is False
    assert before["endpoints"]["update_host_repositories"]["last_push"] is None
    put_json(katello_client, "repository_list", {"repositories": [
        {"repository": "kat/a", "auth_required": True}]})
    after = katello_client.get(NATIVE + "status/").json()["endpoints"]["repository_list"]
    assert after["count"] == 1 and after["last_push_entries"] == 1
    assert after["fingerprint"] != repositories["fingerprint"]
    assert after["last_push"] > repositories["last_push"]


def test_the_fingerprint_depends_on_the_data_only(katello_client, people):
    first = katello_client.get(NATIVE + "status/").json()["endpoints"]
    put_json(katello_client, "update_hosts", {"hosts": [{"uuid": "h1"}]})  # the same again
    again = katello_client.get(NATIVE + "status/").json()["endpoints"]
    assert {e: v["fingerprint"] for e, v in again.items()} == {
        e: v["fingerprint"] for e, v in first.items()
    }


def test_status_is_stale_without_a_recent_push(katello_client, people):
    with override_settings(KATELLO_GATEWAY_PUSH_MAX_AGE=1):
        PushState.objects.update(pushed_at=timezone.now() - timedelta(seconds=5))
        assert katello_client.get(NATIVE + "status/").json()["stale"] is True


def test_status_command_shows_the_acl_state(people):
    out = io.StringIO()
    call_command("katello-gateway-status", stdout=out)
    assert "repository_list:" in out.getvalue() and "2 rows, sha256:" in out.getvalue()
