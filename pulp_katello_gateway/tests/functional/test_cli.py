"""pulp-cli-katello-gateway: the real ``pulp`` command against the real stack, configured as
docs/admin/guides/cli.md says (a config file with the API's URL and the admin, the CA through
REQUESTS_CA_BUNDLE), on repositories, users and a host Katello pushed and pulls made by skopeo."""

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devtools.clients import Skopeo
from devtools.oci import build_image

# The `pulp` command of this environment (the Makefile installs pulp-cli-katello-gateway).
PULP = Path(sys.executable).with_name("pulp")


@pytest.fixture(scope="module")
def world(make_world, work_dir):
    """``private`` (granted to alice and the host), ``public``; bob has no grant. The image is
    the module's own, so its digest finds only this module's pulls."""
    layout = work_dir / f"cli-image-{uuid.uuid4().hex[:8]}"
    image = layout, build_image(layout, text=f"pulp-cli test {layout.name}\n")
    return make_world("cli", {"private": True, "public": False},
                      users={"alice": ["private"], "bob": []}, hosts={"host": ["private"]},
                      image=image)


@pytest.fixture(scope="module")
def pulled(pulp, world, tmp_path_factory):
    """alice pulls ``private``, bob pulls ``public`` with his credentials (both log in, so Pulp
    knows them); returns the time just before."""
    before = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    workdir = tmp_path_factory.mktemp("cli-pulls")
    skopeo = Skopeo(pulp.certs_dir, workdir)
    for who, kind in (("alice", "private"), ("bob", "public")):
        skopeo.copy(f"docker://{pulp.registry}/{world.repos[kind]}:latest",
                    f"oci:{workdir / who}:latest", src_creds=world.users[who]["auth"])
    return before


@pytest.fixture(scope="module")
def cli(pulp, tmp_path_factory):
    """``cli(*args)``: run ``pulp --config <file> *args``; returns the finished process. The
    API description pulp-glue caches is shared by the module's calls."""
    home = tmp_path_factory.mktemp("cli-home")
    config = home / "cli.toml"
    user, password = pulp.admin_auth
    config.write_text(f"[cli]\nbase_url = {json.dumps(pulp.api_url)}\n"
                      f"username = {json.dumps(user)}\npassword = {json.dumps(password)}\n")
    env = {key: value for key, value in os.environ.items()
           if not key.lower().endswith("_proxy")}  # only ever the stack on 127.0.0.1
    env.update(REQUESTS_CA_BUNDLE=str(pulp.ca_file), XDG_CACHE_HOME=str(home / "cache"),
               XDG_CONFIG_HOME=str(home / "config"))

    def run(*args):
        return subprocess.run([str(PULP), "--config", str(config), *args], env=env,
                              capture_output=True, text=True, timeout=300)

    return run


def _json(result):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_repositories_katello_pushed(cli, world, pulled):
    private, public = world.repos["private"], world.repos["public"]
    listed = _json(cli("katello-gateway", "repository", "list", "--name-contains", world.prefix))
    assert {(r["name"], r["auth_required"]) for r in listed} == {(private, True), (public, False)}

    alice = world.users["alice"]["login"]
    granted = _json(cli("katello-gateway", "repository", "list", "--granted-to-user", alice))
    assert [r["name"] for r in granted] == [private]
    protected = _json(cli("katello-gateway", "repository", "list", "--name-contains",
                          world.prefix, "--auth-required"))
    assert [r["name"] for r in protected] == [private]
    page = _json(cli("katello-gateway", "repository", "list", "--name-contains", world.prefix,
                     "--limit", "1", "--offset", "1"))
    assert len(page) == 1 and page[0]["name"] in (private, public)

    shown = _json(cli("katello-gateway", "repository", "show", "--name", private))
    assert shown["name"] == private and shown["auth_required"] is True
    assert _json(cli("katello-gateway", "repository", "show", "--href",
                     shown["pulp_href"])) == shown


def test_users_known_after_their_login(cli, world, pulled):
    alice, bob = world.users["alice"]["login"], world.users["bob"]["login"]
    listed = _json(cli("katello-gateway", "user", "list", "--login-contains", world.prefix))
    assert {u["login"] for u in listed} == {alice, bob}
    granted = _json(cli("katello-gateway", "user", "list", "--granted-repository",
                        world.repos["private"]))
    assert [u["login"] for u in granted] == [alice]

    shown = _json(cli("katello-gateway", "user", "show", "--login", alice))
    assert shown["login"] == alice and shown["username"] == f"foreman:{alice}"
    assert _json(cli("katello-gateway", "user", "show", "--href", shown["pulp_href"])) == shown


