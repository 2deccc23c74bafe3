"""acl/writes.py: full replaces written as diffs, atomic, serialized by the push lock
(acl/locks.py)."""

import threading
import time

import pytest
from django.db import connection, connections, transaction

from pulp_katello_gateway.app.acl import writes
from pulp_katello_gateway.app.acl.locks import (
    MAX_PRINCIPAL_LOCKS,
    PRINCIPAL_LOCKS,
    PUSH_LOCK,
    PushInProgress,
    lock_for_push,
)
from pulp_katello_gateway.app.models import (
    ConsumerHost,
    ForemanUser,
    HostRepositoryGrant,
    KatelloRepository,
    UserRepositoryGrant,
)
from pulp_katello_gateway.tests.unit.katello_api import make_world


def repository_ids():
    return dict(KatelloRepository.objects.values_list("name", "pk"))


def user_grant_ids():
    return {
        (login, name): pk
        for pk, login, name in UserRepositoryGrant.objects.values_list(
            "pk", "foreman_user__login", "repository__name"
        )
    }


def host_grant_ids():
    return {
        (uuid, name): pk
        for pk, uuid, name in HostRepositoryGrant.objects.values_list(
            "pk", "host__uuid", "repository__name"
        )
    }


def _make_world():
    make_world({"a": True, "b": True, "c": True, "open": False},
               users={"alice": ["a", "b"], "bob": ["b"]},
               hosts={"h1": ["a"], "h2": ["b", "c"]})


@pytest.fixture
def world(db):
    _make_world()


@pytest.fixture
def committed_world(django_db_setup, django_db_blocker):
    """The world committed for real, so that other connections see it; removed afterwards.

    (pytest-django's transactional tests flush the database and re-emit post_migrate, which
    pulpcore's handlers do not support.)
    """
    with django_db_blocker.unblock():
        _make_world()
        try:
            yield
        finally:
            writes.replace_repositories({})
            writes.replace_hosts([])
            ForemanUser.objects.all().delete()


@pytest.mark.django_db
class TestRepositories:
    def test_kept_rows_keep_their_ids(self, world):
        before = repository_ids()
        changes = writes.replace_repositories({"a": True, "b": True, "d": True, "open": False})
        after = repository_ids()
        assert changes == writes.Changes(added=1, removed=1, updated=0)
        assert set(after) == {"a", "b", "d", "open"}
        assert {name: after[name] for name in ("a", "b", "open")} == {
            name: before[name] for name in ("a", "b", "open")
        }

    def test_removed_repository_revokes_its_grants_and_no_other(self, world):
        users, hosts = user_grant_ids(), host_grant_ids()
        writes.replace_repositories({"a": True, "c": True, "open": False})
        assert user_grant_ids() == {("alice", "a"): users["alice", "a"]}
        assert host_grant_ids() == {
            ("h1", "a"): hosts["h1", "a"], ("h2", "c"): hosts["h2", "c"]
        }

    def test_changed_auth_required_is_updated_in_place(self, world):
        before, grants = repository_ids(), user_grant_ids()
        changes = writes.replace_repositories({"a": False, "b": True, "c": True, "open": True})
        assert changes == writes.Changes(added=0, removed=0, updated=2)
        assert repository_ids() == before
        assert dict(KatelloRepository.objects.values_list("name", "auth_required")) == {
            "a": False, "b": True, "c": True, "open": True
        }
        assert user_grant_ids() == grants

    def test_same_push_twice_changes_nothing(self, world):
        before = repository_ids()
        assert writes.replace_repositories(
            {"a": True, "b": True, "c": True, "open": False}
        ) == writes.Changes()
        assert repository_ids() == before


