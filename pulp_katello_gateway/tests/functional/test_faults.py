"""Foreman misbehaving under the real stack: down, hanging, answering garbage; and the login
cache's time rules end to end.

What must hold: whatever Foreman does, pulls that do not need Foreman keep working (anonymous,
cached logins, known hosts), logins that do need it get a clear 503 (never a 500, never a 401
that would tell podman the password is wrong), and nothing unverified is ever cached. Cache ages
are set by moving ``verified_at`` back in the stack's database, never by waiting.
"""

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from devtools.clients import Skopeo
from devtools.katello_standin.server import GARBAGE_KINDS
from pulp_katello_gateway.app import settings as defaults
from pulp_katello_gateway.tests.functional.gateway_http import Registry

TTL = defaults.KATELLO_GATEWAY_LOGIN_CACHE_TTL
MAX_STALE = defaults.KATELLO_GATEWAY_LOGIN_MAX_STALE
UNVERIFIABLE = "Cannot verify the login now: "


# -- the stack's database --------------------------------------------------------------------


def cache_ages(pulp_db, login):
    """Seconds since Foreman last confirmed each cached login of ``login`` (sorted)."""
    rows = pulp_db.execute(
        "SELECT extract(epoch FROM now() - c.verified_at) FROM katello_gateway_cachedlogin c"
        " JOIN katello_gateway_foremanuser f ON f.pulp_id = c.foreman_user_id"
        " WHERE f.login = %s ORDER BY 1",
        [login],
    ).fetchall()
    return [float(age) for (age,) in rows]


def known_to_pulp(pulp_db, login):
    return bool(pulp_db.execute(
        "SELECT 1 FROM katello_gateway_foremanuser WHERE login = %s", [login]
    ).fetchone())


def age(pulp_db, login, seconds):
    """Pretend every cached login of ``login`` was last verified ``seconds`` ago."""
    pulp_db.execute(
        "UPDATE katello_gateway_cachedlogin c SET verified_at = now() - make_interval(secs => %s)"
        " FROM katello_gateway_foremanuser f"
        " WHERE f.pulp_id = c.foreman_user_id AND f.login = %s",
        [seconds, login],
    )


def clear_backoff(pulp_db):
    pulp_db.execute("DELETE FROM katello_gateway_foremanbackoff")


def detail(response):
    return response.json()["detail"]


@pytest.fixture
def foreman_restored(katello, pulp_db):
    """Foreman back to normal after the test, and no backoff left for the next tests."""
    yield katello
    katello.set_fault(None)
    clear_backoff(pulp_db)


# -- Foreman down ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def host_gateway(nginx, pulp, secret_registry, gateway_world):
    """The known host's registry client: through nginx, with its consumer certificate."""
    return Registry(nginx.url, pulp.ca_file, secret_registry, cert=gateway_world.host_cert())


