"""No secret is written anywhere: not in the stack's database, its logs or any error body.

The test makes the secret-bearing traffic it checks itself, so its verdict does not depend on
which tests ran before it: Katello pushes with the Pulp admin's password; a Foreman user logs in
through the token endpoint with a known password (Basic, then the OAuth2 password grant), with a
personal access token, and once with a wrong password; Foreman hands out its registry token on
the way. None of those secrets, nor the JWTs issued, may then be found, in plain text or
URL-encoded, in a ``pg_dump`` of the stack's database, in any log file of the stack (Pulp's API,
content and worker logs and access logs, nginx, Apache, PostgreSQL) or in any error body seen.

The same scan also looks for every secret other tests registered in ``secret_registry`` so far and
every password, PAT and registry token the Katello stand-in knows: more coverage when the whole
suite runs, not a condition of this test's verdict.
"""

import os
import subprocess
import uuid
from pathlib import Path

from devtools.clients import KATELLO_PUSH_PATH
from devtools.pg import _pg_bindir

ACCESS_LOG = "api-access.log"
PUSHED = f"PUT {KATELLO_PUSH_PATH}repository_list/"


def _known_secrets(pulp, katello, secret_registry):
    """Everything secret the stand-in and the Pulp admin have, added to ``secret_registry``."""
    secret_registry.add(pulp.admin_auth[1])
    for user in katello.state()["users"].values():
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
    places = [pulp.logs, work_dir / "nginx", work_dir / "apache"]
    if os.environ.get("KATELLO_GATEWAY_TEST_TMP"):
        places.append(Path(os.environ["KATELLO_GATEWAY_TEST_TMP"]) / "postgres")
    for place in places:
        if place.is_dir():
            yield from (path for path in sorted(place.rglob("*")) if path.is_file()
                        and (path.suffix in (".log", ".out") or "log" in path.name))


def _secret_bearing_traffic(pulp, katello, gateway, make_world):
    """Katello's push and a Foreman user's logins; returns the secrets they carried."""
    pushes = len(pulp.access_lines(PUSHED))
    world = make_world("secrets", {"granted": True}, users={"alice": ["granted"]})  # pushes
    granted, user = world.repos["granted"], world.users["alice"]
    token, manifest = gateway.pull(granted, user["auth"])  # Foreman checks the password
    assert (token.status_code, manifest.status_code) == (200, 200)
    assert gateway.token(f"repository:{granted}:pull", auth=user["pat_auth"]).status_code == 200
    oauth = gateway.oauth_token("password", "secrets-test", username=user["login"],
                                password=user["password"], scope=f"repository:{granted}:pull")
    assert oauth.status_code == 200, oauth.text
    wrong = f"wrong-{uuid.uuid4().hex}"
    assert gateway.token(auth=(user["login"], wrong)).status_code == 401
    # Each request is in the access log before the logs are read (three carry the login).
    pulp.wait_access_lines(PUSHED, pushes + 1)
    pulp.wait_access_lines(f"account={user['login']}", 3)
    foreman_tokens = [issued["token"] for issued in katello.tokens()[user["login"]]]
    assert foreman_tokens  # Foreman answered the login with its registry token
    return [pulp.admin_auth[1], user["password"], user["pat"], wrong, oauth.json()["access_token"],
            token.json()["token"], *foreman_tokens]


def test_no_secret_in_the_database_the_logs_or_any_error_body(
    pulp, katello, gateway, make_world, secret_registry, work_dir
):
    own = _secret_bearing_traffic(pulp, katello, gateway, make_world)
    registry = _known_secrets(pulp, katello, secret_registry)
    registry.add(*own)
    assert set(own) <= registry.secrets
    # The scan finds each of them wherever one is written, plain or URL-encoded.
    for secret in own:
        for spelling in registry.spellings(secret):
            assert registry.leaks(f"x {spelling} y".encode(), "control") != []

    dump = _database_dump(pulp)
    assert b"katello_gateway_cachedlogin" in dump  # the dump is the stack's database
    leaks = registry.leaks(dump, "pg_dump")

    logs = list(_log_files(pulp, work_dir))
    assert any(path.name == ACCESS_LOG for path in logs)
    for path in logs:
        leaks += registry.leaks(path.read_bytes(), str(path.relative_to(path.parents[1])))

    for where, body in registry.error_bodies:
        leaks += registry.leaks(body, where)

    assert leaks == []
