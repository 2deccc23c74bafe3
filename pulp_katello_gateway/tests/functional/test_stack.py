"""The stack itself: the plugin is installed and the registry works through token auth."""

import json
import re
import subprocess

import requests
from django.conf import settings

from devtools.stack import BIN
from pulp_katello_gateway.app.middleware import MIDDLEWARE_PATH


def test_status_lists_plugin(pulp):
    status = pulp.session(auth=None).get(f"{pulp.api_url}/pulp/api/v3/status/").json()
    versions = {v["component"]: v for v in status["versions"]}
    assert versions["katello_gateway"]["package"] == "pulp-katello-gateway"
    assert "container" in versions


def test_registry_challenges_with_token_realm(pulp):
    response = requests.get(f"{pulp.api_url}/v2/", verify=str(pulp.ca_file), timeout=10)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith(
        f'Bearer realm="{pulp.api_url}/token/"'
    )


def test_admin_push_and_pull_back(pulp, skopeo, oci_image, unique_repo, tmp_path):
    layout, digest = oci_image
    ref = f"docker://{pulp.registry}/{unique_repo}:latest"
    skopeo.copy(f"oci:{layout}:latest", ref, dest_creds=pulp.admin_auth)

    inspected = skopeo.inspect(ref, creds=pulp.admin_auth)
    assert inspected["Digest"] == digest

    skopeo.copy(ref, f"oci:{tmp_path / 'pulled'}:latest", src_creds=pulp.admin_auth)
    index = (tmp_path / "pulled" / "index.json").read_text()
    assert digest in index

    # The pull went through the bearer-token flow: the API log shows token requests for the repo.
    scope = f"repository%3A{unique_repo.replace('/', '%2F')}%3Apull"
    assert pulp.wait_access_lines(f"/token/?account=admin&scope={scope}", 1)


def test_wrong_admin_password_is_refused(pulp, skopeo, oci_image, unique_repo):
    layout, _ = oci_image
    result = skopeo.copy(
        f"oci:{layout}:latest",
        f"docker://{pulp.registry}/{unique_repo}:latest",
        dest_creds=("admin", "not-the-password"),
        check=False,
    )
    assert result.returncode != 0
    assert "401" in result.stderr or "unauthorized" in result.stderr.lower()


def _manage(pulp, *args):
    return subprocess.run(
        [str(BIN / "pulpcore-manager"), *args],
        env=pulp.env(), capture_output=True, text=True, timeout=120,
    )


def test_plugin_migrations_are_applied_and_complete(pulp):
    shown = _manage(pulp, "showmigrations", "katello_gateway")
    assert shown.returncode == 0, shown.stderr
    lines = [line.strip() for line in shown.stdout.splitlines()[1:] if line.strip()]
    assert lines and all(line.startswith("[X]") for line in lines), shown.stdout
    pending = _manage(pulp, "makemigrations", "katello_gateway", "--check", "--dry-run")
    assert pending.returncode == 0, pending.stdout


def test_system_checks_pass(pulp):
    checked = _manage(pulp, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "no issues" in checked.stdout


def test_a_replaced_middleware_list_is_reported_by_check(pulp):
    """settings.md: MIDDLEWARE set without merging loses the plugin's; ``check`` says so (E003),
    it does not die with a traceback."""
    replaced = [entry for entry in settings.MIDDLEWARE if entry != MIDDLEWARE_PATH]
    checked = subprocess.run(
        [str(BIN / "pulpcore-manager"), "check"],
        env=dict(pulp.env(), PULP_MIDDLEWARE=json.dumps(replaced)),
        capture_output=True, text=True, timeout=120,
    )
    assert checked.returncode == 1
    assert "katello_gateway.E003" in checked.stderr
    assert "Traceback" not in checked.stdout + checked.stderr


def test_check_deploy_with_the_plugins_tag_shows_only_the_plugins_messages(pulp, push_katello):
    push_katello()  # a recent push, so that W006 has nothing to say
    checked = _manage(pulp, "check", "--deploy", "--tag", "katello_gateway")
    ids = re.findall(r"\(([\w.]+\.[CEWID]\d{3})\)", checked.stdout + checked.stderr)
    # The stack's stand-in Foreman is plain HTTP on loopback: the one thing to warn about.
    assert ids == ["katello_gateway.W004"], checked.stdout + checked.stderr


def test_check_deploy_says_nothing_about_the_plugins_api_schema(pulp):
    """Untagged, ``check --deploy`` also generates the OpenAPI schema (drf-spectacular): its
    warnings about Pulp's and other plugins' code are theirs; none is about this plugin's."""
    checked = _manage(pulp, "check", "--deploy")
    output = checked.stdout + checked.stderr
    assert "(drf_spectacular.W001)" in output  # the schema was generated, and warned of others
    ours = [line for line in output.splitlines()
            if "drf_spectacular" in line and ("katello_gateway" in line or "KatelloRepo" in line)]
    assert ours == []
