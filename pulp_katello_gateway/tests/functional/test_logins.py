"""Real clients (podman, skopeo) against the real stack: Foreman logins, pulls, pushes, and the
login cache keeping Foreman out of every pull.

Each podman or skopeo command runs its own token flow (ping, token, registry requests), exactly
as users run them. ``test_token.py`` covers the same rules with plain HTTP requests.
"""

import re
import uuid

import pytest

from devtools.clients import NATIVE_API_PATH


@pytest.fixture(scope="module")
def world(make_world):
    """Three repositories with the tiny image: granted to the users below, protected and granted
    to nobody, and public; Katello's ACL pushed."""
    return make_world("cli", {"granted": True, "private": True, "public": False})


@pytest.fixture
def user(world):
    return world.new_user()


def ref(pulp, repository, tag="latest"):
    return f"{pulp.registry}/{repository}:{tag}"


def pulled_digest(skopeo, pulp, repository, creds, tmp_path):
    """Copy the image out with skopeo; the digest of what arrived (raises when refused)."""
    target = tmp_path / f"pulled-{uuid.uuid4().hex[:6]}"
    skopeo.copy(f"docker://{ref(pulp, repository)}", f"oci:{target}:latest", src_creds=creds)
    return skopeo.inspect(f"oci:{target}:latest")["Digest"]


@pytest.mark.parametrize("secret", ["password", "pat"])
def test_podman_and_skopeo_log_in_with_foreman_credentials(podman, skopeo, pulp, user, secret):
    result = podman.login(pulp.registry, user["login"], user[secret])
    assert "Login Succeeded" in result.stdout
    result = skopeo.login(pulp.registry, user["login"], user[secret])
    assert "Login Succeeded" in result.stdout


def test_wrong_password_fails_the_login(podman, skopeo, pulp, user):
    for client in (podman, skopeo):
        result = client.login(pulp.registry, user["login"], "not-the-password", check=False)
        assert result.returncode != 0
        assert "invalid username/password" in result.stderr
    token_requests = pulp.wait_access_lines(f"GET /token/?account={user['login']}&", 2)
    assert len(token_requests) == 2
    assert all(re.search(r'HTTP/1\.[01]" 401 ', line) for line in token_requests)


def test_foreman_user_pulls_granted_repository(podman, skopeo, pulp, world, user, tmp_path):
    granted = world.repos["granted"]
    podman.login(pulp.registry, user["login"], user["password"])
    podman.pull(ref(pulp, granted))
    assert podman.image_digest(ref(pulp, granted)) == world.digest
    assert pulled_digest(skopeo, pulp, granted, user["auth"], tmp_path) == world.digest


def test_a_login_typed_in_another_case_keeps_katellos_grants(
    skopeo, pulp, world, user, push_katello, tmp_path
):
    """Foreman accepts ``ALICE`` for ``alice``; so does the plugin, and Katello's next sync (which
    only maps the spellings Foreman knows) leaves that login its grant."""
    granted = world.repos["granted"]
    assert pulled_digest(skopeo, pulp, granted, user["auth"], tmp_path) == world.digest
    push_katello()  # Katello now maps the user, under its own spelling
    shouted = (user["login"].upper(), user["pat"])
    assert pulled_digest(skopeo, pulp, granted, shouted, tmp_path) == world.digest
    push_katello()  # a sync while ``shouted`` is a cached login
    assert pulled_digest(skopeo, pulp, granted, shouted, tmp_path) == world.digest
    known = pulp.session().get(
        f"{pulp.api_url}{NATIVE_API_PATH}users/",
        params={"login__iexact": user["login"]}, timeout=30,
    ).json()
    assert [item["login"] for item in known["results"]] == [user["login"]]


def _refusal(result, repository):
    assert result.returncode != 0
    # skopeo starts its message with a timestamp (time="…"): two refusals a second apart differ.
    return re.sub(r'^time="[^"]*" ', "", result.stderr).replace(repository, "<repository>")


@pytest.mark.parametrize("who", ["foreman user", "anonymous"])
def test_forbidden_repository_fails_exactly_like_a_missing_one(podman, skopeo, pulp, world, user,
                                                               who):
    forbidden, missing = world.repos["private"], f"{world.prefix}/no-such-repository"
    creds = user["auth"] if who == "foreman user" else None
    if creds:
        podman.login(pulp.registry, *creds)

    podman_errors = {_refusal(podman.pull(ref(pulp, name), check=False), name)
                     for name in (forbidden, missing)}
    skopeo_errors = {
        _refusal(skopeo.inspect(f"docker://{ref(pulp, name)}", creds=creds, check=False), name)
        for name in (forbidden, missing)
    }
    assert len(podman_errors) == len(skopeo_errors) == 1
    assert "requested access to the resource is denied" in podman_errors.pop()


