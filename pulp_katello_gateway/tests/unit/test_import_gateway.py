"""katello-gateway-import: the Ruby gateway's database, created here with its Sequel schema.

The Ruby gateway's database lives next to the test database on the same PostgreSQL server,
with the tables its Sequel migrations 001-005 leave on PostgreSQL.
"""

import io
import uuid

import psycopg
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from devtools.net import free_port
from pulp_katello_gateway.app.access import permitted_actions
from pulp_katello_gateway.app.identities import Identity
from pulp_katello_gateway.app.models import (
    ConsumerHost,
    ForemanUser,
    HostRepositoryGrant,
    KatelloRepository,
    UserRepositoryGrant,
)

pytestmark = pytest.mark.django_db

SEQUEL_SCHEMA = """
CREATE TABLE schema_info (version integer DEFAULT 0 NOT NULL);
INSERT INTO schema_info VALUES (5);
CREATE TABLE repositories (
    id serial PRIMARY KEY, name varchar(255) NOT NULL, auth_required boolean NOT NULL);
CREATE TABLE users (id serial PRIMARY KEY, name varchar(255) NOT NULL);
CREATE TABLE authentication_tokens (
    id serial PRIMARY KEY, token_checksum varchar(255) NOT NULL,
    expire_at timestamp NOT NULL, user_id integer REFERENCES users);
CREATE TABLE repositories_users (
    repository_id integer REFERENCES repositories ON DELETE CASCADE,
    user_id integer REFERENCES users ON DELETE CASCADE,
    PRIMARY KEY (repository_id, user_id));
CREATE INDEX ON repositories_users (repository_id, user_id);
CREATE TABLE hosts (id serial PRIMARY KEY, uuid varchar(255) NOT NULL UNIQUE);
CREATE TABLE hosts_repositories (
    host_id integer REFERENCES hosts ON DELETE CASCADE,
    repository_id integer REFERENCES repositories ON DELETE CASCADE,
    PRIMARY KEY (host_id, repository_id));
"""
HOST_1, HOST_2 = "2f1c0000-0000-0000-0000-000000000001", "9a0b0000-0000-0000-0000-000000000002"
RUBY = {
    "repositories": [
        ("acme-prod-web", True), ("acme-prod-db", True), ("acme-lib-public", False),
        ("acme-dup", False), ("acme-dup", True),  # no unique index there: fail closed
    ],
    "users": ["alice", "bob", "admin", "bob"],
    "user_grants": [
        ("alice", "acme-prod-web"), ("alice", "acme-lib-public"), ("bob", "acme-prod-db"),
        ("admin", "acme-prod-web"),
    ],
    "hosts": [HOST_1, HOST_2, ""],
    "host_grants": [(HOST_1, "acme-prod-db"), (HOST_2, "acme-dup")],
}


def _server(dbname):
    db = settings.DATABASES["default"]
    return {"host": db["HOST"], "port": db["PORT"], "user": db["USER"],
            "password": db["PASSWORD"], "dbname": dbname}