def test_foreman_down_pulls_keep_working_and_new_logins_get_503_new_hosts_pull_as_anonymous(
    gateway, host_gateway, katello, nginx, consumer_ca, pulp, gateway_world, new_user,
    foreman_restored, tmp_path,
):
    repos, digest = gateway_world.repos, gateway_world.digest
    with_password, with_pat = new_user(), new_user()
    # They logged in within the cache window; the host is known from Katello's last push.
    assert gateway.pull(repos["granted"], with_password["auth"])[1].status_code == 200
    assert gateway.pull(repos["granted"], with_pat["pat_auth"])[1].status_code == 200
    newcomer = new_user()

    katello.set_fault("down")
    clients = [
        ("anonymous", gateway, repos["public"], None),
        ("password", gateway, repos["granted"], with_password["auth"]),
        ("personal access token", gateway, repos["granted"], with_pat["pat_auth"]),
        ("host certificate", host_gateway, repos["host"], None),
    ]

    def pull(index):
        who, client, repository, auth = clients[index % len(clients)]
        token, manifest = client.pull(repository, auth)
        got = manifest.headers.get("Docker-Content-Digest") if manifest is not None else None
        return who, token.status_code, manifest.status_code if manifest else None, got

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(pull, range(100)))
    failed = [result for result in results if result[1:] != (200, 200, digest)]
    assert failed == [], f"{len(failed)} of 100 pulls failed while Foreman was down"

    # Real clients too: skopeo for a cached user, anonymously, and as the host through nginx.
    skopeo = Skopeo(pulp.certs_dir, tmp_path)
    skopeo.copy(f"docker://{pulp.registry}/{repos['granted']}:latest",
                f"oci:{tmp_path / 'cached'}:latest", src_creds=with_password["auth"])
    skopeo.copy(f"docker://{pulp.registry}/{repos['public']}:latest",
                f"oci:{tmp_path / 'anonymous'}:latest")
    Skopeo(gateway_world.host_certs["host"], tmp_path).copy(f"docker://{nginx.registry}/{repos['host']}:latest",
                                      f"oci:{tmp_path / 'host'}:latest")
    for name in ("cached", "anonymous", "host"):
        assert digest in (tmp_path / name / "index.json").read_text()

    # A first login needs Foreman: a clear 503.
    login = gateway.token(f"repository:{repos['granted']}:pull", auth=newcomer["auth"])
    assert login.status_code == 503
    assert detail(login) == f"{UNVERIFIABLE}Foreman cannot be reached. Try again later."
    # A host registered since the sync pulls exactly what anonymous clients pull meanwhile.
    newcomer_host = str(uuid.uuid4())
    consumer_ca.issue(newcomer_host, tmp_path / "new.cert", tmp_path / "new.key")
    new_host = Registry(nginx.url, pulp.ca_file, gateway.secrets,
                        cert=(str(tmp_path / "new.cert"), str(tmp_path / "new.key")))
    for repository in (repos["public"], repos["host"]):
        as_host, as_anonymous = new_host.pull(repository), gateway.pull(repository)
        assert [as_host[0].status_code, as_host[1].status_code] == [
            as_anonymous[0].status_code, as_anonymous[1].status_code
        ], repository
    assert new_host.pull(repos["public"])[1].status_code == 200

    katello.set_fault(None)
    assert gateway.pull(repos["granted"], newcomer["auth"])[1].status_code == 200


# -- Foreman hangs ---------------------------------------------------------------------------

HANG_READ_TIMEOUT = 10  # long enough for the pulls below to finish meanwhile, even on a busy box
HANG_MAX_CONCURRENT = 2


@pytest.fixture(scope="module")
def hang_node(api_nodes, pulp, pulp_db, secret_registry):
    """An API node with a short Foreman read timeout and two Foreman call slots, and workers
    to spare: what ``settings.md`` recommends (slots below the number of workers)."""
    url = api_nodes.start(
        "api-hang",
        workers=4,
        env={
            "PULP_KATELLO_GATEWAY_FOREMAN_READ_TIMEOUT": str(HANG_READ_TIMEOUT),
            "PULP_KATELLO_GATEWAY_FOREMAN_CONNECT_TIMEOUT": "1",
            "PULP_KATELLO_GATEWAY_FOREMAN_MAX_CONCURRENT": str(HANG_MAX_CONCURRENT),
        },
    )
    yield Registry(url, pulp.ca_file, secret_registry)
    api_nodes.stop("api-hang")
    clear_backoff(pulp_db)