@pytest.mark.django_db
class TestGrants:
    def test_kept_grants_keep_their_ids(self, world):
        before = user_grant_ids()
        changes = writes.replace_user_grants({"alice": ["a", "c"], "bob": ["b"]})
        after = user_grant_ids()
        assert changes == writes.Changes(added=1, removed=1)
        assert set(after) == {("alice", "a"), ("alice", "c"), ("bob", "b")}
        assert after["alice", "a"] == before["alice", "a"]
        assert after["bob", "b"] == before["bob", "b"]

    def test_full_replace_revokes_users_not_listed(self, world):
        writes.replace_user_grants({"bob": ["b"]})
        assert set(user_grant_ids()) == {("bob", "b")}

    def test_unknown_principals_and_repositories_and_public_ones_grant_nothing(self, world):
        changes = writes.replace_user_grants(
            {"alice": ["a", "nope", "open"], "mallory": ["a"]}
        )
        assert set(user_grant_ids()) == {("alice", "a")}
        assert changes == writes.Changes(added=0, removed=2)
        assert not ForemanUser.objects.filter(login="mallory").exists()

    def test_update_user_grants_touches_only_listed_users(self, world):
        bob = user_grant_ids()["bob", "b"]
        writes.update_user_grants({"alice": ["c"], "mallory": ["a"]})
        after = user_grant_ids()
        assert set(after) == {("alice", "c"), ("bob", "b")}
        assert after["bob", "b"] == bob
        assert not ForemanUser.objects.filter(login="mallory").exists()

    def test_host_grants_full_replace(self, world):
        before = host_grant_ids()
        writes.replace_host_grants({"h2": ["c"], "unknown": ["a"]})
        assert host_grant_ids() == {("h2", "c"): before["h2", "c"]}
        assert set(ConsumerHost.objects.values_list("uuid", flat=True)) == {"h1", "h2"}

    def test_update_host_grants_creates_hosts_and_touches_only_listed(self, world):
        before = host_grant_ids()
        changes = writes.update_host_grants({"h3": ["a", "b"], "h2": []})
        assert changes == writes.Changes(added=3, removed=2)  # one host and two grants added
        after = host_grant_ids()
        assert set(after) == {("h1", "a"), ("h3", "a"), ("h3", "b")}
        assert after["h1", "a"] == before["h1", "a"]
        assert set(ConsumerHost.objects.values_list("uuid", flat=True)) == {"h1", "h2", "h3"}


@pytest.mark.django_db
def test_replace_hosts_keeps_known_hosts_and_drops_the_rest(world):
    h1 = ConsumerHost.objects.get(uuid="h1").pk
    grants = host_grant_ids()
    assert writes.replace_hosts(["h1", "h3"]) == writes.Changes(added=1, removed=1)
    assert dict(ConsumerHost.objects.values_list("uuid", "pk"))["h1"] == h1
    assert set(ConsumerHost.objects.values_list("uuid", flat=True)) == {"h1", "h3"}
    assert host_grant_ids() == {("h1", "a"): grants["h1", "a"]}


@pytest.mark.django_db
def test_failing_push_changes_nothing(world, monkeypatch):
    before = (repository_ids(), user_grant_ids(), host_grant_ids())

    def fail():
        raise RuntimeError("database went away")

    monkeypatch.setattr(writes, "sync_private", fail)
    with pytest.raises(RuntimeError):
        writes.replace_repositories({"z": True})
    assert (repository_ids(), user_grant_ids(), host_grant_ids()) == before


@pytest.mark.django_db
def test_names_with_copy_special_characters(world):
    """COPY's text format escapes tabs, newlines and backslashes; names must survive intact."""
    names = {"back\\slash": True, "DOMAIN\\user repo": True, "quote'\"": False, "ünï/cödé": True}
    writes.replace_repositories(names)
    assert dict(KatelloRepository.objects.values_list("name", "auth_required")) == names


def _in_thread(target):
    """Run ``target`` in a thread with its own database connection; returns (thread, errors)."""
    errors = []

    def run():
        try:
            target()
        except Exception as exc:  # reported to the test
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def wait_until_a_push_waits_for_the_lock(timeout=10):
    """Return once another session is queued for the push lock, as PostgreSQL's lock table
    shows it (a handshake: no guessing how long the other thread takes to get there)."""
    _wait_for_a_lock_waiter("classid = %s AND objid = %s", list(PUSH_LOCK), timeout)


def wait_until_a_write_waits_for_a_principal(timeout=10):
    """Return once another session is queued for a principal's lock."""
    _wait_for_a_lock_waiter("classid = %s", [PRINCIPAL_LOCKS], timeout)


def _wait_for_a_lock_waiter(where, params, timeout):
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                f" AND {where}",
                params,
            )
            if cursor.fetchone()[0]:
                return
            assert time.monotonic() < deadline, "nobody waited for the lock"
            time.sleep(0.01)


def _holding(write):
    """Run ``write`` in a thread, in a transaction left open until the returned event is set;
    returns (release event, thread, errors) once the write is done and still uncommitted."""
    written, release = threading.Event(), threading.Event()

    def hold():
        with transaction.atomic():
            write()
            written.set()
            release.wait(10)

    thread, errors = _in_thread(hold)
    assert written.wait(10), errors
    return release, thread, errors