def test_anonymous_pulls_only_public_repositories(skopeo, pulp, world, tmp_path):
    public, granted = world.repos["public"], world.repos["granted"]
    assert pulled_digest(skopeo, pulp, public, None, tmp_path) == world.digest
    with pytest.raises(Exception, match="requested access to the resource is denied"):
        pulled_digest(skopeo, pulp, granted, None, tmp_path)


def test_foreman_users_cannot_push_but_the_pulp_admin_can(podman, skopeo, pulp, world, user):
    granted = world.repos["granted"]
    podman.login(pulp.registry, user["login"], user["password"])
    podman.pull(ref(pulp, granted))

    result = podman.push(ref(pulp, granted), f"docker://{ref(pulp, granted, 'by-foreman-user')}",
                         check=False)
    assert result.returncode != 0
    assert "requested access to the resource is denied" in result.stderr
    new_repo = f"{world.prefix}/created-by-foreman-user"
    result = podman.push(ref(pulp, granted), f"docker://{ref(pulp, new_repo)}", check=False)
    assert result.returncode != 0

    skopeo.copy(f"oci:{world.layout}:latest", f"docker://{ref(pulp, granted, 'by-admin')}",
                dest_creds=pulp.admin_auth)
    # What the admin pushed is there, and the Foreman user may pull it.
    inspected = skopeo.inspect(f"docker://{ref(pulp, granted, 'by-admin')}", creds=user["auth"])
    assert inspected["Digest"] == world.digest
    missing = skopeo.inspect(f"docker://{ref(pulp, granted, 'by-foreman-user')}",
                             creds=pulp.admin_auth, check=False)
    assert missing.returncode != 0


def test_after_one_login_pulls_never_ask_foreman_even_when_it_is_down(
    podman, skopeo, pulp, world, user, katello, tmp_path
):
    granted = world.repos["granted"]
    podman.login(pulp.registry, user["login"], user["password"])
    before = katello.request_count()

    for _ in range(10):
        podman.pull(ref(pulp, granted))
    for _ in range(10):
        assert pulled_digest(skopeo, pulp, granted, user["auth"], tmp_path) == world.digest
    assert katello.request_count() == before  # 20 pulls, 20 token requests, no Foreman call

    stranger = world.new_user(tag="stranger")
    try:
        katello.set_fault("down")
        podman.pull(ref(pulp, granted))
        assert pulled_digest(skopeo, pulp, granted, user["auth"], tmp_path) == world.digest
        # Without a cached login nobody can be verified now: a clear 503, not a wrong password.
        refused = podman.login(pulp.registry, *stranger["auth"], check=False)
    finally:
        katello.set_fault(None)
    assert refused.returncode != 0
    assert "503" in refused.stderr and "invalid username/password" not in refused.stderr
    assert katello.request_count() == before
    podman.login(pulp.registry, *stranger["auth"])  # fine once Foreman is back


def test_a_look_alike_foreman_user_never_becomes_another(skopeo, pulp, world, user, tmp_path):
    """On the stack's UTF-8 database, where PostgreSQL upper-cases a dotless ``ı`` to ``I``:
    Foreman user ``clı-…`` logs in with her own password as herself, not as ``cli-…``. She pulls
    nothing of the victim's, and the victim keeps pulling, before and after."""
    granted = world.repos["granted"]
    victim = user["login"]
    assert "i" in victim
    impostor = victim.replace("i", "\u0131", 1)
    impostor_password = f"pw-{uuid.uuid4().hex}"
    world.katello.add_user(impostor, impostor_password, repositories=[])
    world.secrets.add(impostor_password)

    assert pulled_digest(skopeo, pulp, granted, user["auth"], tmp_path) == world.digest
    with pytest.raises(Exception, match="requested access to the resource is denied"):
        pulled_digest(skopeo, pulp, granted, (impostor, impostor_password), tmp_path)
    assert pulled_digest(skopeo, pulp, granted, user["auth"], tmp_path) == world.digest

    known = pulp.session().get(f"{pulp.api_url}{NATIVE_API_PATH}users/",
                               params={"login__in": f"{victim},{impostor}"}, timeout=30).json()
    assert sorted(item["username"] for item in known["results"]) == sorted(
        [f"foreman:{victim}", f"foreman:{impostor}"]
    )
    pulls = pulp.session().get(f"{pulp.api_url}/pulp/api/v3/katello_gateway/pulls/",
                               params={"repository": granted}, timeout=30).json()
    pulled_by = {item["login"] for item in pulls["results"]}
    assert victim in pulled_by and impostor not in pulled_by
