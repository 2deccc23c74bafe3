"""Import of the Ruby ``smart_proxy_container_gateway``'s database, for a switch without a gap.

Katello pushes its repositories, hosts and grants at every capsule sync, which may be hours
away; until then a freshly installed plugin would know nobody. The Ruby gateway's PostgreSQL
database holds what it enforced last (Sequel migrations 001-005): ``repositories(id, name,
auth_required)``, ``users(id, name)``, ``repositories_users(repository_id, user_id)``,
``hosts(id, uuid)``, ``hosts_repositories(host_id, repository_id)``. Its
``authentication_tokens`` are not imported: they are checksums of Katello registry tokens, which
this plugin never accepts as passwords; users log in again with their Foreman credentials.

The import **replaces** repositories, hosts and grants with the Ruby gateway's, exactly as a
Katello push of that state would (through ``acl/writes.py``: differences only, one
transaction, rows that stay are never touched), and **adds** its users as Foreman users (never
removing any, never adopting a local Pulp user). Running it twice changes nothing the second
time. A dry run does the same work in a transaction that is rolled back, so its counts are the
real ones.
"""

from dataclasses import dataclass, field

import psycopg
from django.db import transaction
from psycopg.conninfo import conninfo_to_dict

from .acl import writes
from .models import (
    ConsumerHost,
    ForemanUser,
    HostRepositoryGrant,
    KatelloRepository,
    ReservedNameTaken,
    UserRepositoryGrant,
)
from .names import fold_login, login_problem, name_problem

SCHEMA = {
    "repositories": {"id", "name", "auth_required"},
    "users": {"id", "name"},
    "repositories_users": {"repository_id", "user_id"},
    "hosts": {"id", "uuid"},
    "hosts_repositories": {"host_id", "repository_id"},
}
CONNECT_TIMEOUT = 10


class GatewayDatabaseError(Exception):
    """The Ruby gateway's database cannot be read; the message says why (never a password)."""


@dataclass
class Snapshot:
    """What the Ruby gateway enforced, read in one consistent transaction."""

    repositories: dict = field(default_factory=dict)  # name -> auth_required
    users: set = field(default_factory=set)
    user_grants: dict = field(default_factory=dict)  # login -> [repository name]
    hosts: set = field(default_factory=set)
    host_grants: dict = field(default_factory=dict)  # uuid -> [repository name]
    notes: list = field(default_factory=list)  # rows left out, and why


@dataclass(frozen=True)
class Outcome:
    """One kind of row: how many the Ruby gateway has, what changed here, how many are here."""

    label: str
    source: int
    changes: writes.Changes
    total: int