def test_two_logins_of_one_user_refresh_its_grants_in_turn(committed_world):
    """The second of two simultaneous first logins of alice waits for the first one's write
    (milliseconds) instead of being told a capsule sync runs and left without grants."""
    release, first, first_errors = _holding(
        lambda: writes.update_user_grants({"alice": ["c"]}, wait=False))
    second, second_errors = _in_thread(
        lambda: writes.update_user_grants({"ALICE": ["a", "c"]}, wait=False))
    wait_until_a_write_waits_for_a_principal()
    assert set(user_grant_ids()) == {("alice", "a"), ("alice", "b"), ("bob", "b")}
    release.set()
    first.join(10)
    second.join(10)
    assert first_errors == second_errors == []
    assert {name for login, name in user_grant_ids() if login == "alice"} == {"a", "c"}


def test_a_login_refreshes_its_user_while_another_users_refresh_is_open(committed_world):
    release, other, other_errors = _holding(
        lambda: writes.update_user_grants({"bob": ["c"]}, wait=False))
    try:
        writes.update_user_grants({"alice": ["c"]}, wait=False)
        writes.update_host_grants({"h1": ["c"]})
    finally:
        release.set()
        other.join(10)
    assert other_errors == []
    assert set(user_grant_ids()) == {("alice", "c"), ("bob", "c")}
    assert ("h1", "c") in host_grant_ids()


def test_a_capsule_sync_waits_for_a_refresh_and_a_login_skips_while_it_waits(committed_world):
    """A whole-table push waits for an open refresh; a login arriving then is told a push runs
    (it keeps its grants) rather than queue behind the push."""
    release, refresh, refresh_errors = _holding(
        lambda: writes.update_user_grants({"bob": ["c"]}, wait=False))
    push, push_errors = _in_thread(lambda: writes.replace_user_grants({"alice": ["a"]}))
    wait_until_a_push_waits_for_the_lock()
    with pytest.raises(PushInProgress):
        writes.update_user_grants({"alice": ["c"]}, wait=False)
    release.set()
    refresh.join(10)
    push.join(10)
    assert refresh_errors == push_errors == []
    assert set(user_grant_ids()) == {("alice", "a")}


def test_a_refresh_of_many_principals_takes_the_whole_push_lock(committed_world):
    """Past ``MAX_PRINCIPAL_LOCKS`` names a write locks the push (PostgreSQL's lock table is
    bounded): a login's refresh during it is told a push runs."""
    many = {f"host-{number}": ["a"] for number in range(MAX_PRINCIPAL_LOCKS + 1)}
    release, write, errors = _holding(lambda: writes.update_host_grants(many, pushed=True))
    try:
        with pytest.raises(PushInProgress):
            writes.update_user_grants({"alice": ["c"]}, wait=False)
    finally:
        release.set()
        write.join(10)
    assert errors == []
    assert {uuid for uuid, _ in host_grant_ids()} >= set(many)


def test_pushes_wait_for_each_other_and_readers_never_see_a_gap(committed_world):
    """A second push blocks until the first commits; meanwhile readers see the old state."""
    kept = user_grant_ids()["alice", "a"]
    first_holds_lock, release_first = threading.Event(), threading.Event()
    order = []

    def first_push():
        with transaction.atomic():
            writes.replace_user_grants({"alice": ["a", "c"]})  # drops bob's and alice's b
            first_holds_lock.set()
            release_first.wait(10)
            order.append("first committed")

    def second_push():
        first_holds_lock.wait(10)
        writes.replace_user_grants({"alice": ["a"], "bob": ["c"]})
        order.append("second committed")

    first, first_errors = _in_thread(first_push)
    second, second_errors = _in_thread(second_push)
    assert first_holds_lock.wait(10)
    wait_until_a_push_waits_for_the_lock()
    assert order == []
    # A reader during the push sees the complete old state, including the grant kept throughout.
    assert set(user_grant_ids()) == {("alice", "a"), ("alice", "b"), ("bob", "b")}
    release_first.set()
    first.join(10)
    second.join(10)
    assert first_errors == second_errors == []
    assert order == ["first committed", "second committed"]
    after = user_grant_ids()
    assert set(after) == {("alice", "a"), ("bob", "c")}
    assert after["alice", "a"] == kept


def test_push_lock_is_released_by_a_rollback(committed_world):
    with pytest.raises(RuntimeError), transaction.atomic():
        lock_for_push()
        raise RuntimeError("push failed")
    done = threading.Event()
    thread, errors = _in_thread(lambda: (writes.replace_hosts(["h9"]), done.set()))
    thread.join(10)
    assert done.is_set() and errors == []
