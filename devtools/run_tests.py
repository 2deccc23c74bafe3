"""The whole test suite in one command: a database, then unit and functional tests.

Usage: ``python -m devtools.run_tests [pytest arguments]`` (``make test`` calls it).

Without database settings it starts a throwaway PostgreSQL cluster on a free loopback port in a
temporary directory and removes it afterwards. To use an existing server instead, set
``DATABASE_URL=postgres://user:password@host:port/name`` or the Pulp-style
``PULP_DATABASES__default__{HOST,PORT,USER,PASSWORD,NAME}`` variables; the role needs CREATEDB
(pytest-django creates ``test_<name>``, the functional stack ``<name>_functional``).
"""

import os
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

from devtools.pg import Cluster, Database
from devtools.pulp_settings import write_settings

ROOT = Path(__file__).resolve().parent.parent
# The plugin's tests, and the development tools' own (not shipped in the wheel).
TEST_PATHS = ["pulp_katello_gateway/tests", "devtools/tests"]
PULP_DB_VARIABLES = {
    "host": "PULP_DATABASES__default__HOST",
    "port": "PULP_DATABASES__default__PORT",
    "user": "PULP_DATABASES__default__USER",
    "password": "PULP_DATABASES__default__PASSWORD",
    "name": "PULP_DATABASES__default__NAME",
}


def configured_database():
    """The database the caller pointed us at, or None; Pulp-style variables are consumed."""
    if os.environ.get("DATABASE_URL"):
        return Database.from_url(os.environ["DATABASE_URL"])
    if os.environ.get(PULP_DB_VARIABLES["host"]):
        values = {key: os.environ.pop(var, "") for key, var in PULP_DB_VARIABLES.items()}
        return Database(
            host=values["host"],
            port=int(values["port"] or 5432),
            user=values["user"] or "postgres",
            password=values["password"],
            name=values["name"] or "pulp",
        )
    return None


def pulp_line():
    """What this environment runs, for the log: a suite's verdict is about these versions."""
    return ", ".join(f"{name} {version(name)}" for name in ("pulpcore", "pulp-container", "Django"))


def main(argv):
    print(f"Pulp line: {pulp_line()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="pkg-tests-") as tmp:
        tmp = Path(tmp)
        tmp.chmod(0o755)  # the postgres user must reach the cluster directory inside
        cluster = None
        database = configured_database()
        if database is None:
            cluster = Cluster(tmp / "postgres")
            database = cluster.start()
            print(f"throwaway PostgreSQL on 127.0.0.1:{cluster.port} in {cluster.directory}")
        try:
            settings = write_settings(
                tmp / "unit",
                database,
                api_origin="https://127.0.0.1:24817",
                content_origin="https://127.0.0.1:24817",  # the web server, as install.md says
                # Django's test client; on pulpcore < 3.110 (dynaconf 3.2) a test cannot add it.
                extra={"ALLOWED_HOSTS": ["127.0.0.1", "localhost", "testserver"]},
            )
            env = dict(
                os.environ,
                PULP_SETTINGS=str(settings),
                DJANGO_SETTINGS_MODULE="pulpcore.app.settings",
                KATELLO_GATEWAY_TEST_TMP=str(tmp),
            )
            command = [sys.executable, "-m", "pytest", *(argv or TEST_PATHS)]
            return subprocess.run(command, env=env, cwd=ROOT).returncode
        finally:
            if cluster is not None:
                cluster.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