def describe(url):
    """``user@host:port/dbname`` of a connection URL or string, without its password."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        raise GatewayDatabaseError(
            "not a PostgreSQL connection URL (postgres://user:password@host:port/dbname)"
        ) from None
    host = parts.get("host") or "local socket"
    port = f":{parts['port']}" if parts.get("port") else ""
    user = f"{parts['user']}@" if parts.get("user") else ""
    return f"{user}{host}{port}/{parts.get('dbname', '')}"


def read(url):
    """The Snapshot of the Ruby gateway database at ``url``; GatewayDatabaseError if unusable."""
    where = describe(url)
    try:
        connection = psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT)
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GatewayDatabaseError(f"cannot connect to {where}: {reason}") from None
    with connection:
        # One snapshot of all tables, even while the Ruby gateway keeps writing.
        connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        connection.read_only = True
        try:
            _check_schema(connection, where)
            return _snapshot(connection)
        except psycopg.Error as exc:
            raise GatewayDatabaseError(f"cannot read {where}: {exc}".strip()) from None


def _check_schema(connection, where):
    found = {}
    for table, column in connection.execute(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name = ANY(%s)",
        [list(SCHEMA)],
    ):
        found.setdefault(table, set()).add(column)
    missing = [
        f"{table}({', '.join(sorted(columns - found.get(table, set())))})"
        if table in found else table
        for table, columns in SCHEMA.items()
        if columns - found.get(table, set())
    ]
    if missing:
        raise GatewayDatabaseError(
            f"{where} is not a container gateway database of a known version: missing "
            f"{', '.join(missing)} (expected the schema of smart_proxy_container_gateway's "
            "migrations 001-005; upgrade the Ruby gateway first if it is older)"
        )


def _snapshot(connection):
    snapshot = Snapshot()
    invalid = 0
    for name, auth_required in connection.execute("SELECT name, auth_required FROM repositories"):
        if name_problem(name):
            invalid += 1
            continue
        # Without a unique index the Ruby table may hold a name twice: fail closed.
        snapshot.repositories[name] = snapshot.repositories.get(name, False) or auth_required
    for (login,) in connection.execute("SELECT DISTINCT name FROM users"):
        if login_problem(login):
            invalid += 1
        else:
            snapshot.users.add(login)
    for (uuid,) in connection.execute("SELECT DISTINCT uuid FROM hosts"):
        if name_problem(uuid):
            invalid += 1  # blank uuids, which the Ruby gateway also skips
        else:
            snapshot.hosts.add(uuid)
    public = {name for name, auth_required in snapshot.repositories.items() if not auth_required}
    not_needed = 0
    for grants, principals, query in (
        (snapshot.user_grants, snapshot.users,
         "SELECT DISTINCT u.name, r.name FROM repositories_users g"
         " JOIN users u ON u.id = g.user_id JOIN repositories r ON r.id = g.repository_id"),
        (snapshot.host_grants, snapshot.hosts,
         "SELECT DISTINCT h.uuid, r.name FROM hosts_repositories g"
         " JOIN hosts h ON h.id = g.host_id JOIN repositories r ON r.id = g.repository_id"),
    ):
        for principal, name in connection.execute(query):
            if principal not in principals or name not in snapshot.repositories:
                continue  # counted above as invalid
            if name in public:
                not_needed += 1
                continue
            grants.setdefault(principal, []).append(name)
    if invalid:
        snapshot.notes.append(
            f"{invalid} row(s) left out, with their grants: a repository name, login or host "
            "uuid that is blank, too long or has control characters"
        )
    if not_needed:
        snapshot.notes.append(
            f"{not_needed} grant(s) to public repositories left out (anyone may pull those)"
        )
    return snapshot


def _add_users(logins):
    """Create the Foreman users not known yet; returns (created, refused logins)."""
    folded = {fold_login(login) for login in logins}
    known = set(ForemanUser.objects.filter(login__in=folded).values_list("login", flat=True))
    created, refused = 0, []
    for login in sorted(folded - known):
        try:
            ForemanUser.objects.create_for_login(login)
            created += 1
        except ReservedNameTaken:  # its reserved Pulp username belongs to a local Pulp user
            refused.append(login)
    return created, refused


def import_snapshot(snapshot, *, dry_run=False):
    """Make this plugin enforce ``snapshot``; returns ``(outcomes, notes)``.

    Everything happens in one transaction: a failure leaves the plugin's data as it was, and a
    dry run rolls back after counting.
    """
    notes = list(snapshot.notes)
    with transaction.atomic():
        repositories = writes.replace_repositories(snapshot.repositories)
        created, refused = _add_users(snapshot.users)
        user_grants = writes.replace_user_grants(snapshot.user_grants)
        hosts = writes.replace_hosts(snapshot.hosts)
        host_grants = writes.replace_host_grants(snapshot.host_grants)

        def source(grants):
            return sum(len(names) for names in grants.values())

        outcomes = [
            Outcome("repositories", len(snapshot.repositories), repositories,
                    KatelloRepository.objects.count()),
            Outcome("Foreman users", len(snapshot.users), writes.Changes(added=created),
                    ForemanUser.objects.count()),
            Outcome("user grants", source(snapshot.user_grants), user_grants,
                    UserRepositoryGrant.objects.count()),
            Outcome("hosts", len(snapshot.hosts), hosts, ConsumerHost.objects.count()),
            Outcome("host grants", source(snapshot.host_grants), host_grants,
                    HostRepositoryGrant.objects.count()),
        ]
        if dry_run:
            transaction.set_rollback(True)
    if refused:
        notes.append(
            f"{len(refused)} logins not imported because their Pulp username is taken by a "
            f"user that is not a Foreman user: {', '.join(refused[:10])}"
            + (" ..." if len(refused) > 10 else "")
        )
    return outcomes, notes
