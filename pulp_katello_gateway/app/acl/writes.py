"""Writes Katello's full-replace pushes as diffs, so access never lapses.

Katello replaces whole tables on every capsule sync. The Ruby gateway deleted everything and
inserted it again, which revoked every grant until the next PUT landed (and for good when that
PUT failed). Here each write runs in one transaction that

- holds the push lock (``locks``): whole-table writers run one at a time, writers of a few
  principals take turns per principal, and none can deadlock;
- loads the wanted rows into a temporary table with COPY;
- deletes only rows that are gone and inserts only rows that are new, with set-based SQL.

A row wanted before and after a push is never touched (it keeps its id), readers see the old or
the new state and nothing in between, and a failing push changes nothing. As in the Ruby
gateway, grants naming an unknown user or host, an unknown repository or one that needs no
authentication are dropped. Django emulates ``on_delete=CASCADE`` in Python, so the raw SQL here
deletes dependent grants itself.

Logins are matched folded (``names.fold_login``), as Foreman matches them. A principal an admin
revoked (``revocations``) gets no grants and is not created again, except by Katello's own push
naming it, which ends the revocation in the same transaction.
"""

import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import connection, transaction

from pulp_katello_gateway.app.acl.locks import lock_for_push, lock_principals
from pulp_katello_gateway.app.acl.private_flag import sync_private
from pulp_katello_gateway.app.models import (
    CachedLogin,
    ConsumerHost,
    ForemanUser,
    HostRepositoryGrant,
    KatelloRepository,
    Revocation,
    UserRepositoryGrant,
)
from pulp_katello_gateway.app.names import fold_login


@dataclass(frozen=True)
class Changes:
    """What a write did: rows inserted, deleted, and updated in place; for grants also where its
    time went (``seconds``: staging the pushed rows by COPY, finding the difference and deleting
    what is gone, inserting what is new), for the push's log line."""

    added: int = 0
    removed: int = 0
    updated: int = 0
    seconds: tuple = field(default=(), compare=False)

    def __add__(self, other):
        return Changes(
            self.added + other.added, self.removed + other.removed, self.updated + other.updated,
            self.seconds + other.seconds,
        )


@dataclass(frozen=True)
class Grants:
    """Where the grants of one kind of principal (Foreman user or host) live, in SQL names."""

    table: str
    principal_column: str
    principals: str
    principal_key: str
    revocation_kind: str

    @classmethod
    def of(cls, model, revocation_kind):
        """The tables and columns of grant model ``model`` (a ``models.RepositoryGrant``)."""
        principal = model._meta.get_field(model.PRINCIPAL)
        principals = principal.related_model
        return cls(model._meta.db_table, principal.column, principals._meta.db_table,
                   principals.NATURAL_KEY, revocation_kind)


# For the length of a whole-table push: the sorts and hashes of a million grants (about 40 MB
# each) fit, instead of spilling to temporary files.
_WORK_MEM = "128MB"
REPOSITORIES = KatelloRepository._meta.db_table
_HOSTS = ConsumerHost._meta.db_table
_USERS = ForemanUser._meta.db_table
_CACHED_LOGINS = CachedLogin._meta.db_table
_REVOCATIONS = Revocation._meta.db_table
USER_GRANTS = Grants.of(UserRepositoryGrant, Revocation.USER)
HOST_GRANTS = Grants.of(HostRepositoryGrant, Revocation.HOST)