def test_hanging_foreman_holds_up_only_the_logins_that_need_it(
    hang_node, katello, gateway_world, new_user, foreman_restored
):
    repos = gateway_world.repos
    cached = new_user()
    assert hang_node.pull(repos["granted"], cached["auth"])[1].status_code == 200
    strangers = [new_user(tag="hang") for _ in range(4)]
    asked = katello.request_count("/v2/token")

    katello.set_fault("hang", paths=["/v2/token"])
    with ThreadPoolExecutor(len(strangers)) as pool:
        logins = [
            pool.submit(hang_node.token, f"repository:{repos['granted']}:pull", auth=s["auth"])
            for s in strangers
        ]
        katello.wait_hanging(HANG_MAX_CONCURRENT, path="/v2/token")  # logins hanging in Foreman
        # While those hang, everybody who does not need Foreman is served.
        served = [hang_node.pull(repos["granted"], cached["auth"]) for _ in range(4)]
        served += [hang_node.pull(repos["public"]) for _ in range(4)]
        still_hanging = sum(not login.done() for login in logins)
        answers = [login.result() for login in logins]

    assert [(t.status_code, m.status_code) for t, m in served] == [(200, 200)] * len(served)
    assert still_hanging >= 1
    assert [answer.status_code for answer in answers] == [503] * len(strangers)
    details = sorted(detail(answer) for answer in answers)
    timed_out = f"{UNVERIFIABLE}Foreman did not answer in time. Try again later."
    busy = f"{UNVERIFIABLE}Foreman is busy answering other logins. Try again later."
    # At most MAX_CONCURRENT logins reached Foreman; the others were refused without asking.
    assert details == sorted([timed_out] * HANG_MAX_CONCURRENT
                             + [busy] * (len(strangers) - HANG_MAX_CONCURRENT))
    assert katello.request_count("/v2/token") == asked + HANG_MAX_CONCURRENT

    # After a timeout nobody waits for Foreman for a while: a login gets its 503 at once.
    late = new_user(tag="late")
    response = hang_node.token(f"repository:{repos['granted']}:pull", auth=late["auth"])
    assert response.status_code == 503 and detail(response) == timed_out
    assert katello.request_count("/v2/token") == asked + HANG_MAX_CONCURRENT
    assert hang_node.pull(repos["granted"], cached["auth"])[1].status_code == 200


# -- Foreman answers garbage -----------------------------------------------------------------

GARBAGE_MESSAGES = {
    "html": "Foreman answered with something that is not JSON",
    "truncated": "Foreman answered with something that is not JSON",
    "no_token": "Foreman answered without a registry token",
    "redirect": "Foreman answered 302",
    "reset": "Foreman cannot be reached",
}


@pytest.mark.parametrize("kind", GARBAGE_KINDS)
def test_garbage_from_foreman_is_a_clear_503_and_nothing_is_cached(
    gateway, katello, gateway_world, new_user, pulp_db, foreman_restored, kind
):
    granted = gateway_world.repos["granted"]
    user = new_user()
    katello.set_fault("garbage", kind=kind, paths=["/v2/token"])
    response = gateway.token(f"repository:{granted}:pull", auth=user["auth"])
    katello.set_fault(None)

    assert response.status_code == 503
    assert detail(response) == f"{UNVERIFIABLE}{GARBAGE_MESSAGES[kind]}. Try again later."
    assert not known_to_pulp(pulp_db, user["login"])
    assert cache_ages(pulp_db, user["login"]) == []
    # Only a correct answer lets the user in, and it has to be asked for.
    asked = katello.request_count("/v2/token")
    assert gateway.pull(granted, user["auth"])[1].status_code == 200
    assert katello.request_count("/v2/token") == asked + 1


@pytest.mark.parametrize("fault", [{"mode": "error", "status": 503},
                                   {"mode": "garbage", "kind": "no_token"}])
def test_garbage_catalog_keeps_the_verified_login_and_its_grants(
    gateway, katello, gateway_world, new_user, pulp_db, foreman_restored, fault
):
    """The login check succeeded, only the repository list that follows is garbage."""
    granted = gateway_world.repos["granted"]
    user = new_user()
    assert gateway.pull(granted, user["auth"])[1].status_code == 200
    age(pulp_db, user["login"], TTL + 60)
    katello.set_fault(**fault, paths=["/v2/_catalog"])
    token, manifest = gateway.pull(granted, user["auth"])
    katello.set_fault(None)
    assert (token.status_code, manifest.status_code) == (200, 200)
    assert cache_ages(pulp_db, user["login"])[0] < TTL  # re-verified by the token check