def test_hosts_katello_pushed(cli, world):
    host = world.hosts["host"]
    granted = _json(cli("katello-gateway", "host", "list", "--granted-repository",
                        world.repos["private"]))
    assert [h["uuid"] for h in granted] == [host]
    assert _json(cli("katello-gateway", "host", "list", "--granted-repository",
                     world.repos["public"])) == []

    shown = _json(cli("katello-gateway", "host", "show", "--uuid", host))
    assert shown["uuid"] == host
    assert _json(cli("katello-gateway", "host", "show", "--href", shown["pulp_href"])) == shown


def test_pulls_of_a_digest(cli, world, pulled):
    alice, bob = world.users["alice"]["login"], world.users["bob"]["login"]
    # The admin's own pushes of the image are recorded too (kind pulp): not the question here.
    pulls = _json(cli("katello-gateway", "pulls", "--digest", world.digest, "--kind", "foreman"))
    assert {(p["login"], p["repository"]) for p in pulls} == {
        (alice, world.repos["private"]), (bob, world.repos["public"])}
    assert all(p["digest"] == world.digest and p["count"] >= 1 for p in pulls)

    since = pulled.isoformat()
    by_alice = _json(cli("katello-gateway", "pulls", "--digest", world.digest, "--login", alice,
                         "--since", since))
    assert [(p["login"], p["repository"], p["kind"]) for p in by_alice] == [
        (alice, world.repos["private"], "foreman")]
    assert _json(cli("katello-gateway", "pulls", "--digest", world.digest,
                     "--since", "2999-01-01")) == []


@pytest.mark.parametrize(("who", "actions", "identity", "rule"), [
    ("alice", ["pull"], "foreman", "grant from Katello"),
    ("bob", [], "foreman", "no grant"),
    ("host", ["pull"], "host", "grant from Katello"),
    ("anonymous", [], "anonymous", "the repository requires authentication"),
])
def test_explain_a_private_repository(cli, world, pulled, who, actions, identity, rule):
    private = world.repos["private"]
    option = {"alice": ["--login", world.users["alice"]["login"]],
              "bob": ["--login", world.users["bob"]["login"]],
              "host": ["--host", world.hosts["host"]],
              "anonymous": ["--anonymous"]}[who]
    explained = _json(cli("katello-gateway", "explain", "--repository", private, *option))
    assert explained["repository"] == private
    assert (explained["actions"], explained["identity"]) == (actions, identity)
    assert explained["rule"].startswith(rule)


def test_status_in_each_output_format(cli, world):
    status = _json(cli("katello-gateway", "status"))
    assert status["stale"] is False  # the world's push
    assert set(status["endpoints"]) >= {"repository_list", "user_repository_mapping",
                                        "update_hosts", "host_repository_mapping"}
    as_yaml = cli("--format", "yaml", "katello-gateway", "status")
    assert as_yaml.returncode == 0, as_yaml.stderr
    assert "stale: false" in as_yaml.stdout.splitlines()
    assert "  repository_list:" in as_yaml.stdout.splitlines()
    quiet = cli("--format", "none", "katello-gateway", "status")
    assert (quiet.returncode, quiet.stdout.strip()) == (0, "")


def _failed(result, exit_code):
    assert result.returncode == exit_code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stderr


def test_unknown_names_are_a_clear_error(cli, world):
    missing = f"{world.prefix}/missing"
    error = _failed(cli("katello-gateway", "repository", "show", "--name", missing), 1)
    assert f"Could not find katello gateway repository with {{'name': '{missing}'}}." in error
    error = _failed(cli("katello-gateway", "user", "show", "--login", "nobody-" + world.prefix), 1)
    assert "Error: Could not find katello gateway user" in error

    error = _failed(cli("katello-gateway", "explain", "--repository", world.repos["private"],
                        "--login", "nobody-" + world.prefix), 1)
    assert error.strip() == (f"Error: No login 'nobody-{world.prefix}': neither a Foreman user "
                             "that has logged in here nor a local Pulp user.")
    error = _failed(cli("katello-gateway", "explain", "--repository", world.repos["private"],
                        "--host", str(uuid.uuid4())), 1)
    assert "Katello has not pushed it" in error


@pytest.mark.parametrize("identity", [[], ["--login", "alice", "--host", "h"],
                                      ["--login", "alice", "--anonymous"]])
def test_explain_needs_exactly_one_identity(cli, identity):
    error = _failed(cli("katello-gateway", "explain", "--repository", "r", *identity), 2)
    assert error.startswith("Usage: pulp katello-gateway explain")
    assert "Error: Give exactly one of --login, --host and --anonymous." in error