@contextmanager
def _push(principals=None, wait=True):
    """One transaction holding the push lock, with a cursor.

    A write of whole tables (no ``principals``) holds the lock exclusively, with nested loops
    off while it lasts: statistics lag right after a big push, and a planner that believes a
    table is empty may pick a nested loop over a million rows on each side (observed: a push
    that never finished). Hash and merge joins cost the same whatever the estimates, and get
    ``_WORK_MEM`` to sort and hash a million grants in memory rather than in files.

    A write of ``principals`` (``(revocation kind, names)``) holds it shared, with theirs
    (``locks.lock_principals``).
    """
    with transaction.atomic():
        if principals is None:
            lock_for_push(wait)
        else:
            lock_principals(*principals, wait=wait)
        with connection.cursor() as cursor:
            if principals is None:
                cursor.execute(
                    "SELECT current_setting('enable_nestloop'), current_setting('work_mem')")
                previous = cursor.fetchone()
                cursor.execute("SELECT set_config('enable_nestloop', 'off', true),"
                               " set_config('work_mem', %s, true)", [_WORK_MEM])
            yield cursor
            if principals is None:  # on an exception the rollback restores them
                cursor.execute("SELECT set_config('enable_nestloop', %s, true),"
                               " set_config('work_mem', %s, true)", list(previous))