class RubyGatewayDatabase:
    def __init__(self):
        self.name = f"ruby_gateway_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(**_server("postgres"), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.name}"')
        self.execute(SEQUEL_SCHEMA)

    @property
    def url(self):
        s = _server(self.name)
        return f"postgres://{s['user']}:{s['password']}@{s['host']}:{s['port']}/{s['dbname']}"

    def execute(self, sql, params=None):
        with psycopg.connect(**_server(self.name), autocommit=True) as conn:
            conn.execute(sql, params)

    def fill(self, data):
        """Insert ``data`` (shaped like RUBY) the way the Ruby gateway would have."""
        with psycopg.connect(**_server(self.name), autocommit=True) as conn:
            conn.execute("TRUNCATE repositories, users, hosts, authentication_tokens CASCADE")
            repo_ids = {}
            for name, auth in data["repositories"]:
                repo_ids[name] = conn.execute(
                    "INSERT INTO repositories (name, auth_required) VALUES (%s, %s) RETURNING id",
                    [name, auth]).fetchone()[0]
            user_ids = {}
            for name in data["users"]:
                user_ids[name] = conn.execute(
                    "INSERT INTO users (name) VALUES (%s) RETURNING id", [name]).fetchone()[0]
                conn.execute(
                    "INSERT INTO authentication_tokens (token_checksum, expire_at, user_id)"
                    " VALUES (md5(random()::text), now(), %s)", [user_ids[name]])
            for login, repo in data["user_grants"]:
                conn.execute("INSERT INTO repositories_users VALUES (%s, %s)",
                             [repo_ids[repo], user_ids[login]])
            host_ids = {}
            for uuid_ in data["hosts"]:
                host_ids[uuid_] = conn.execute(
                    "INSERT INTO hosts (uuid) VALUES (%s) RETURNING id", [uuid_]).fetchone()[0]
            for uuid_, repo in data["host_grants"]:
                conn.execute("INSERT INTO hosts_repositories VALUES (%s, %s)",
                             [host_ids[uuid_], repo_ids[repo]])

    def drop(self):
        with psycopg.connect(**_server("postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def ruby_database(django_db_blocker):
    with django_db_blocker.unblock():
        database = RubyGatewayDatabase()
    yield database
    with django_db_blocker.unblock():
        database.drop()


@pytest.fixture
def ruby(ruby_database):
    ruby_database.fill(RUBY)
    return ruby_database


def run(url, *args):
    out = io.StringIO()
    call_command("katello-gateway-import", url, *args, stdout=out)
    return out.getvalue()


def state():
    """Everything the import writes, with row ids (which must survive an unchanged re-run)."""
    return {
        "repositories": set(KatelloRepository.objects.values_list("pk", "name", "auth_required")),
        "users": set(ForemanUser.objects.values_list("pk", "login", "user__username")),
        "user_grants": set(UserRepositoryGrant.objects.values_list(
            "foreman_user__login", "repository__name")),
        "hosts": set(ConsumerHost.objects.values_list("pk", "uuid")),
        "host_grants": set(HostRepositoryGrant.objects.values_list(
            "host__uuid", "repository__name")),
    }


def may_pull(login_or_host, name):
    if login_or_host.count("-") == 4:
        identity = Identity(host_id=ConsumerHost.objects.get(uuid=login_or_host).pk)
    else:
        user = ForemanUser.objects.select_related("user").get(login=login_or_host)
        identity = Identity(user=user.user, foreman_user_id=user.pk)
    return permitted_actions(identity, name, {"pull"}) == {"pull"}


def test_import_keeps_every_decision_of_the_ruby_gateway(ruby):
    output = run(ruby.url)
    assert {(n, a) for _, n, a in state()["repositories"]} == {
        ("acme-prod-web", True), ("acme-prod-db", True), ("acme-lib-public", False),
        ("acme-dup", True),
    }
    assert {login for _, login, _ in state()["users"]} == {"alice", "bob", "admin"}
    # Grants to public repositories are not needed (and not kept); the rest are.
    assert state()["user_grants"] == {
        ("alice", "acme-prod-web"), ("bob", "acme-prod-db"), ("admin", "acme-prod-web")}
    assert {u for _, u in state()["hosts"]} == {HOST_1, HOST_2}  # the blank uuid is skipped
    assert state()["host_grants"] == {(HOST_1, "acme-prod-db"), (HOST_2, "acme-dup")}
    assert may_pull("alice", "acme-prod-web") and may_pull("alice", "acme-lib-public")
    assert not may_pull("alice", "acme-prod-db") and not may_pull("bob", "acme-prod-web")
    assert may_pull(HOST_1, "acme-prod-db") and not may_pull(HOST_1, "acme-dup")
    assert "repositories" in output and "Imported" in output
    assert "1 grant(s) to public repositories left out" in output
    assert ruby.url.split("@")[0].split(":")[-1] not in output  # no password


def test_running_it_again_changes_nothing(ruby):
    run(ruby.url)
    before = state()
    output = run(ruby.url)
    assert state() == before
    for line in output.splitlines()[2:7]:  # the five kinds of rows: nothing added or removed
        assert line.split()[-4:-1] == ["0", "0", "0"], line


def test_import_replaces_katello_data_adds_users_and_never_adopts_local_users(ruby):
    stale = KatelloRepository.objects.create(name="gone-since", auth_required=True)
    carol = ForemanUser.objects.create_for_login("carol")  # logged in here, not in Ruby's DB
    UserRepositoryGrant.objects.create(foreman_user=carol, repository=stale)
    ConsumerHost.objects.create(uuid="00000000-0000-0000-0000-00000000dead")
    users = get_user_model().objects
    admin = users.create_superuser("admin", password="pulp-admin-password")
    # A Django name no Foreman user has, made before the plugin refused such names (bulk_create
    # saves without the pre_save signal that refuses them now).
    users.bulk_create([get_user_model()(username="foreman:bob")])

    output = run(ruby.url)

    names = {name for _, name, _ in state()["repositories"]}
    assert "gone-since" not in names
    assert ForemanUser.objects.filter(login="carol").exists()  # users are only ever added
    assert not UserRepositoryGrant.objects.filter(foreman_user=carol).exists()
    assert not ConsumerHost.objects.filter(uuid__endswith="dead").exists()
    # The Ruby gateway's "admin" is a Foreman login; Pulp's admin stays a local user.
    admin.refresh_from_db()
    assert admin.check_password("pulp-admin-password") and not hasattr(
        admin, "katello_foreman_user")
    assert ForemanUser.objects.get(login="admin").user.username == "foreman:admin"
    # bob's reserved username belongs to someone else: bob is not imported, nothing adopted.
    assert not ForemanUser.objects.filter(login="bob").exists()
    assert "1 logins not imported" in output and "bob" in output


def test_dry_run_counts_and_writes_nothing(ruby):
    KatelloRepository.objects.create(name="gone-since", auth_required=True)
    before = state()
    output = run(ruby.url, "--dry-run")
    assert state() == before
    assert "dry run" in output and "nothing was written" in output
    lines = {line.split()[0]: line.split() for line in output.splitlines() if line.strip()}
    # repositories: 4 in the Ruby gateway; 4 to add, 1 to remove, 0 to update, 4 afterwards
    assert lines["repositories"][-5:] == ["4", "4", "1", "0", "4"]
    assert lines["hosts"][-5:] == ["2", "2", "0", "0", "2"]


def test_unreachable_database_is_a_clear_error_without_the_password():
    url = f"postgres://gateway:s3cret-pw@127.0.0.1:{free_port()}/container_gateway"
    with pytest.raises(CommandError, match="cannot connect to gateway@127.0.0.1") as error:
        run(url)
    assert "s3cret-pw" not in str(error.value)


def test_a_database_without_the_gateway_schema_is_refused(ruby):
    ruby.execute("ALTER TABLE hosts_repositories RENAME TO hosts_repos")
    try:
        with pytest.raises(CommandError, match=r"missing hosts_repositories \(expected"):
            run(ruby.url)
        with pytest.raises(CommandError, match="not a PostgreSQL connection URL"):
            run("http://gateway.example.com/")
    finally:
        ruby.execute("ALTER TABLE hosts_repos RENAME TO hosts_repositories")
    assert not KatelloRepository.objects.exists()