def test_garbage_never_refreshes_an_expired_login(
    gateway, katello, gateway_world, new_user, pulp_db, foreman_restored
):
    granted = gateway_world.repos["granted"]
    user = new_user()
    assert gateway.pull(granted, user["auth"])[1].status_code == 200
    age(pulp_db, user["login"], TTL + 60)

    katello.set_fault("garbage", kind="html")
    token, manifest = gateway.pull(granted, user["auth"])  # honoured as stale
    katello.set_fault(None)
    assert (token.status_code, manifest.status_code) == (200, 200)
    assert cache_ages(pulp_db, user["login"])[0] >= TTL + 60  # not refreshed by the garbage

    asked = katello.request_count("/v2/token")
    assert gateway.pull(granted, user["auth"])[1].status_code == 200
    assert katello.request_count("/v2/token") == asked + 1
    assert cache_ages(pulp_db, user["login"])[0] < TTL


# -- the login cache's time rules, end to end ------------------------------------------------


def test_ttl_expiry_makes_foreman_check_the_login_again(
    gateway, katello, gateway_world, new_user, pulp_db
):
    granted = gateway_world.repos["granted"]
    user = new_user()
    assert gateway.pull(granted, user["auth"])[1].status_code == 200
    asked = katello.request_count("/v2/token")

    age(pulp_db, user["login"], TTL - 30)
    assert gateway.pull(granted, user["auth"])[1].status_code == 200
    assert katello.request_count("/v2/token") == asked  # still within the TTL

    age(pulp_db, user["login"], TTL + 30)
    assert gateway.pull(granted, user["auth"])[1].status_code == 200
    assert katello.request_count("/v2/token") == asked + 1
    assert cache_ages(pulp_db, user["login"])[0] < TTL - 30  # confirmed afresh


@pytest.mark.parametrize("secret", ["password", "pat"])
def test_changed_credentials_stop_working_from_the_cache_after_the_ttl(
    gateway, katello, gateway_world, new_user, pulp_db, secret_registry, secret
):
    granted = gateway_world.repos["granted"]
    user = new_user()
    auth = user["auth"] if secret == "password" else user["pat_auth"]
    assert gateway.pull(granted, auth)[1].status_code == 200
    new_password = f"pw2-{uuid.uuid4().hex}"
    secret_registry.add(new_password)
    if secret == "password":
        katello.set_password(user["login"], new_password)
    else:
        katello.revoke_pat(user["login"], user["pat"])

    assert gateway.pull(granted, auth)[1].status_code == 200  # cached, within the TTL
    age(pulp_db, user["login"], TTL + 1)
    refused = gateway.token(f"repository:{granted}:pull", auth=auth)
    assert refused.status_code == 401
    assert detail(refused) == "Invalid username/password."
    assert cache_ages(pulp_db, user["login"]) == []  # dropped at once, not kept as stale
    if secret == "password":
        assert gateway.pull(granted, (user["login"], new_password))[1].status_code == 200


def test_max_stale_is_honoured_only_while_foreman_is_unreachable(
    gateway, katello, gateway_world, new_user, pulp_db, foreman_restored
):
    granted = gateway_world.repos["granted"]
    user = new_user()
    assert gateway.pull(granted, user["auth"])[1].status_code == 200

    # Past the TTL, Foreman up: Foreman decides (here it says the password is no longer valid).
    age(pulp_db, user["login"], TTL + 60)
    katello.set_password(user["login"], f"changed-{uuid.uuid4().hex}")
    assert gateway.token(auth=user["auth"]).status_code == 401
    katello.set_password(user["login"], user["password"])
    assert gateway.pull(granted, user["auth"])[1].status_code == 200

    # Past the TTL, Foreman down: the stale entry is honoured ...
    age(pulp_db, user["login"], TTL + MAX_STALE - 60)
    katello.set_fault("down")
    token, manifest = gateway.pull(granted, user["auth"])
    assert (token.status_code, manifest.status_code) == (200, 200)
    # ... but not beyond max-stale.
    age(pulp_db, user["login"], TTL + MAX_STALE + 60)
    too_old = gateway.token(f"repository:{granted}:pull", auth=user["auth"])
    assert too_old.status_code == 503
    assert detail(too_old).startswith(UNVERIFIABLE)
