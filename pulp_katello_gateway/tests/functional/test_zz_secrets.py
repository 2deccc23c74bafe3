"""Last of the functional tests (the module name sorts last): no secret leaked anywhere.

Every password and personal access token the Katello stand-in knows (those of every functional
test), the registry tokens it issued, the Pulp admin's password, and every secret and issued JWT
the resilience and security tests registered in ``secret_registry`` must be absent, in plain
text or URL-encoded, from a ``pg_dump`` of the stack's database, from every log file of the
stack (Pulp's API, content and worker logs and access logs, nginx, PostgreSQL) and from every
error body the tests saw.
"""

import os
import subprocess
from pathlib import Path

from devtools.pg import _pg_bindir


def _all_secrets(pulp, katello, secret_registry):
    state = katello.state()
    secret_registry.add(pulp.admin_auth[1])
    for user in state["users"].values():
        secret_registry.add(user["password"], *user["pats"])
    for tokens in katello.tokens().values():
        secret_registry.add(*(token["token"] for token in tokens))
    return secret_registry


def _database_dump(pulp):
    database = pulp.database
    result = subprocess.run(
        [os.path.join(_pg_bindir(), "pg_dump"), "--no-owner", "-h", database.host,
         "-p", str(database.port), "-U", database.user, database.name],
        env=dict(os.environ, PGPASSWORD=database.password),
        capture_output=True, check=True, timeout=300,
    )
    return result.stdout


def _log_files(pulp, work_dir):
    places = [pulp.logs, work_dir / "nginx"]
    if os.environ.get("KATELLO_GATEWAY_TEST_TMP"):
        places.append(Path(os.environ["KATELLO_GATEWAY_TEST_TMP"]) / "postgres")
    for place in places:
        if place.is_dir():
            yield from (path for path in sorted(place.rglob("*")) if path.is_file()
                        and (path.suffix in (".log", ".out") or "log" in path.name))


def test_no_secret_in_the_database_the_logs_or_any_error_body(
    pulp, katello, secret_registry, work_dir
):
    registry = _all_secrets(pulp, katello, secret_registry)
    assert registry.secrets

    dump = _database_dump(pulp)
    assert b"katello_gateway_cachedlogin" in dump  # the dump is the stack's database
    leaks = registry.leaks(dump, "pg_dump")

    logs = list(_log_files(pulp, work_dir))
    assert any(path.name == "api-access.log" for path in logs)
    for path in logs:
        leaks += registry.leaks(path.read_bytes(), str(path.relative_to(path.parents[1])))

    for where, body in registry.error_bodies:
        leaks += registry.leaks(body, where)

    assert leaks == []