@contextmanager
def _staged(cursor, table, columns, rows):
    """Temporary ``table`` filled with ``rows`` by COPY, for the duration of the block."""
    cursor.execute(
        f"CREATE TEMPORARY TABLE {table} ({', '.join(f'{n} {t}' for n, t in columns)})"
        " ON COMMIT DROP"
    )
    with cursor.copy(f"COPY {table} ({', '.join(n for n, _ in columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    cursor.execute(f"ANALYZE {table}")  # temp tables get no autovacuum statistics
    yield
    # Explicit, because the transaction may be nested in a longer one (tests, callers).
    cursor.execute(f"DROP TABLE {table}")


def replace_repositories(repositories):
    """Make the repositories exactly ``repositories`` ({name: auth_required}).

    Removed repositories take their grants with them. A changed ``auth_required`` is updated in
    place and grants survive it (they do not matter while a repository is public; Katello's
    mapping pushes that follow drop them). Distributions follow through ``private``.
    """
    new_id = KatelloRepository._meta.pk.get_default
    rows = ((name, flag, new_id()) for name, flag in repositories.items())
    columns = (("name", "text"), ("auth_required", "boolean"), ("pulp_id", "uuid"))
    with _push() as cursor, _staged(cursor, "kg_pushed_repository", columns, rows):
        gone = (
            f"SELECT r.pulp_id FROM {REPOSITORIES} r WHERE NOT EXISTS"
            " (SELECT FROM kg_pushed_repository p WHERE p.name = r.name)"
        )
        for grants in (USER_GRANTS, HOST_GRANTS):
            cursor.execute(f"DELETE FROM {grants.table} WHERE repository_id IN ({gone})")
        cursor.execute(f"DELETE FROM {REPOSITORIES} WHERE pulp_id IN ({gone})")
        removed = cursor.rowcount
        cursor.execute(
            f"UPDATE {REPOSITORIES} r SET auth_required = p.auth_required,"
            " pulp_last_updated = now() FROM kg_pushed_repository p"
            " WHERE r.name = p.name AND r.auth_required <> p.auth_required"
        )
        updated = cursor.rowcount
        cursor.execute(
            f"INSERT INTO {REPOSITORIES}"
            " (pulp_id, pulp_created, pulp_last_updated, name, auth_required)"
            " SELECT p.pulp_id, now(), now(), p.name, p.auth_required"
            " FROM kg_pushed_repository p"
            f" WHERE NOT EXISTS (SELECT FROM {REPOSITORIES} r WHERE r.name = p.name)"
        )
        added = cursor.rowcount
        sync_private()
    return Changes(added, removed, updated)


def replace_hosts(uuids):
    """Make the hosts exactly ``uuids`` (Katello's push: it ends their revocations); removed
    hosts take their grants with them."""
    with _push() as cursor, _staged_hosts(cursor, uuids):
        _end_revocations(cursor, Revocation.HOST, "SELECT uuid FROM kg_pushed_host")
        gone = (
            f"SELECT h.pulp_id FROM {_HOSTS} h WHERE NOT EXISTS"
            " (SELECT FROM kg_pushed_host p WHERE p.uuid = h.uuid)"
        )
        cursor.execute(f"DELETE FROM {HOST_GRANTS.table} WHERE host_id IN ({gone})")
        cursor.execute(f"DELETE FROM {_HOSTS} WHERE pulp_id IN ({gone})")
        removed = cursor.rowcount
        added = _add_missing_hosts(cursor)
    return Changes(added, removed)


def replace_user_grants(grants):
    """Make all user grants exactly ``grants`` ({login: [repository name, …]}): Katello's push,
    which ends the revocations of the logins it names."""
    grants = _folded(grants)
    with _push() as cursor:
        _end_revocations(cursor, Revocation.USER, "SELECT unnest(%s::text[])", [list(grants)])
        changes = _replace_grants(cursor, USER_GRANTS, grants, everyone=True)
        _mark_users_refreshed(cursor, "TRUE")
        return changes


def replace_host_grants(grants):
    """Make all host grants exactly ``grants`` ({uuid: [repository name, …]}): every host's
    grants are Katello's as of this push."""
    with _push() as cursor:
        changes = _replace_grants(cursor, HOST_GRANTS, grants, everyone=True)
        _mark_refreshed(cursor, "TRUE")
        return changes


def update_user_grants(grants, wait=True):
    """Replace the grants of the listed users only ({login: [repository name, …]}).

    For refreshing one user from Katello's catalog; unknown logins are ignored, not created.
    ``wait=False`` raises ``acl.locks.PushInProgress`` rather than wait for a running push (it
    waits for another write of these users only).
    """
    grants = _folded(grants)
    with _push((Revocation.USER, grants), wait=wait) as cursor:
        changes = _replace_grants(cursor, USER_GRANTS, grants, everyone=False)
        _mark_users_refreshed(cursor, "login = ANY(%s)", [list(grants)])
        return changes


def update_host_grants(grants, pushed=False):
    """Replace the grants of the listed hosts only, creating hosts not known yet.

    ``pushed``: Katello itself names these hosts (``update_host_repositories``), which ends their
    revocations; lookups and refreshes leave revoked hosts alone. Either way their grants are
    Katello's as of this write.
    """
    with _push((Revocation.HOST, grants)) as cursor:
        with _staged_hosts(cursor, grants):
            if pushed:
                _end_revocations(cursor, Revocation.HOST, "SELECT uuid FROM kg_pushed_host")
            added = _add_missing_hosts(cursor)
            _mark_refreshed(cursor, "uuid IN (SELECT uuid FROM kg_pushed_host)")
        return Changes(added=added) + _replace_grants(cursor, HOST_GRANTS, grants, everyone=False)


def _mark_refreshed(cursor, hosts_sql):
    """The grants of the hosts ``hosts_sql`` selects are Katello's as of this transaction (a
    push, a lookup or a refresh): their refresh interval starts again, a refresh asked for is
    done. In the write's own transaction, so the mark and the grants commit or roll back
    together."""
    cursor.execute(
        f"UPDATE {_HOSTS} SET grants_refreshed_at = now(), refresh_requested_at = NULL"
        f" WHERE {hosts_sql}"
    )


def _mark_users_refreshed(cursor, users_sql, params=()):
    """The grants of the Foreman users ``users_sql`` selects are Katello's as of this
    transaction: their cached logins have brought them (``CachedLogin.grants_loaded``). In the
    write's own transaction, so that a login's cache hit never sees the mark without the
    grants."""
    cursor.execute(
        f"UPDATE {_CACHED_LOGINS} SET grants_loaded = TRUE WHERE NOT grants_loaded"
        f" AND foreman_user_id IN (SELECT pulp_id FROM {_USERS} WHERE {users_sql})",
        params,
    )


def _folded(grants):
    """``grants`` keyed by folded login; spellings of one login share their names."""
    folded = {}
    for login, names in grants.items():
        folded.setdefault(fold_login(login), []).extend(names)
    return folded


def _end_revocations(cursor, kind, names_sql, params=()):
    cursor.execute(
        f"DELETE FROM {_REVOCATIONS} WHERE kind = %s AND name IN ({names_sql})",
        [kind, *params],
    )


@contextmanager
def _staged_hosts(cursor, uuids):
    new_id = ConsumerHost._meta.pk.get_default
    rows = ((uuid, new_id()) for uuid in uuids)
    with _staged(cursor, "kg_pushed_host", (("uuid", "text"), ("pulp_id", "uuid")), rows):
        yield


def _add_missing_hosts(cursor):
    cursor.execute(
        f"INSERT INTO {_HOSTS} (pulp_id, pulp_created, pulp_last_updated, uuid)"
        " SELECT p.pulp_id, now(), now(), p.uuid FROM kg_pushed_host p"
        f" WHERE NOT EXISTS (SELECT FROM {_HOSTS} h WHERE h.uuid = p.uuid)"
        f" AND NOT EXISTS (SELECT FROM {_REVOCATIONS} r WHERE r.kind = %s AND r.name = p.uuid)"
        " ON CONFLICT (uuid) DO NOTHING",
        [Revocation.HOST],
    )
    return cursor.rowcount


def _replace_grants(cursor, kind, grants, everyone):
    """Make the grants of ``kind`` equal ``grants``: for every principal, or the listed ones.

    The insert needs no ``ON CONFLICT``: writers of a principal's grants take turns (``locks``)
    and ``NOT EXISTS`` leaves out the grants already there; PostgreSQL's speculative insertion
    would cost a third of a full push's insert.
    """
    rows = ((principal, name) for principal, names in grants.items() for name in names)
    columns = (("principal", "text"), ("repository", "text"))
    started = time.monotonic()
    with _staged(cursor, "kg_pushed_grant", columns, rows):
        staged = time.monotonic()
        cursor.execute(
            "CREATE TEMPORARY TABLE kg_grant ON COMMIT DROP AS"
            " SELECT principal.pulp_id AS principal_id, repository.pulp_id AS repository_id"
            " FROM kg_pushed_grant pushed"
            f" JOIN {kind.principals} principal"
            f" ON principal.{kind.principal_key} = pushed.principal"
            f" JOIN {REPOSITORIES} repository ON repository.name = pushed.repository"
            " AND repository.auth_required"
            f" WHERE NOT EXISTS (SELECT FROM {_REVOCATIONS} r"
            " WHERE r.kind = %s AND r.name = pushed.principal)",
            [kind.revocation_kind],
        )
    cursor.execute("ANALYZE kg_grant")
    scope, params = "", []
    if not everyone:
        scope = (
            f" AND {kind.principal_column} IN (SELECT pulp_id FROM {kind.principals}"
            f" WHERE {kind.principal_key} = ANY(%s))"
        )
        params = [list(grants)]
    cursor.execute(
        f"DELETE FROM {kind.table} g WHERE NOT EXISTS (SELECT FROM kg_grant n"
        f" WHERE n.principal_id = g.{kind.principal_column} AND n.repository_id = g.repository_id)"
        + scope,
        params,
    )
    removed = cursor.rowcount
    diffed = time.monotonic()
    cursor.execute(
        f"INSERT INTO {kind.table} ({kind.principal_column}, repository_id)"
        " SELECT n.principal_id, n.repository_id FROM kg_grant n"
        f" WHERE NOT EXISTS (SELECT FROM {kind.table} g"
        f" WHERE g.{kind.principal_column} = n.principal_id AND g.repository_id = n.repository_id)"
        " ORDER BY 1, 2"
    )
    added = cursor.rowcount
    inserted = time.monotonic()
    cursor.execute("DROP TABLE kg_grant")
    return Changes(added, removed, seconds=(
        ("stage", staged - started), ("diff", diffed - staged), ("insert", inserted - diffed)))
