"""A throwaway PostgreSQL cluster for tests and the demo, run from the system's binaries."""

import glob
import os
import pwd
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from devtools.net import free_port, wait_for_port


@dataclass
class Database:
    """Where a database lives and how to log in; rendered into Pulp's DATABASES setting."""

    host: str
    port: int
    user: str
    password: str
    name: str

    @classmethod
    def from_url(cls, url):
        """Parse a ``postgres://user:password@host:port/name`` URL (the DATABASE_URL style)."""
        parts = urlsplit(url)
        if parts.scheme not in ("postgres", "postgresql"):
            raise ValueError(f"not a PostgreSQL URL: {parts.scheme}://...")
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password or ""),
            name=(parts.path or "/pulp").lstrip("/") or "pulp",
        )

    def renamed(self, name):
        return Database(self.host, self.port, self.user, self.password, name)

    def django(self):
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": self.name,
            "USER": self.user,
            "PASSWORD": self.password,
            "HOST": self.host,
            "PORT": str(self.port),
        }

    def connect(self, dbname=None):
        import psycopg

        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=dbname or self.name,
            autocommit=True,
        )

    def recreate(self):
        """Drop and create this database (the role needs CREATEDB)."""
        with self.connect("postgres") as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.name}"')

    def ensure(self):
        """Create this database unless it exists."""
        with self.connect("postgres") as conn:
            found = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self.name,)
            ).fetchone()
            if not found:
                conn.execute(f'CREATE DATABASE "{self.name}"')


def _pg_bindir():
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True):
        if Path(candidate, "initdb").exists():
            return candidate
    initdb = shutil.which("initdb")
    if initdb:
        return str(Path(initdb).parent)
    raise RuntimeError("PostgreSQL server binaries not found: apt-get install postgresql")


def _version_key(path):
    try:
        return int(Path(path).parent.name)
    except ValueError:
        return 0


class Cluster:
    """A PostgreSQL cluster in ``directory``, listening on 127.0.0.1 only.

    ``initdb`` refuses to run as root, so as root every server command runs as the ``postgres``
    user that Debian's package creates.
    """

    def __init__(self, directory, port=None, preload=()):
        """``preload``: server libraries to load at start (``shared_preload_libraries``), e.g.
        ``pg_stat_statements`` for a benchmark that counts queries."""
        self.directory = Path(directory)
        self.preload = tuple(preload)
        self.data = self.directory / "data"
        self.log = self.directory / "postgres.log"
        self.password_file = self.directory / "superuser-password"
        self.bindir = _pg_bindir()
        self.port = port

    def _run(self, *args):
        cmd = [os.path.join(self.bindir, args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        result = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({result.returncode}): {result.stderr.strip()}")

    def _give_to_postgres(self, path):
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(path, pw.pw_uid, pw.pw_gid)

    @property
    def initialised(self):
        return (self.data / "PG_VERSION").exists()

    def start(self):
        """Initialise (first time only) and start; returns the superuser's Database."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._give_to_postgres(self.directory)
        if not self.initialised:
            self.password_file.write_text(secrets.token_urlsafe(24))
            self._give_to_postgres(self.password_file)
            self._run(
                "initdb", "-D", str(self.data), "-U", "postgres",
                # A UTF-8 locale, as production PostgreSQL has: UPPER()/ILIKE then fold non-ASCII
                # letters (upper('alıce') = 'ALICE'), which the C locale would hide.
                f"--pwfile={self.password_file}", "-E", "UTF8", "--locale=C.UTF-8",
                "--auth-local=trust", "--auth-host=scram-sha-256",
            )
        self.port = self.port or free_port()
        conf = self.data / "postgresql.auto.conf"
        conf.write_text(
            f"port = {self.port}\n"
            "listen_addresses = '127.0.0.1'\n"
            "unix_socket_directories = ''\n"
            "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            "max_connections = 300\n"
            + (f"shared_preload_libraries = '{','.join(self.preload)}'\n" if self.preload else "")
        )
        self._give_to_postgres(conf)
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")
        wait_for_port("127.0.0.1", self.port, timeout=30)
        return self.superuser()

    def superuser(self, name="pulp"):
        return Database(
            "127.0.0.1", self.port, "postgres", self.password_file.read_text().strip(), name
        )

    def stop(self):
        if self.initialised and (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")



def bench_database(tmp, name, preload=()):
    """(Database, Cluster or None) for a benchmark: database ``name`` on ``DATABASE_URL``'s server
    (recreated), or on a throwaway cluster started in ``tmp`` with ``preload``'s server libraries
    (stop it afterwards)."""
    if os.environ.get("DATABASE_URL"):
        base = Database.from_url(os.environ["DATABASE_URL"])
        database = base.renamed(f"{base.name}_{name}")
        database.recreate()
        return database, None
    cluster = Cluster(Path(tmp) / "postgres", preload=preload)
    return cluster.start().renamed(name), cluster
