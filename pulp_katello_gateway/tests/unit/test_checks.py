"""System checks: ``check`` (E003) and ``check --deploy`` (settings), one message per mistake."""

import os
import re
import socket
import stat
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings
from django.utils import timezone
from pulpcore.app.authentication import BasicAuthentication, PulpRemoteUserAuthentication
from rest_framework.settings import api_settings

from devtools.pki import CertificateAuthority, write_token_keys
from pulp_katello_gateway.app import checks
from pulp_katello_gateway.app.acl import state as acl_state
from pulp_katello_gateway.app.models import PushState


def ids(messages):
    return sorted(message.id for message in messages)


def test_the_test_settings_pass():
    assert checks.token_settings_check(None) == []
    assert checks.limits_check(None) == []
    assert checks.trusted_proxies_check(None) == []
    assert checks.authentication_classes_check(None) == []
    with override_settings(KATELLO_GATEWAY_FOREMAN_URL="https://foreman.example.com"):
        assert checks.foreman_settings_check(None) == []


@pytest.mark.django_db  # pulp_container's own checks query the database
def test_disabled_token_auth_is_an_error_of_check_deploy_only():
    with override_settings(TOKEN_AUTH_DISABLED=True):
        assert ids(checks.token_settings_check(None)) == ["katello_gateway.E004"]
        call_command("check", "katello_gateway")  # start-up checks stay quiet
        with pytest.raises(SystemCheckError, match="katello_gateway.E004"):
            call_command("check", "katello_gateway", "--deploy")


@pytest.mark.parametrize(
    "server, expected",
    [
        ("https://capsule.example.com/token/", []),
        ("http://capsule.example.com/token/", ["katello_gateway.W003"]),
        ("https://capsule.example.com/v2/token", ["katello_gateway.W002"]),
        ("http://capsule.example.com/v2/token", ["katello_gateway.W002", "katello_gateway.W003"]),
        ("capsule.example.com/token/", ["katello_gateway.E005"]),
    ],
)
def test_token_server(server, expected):
    with override_settings(TOKEN_SERVER=server):
        assert ids(checks.token_settings_check(None)) == expected


def test_token_keys_must_be_readable_and_a_pair_of_the_algorithm(tmp_path):
    other_private, _ = write_token_keys(tmp_path / "other")
    with override_settings(PRIVATE_KEY_PATH=str(tmp_path / "missing.pem")):
        [message] = checks.token_settings_check(None)
        assert message.id == "katello_gateway.E006" and "PRIVATE_KEY_PATH" in message.msg
    with override_settings(PRIVATE_KEY_PATH=str(other_private)):
        [message] = checks.token_settings_check(None)
        assert message.id == "katello_gateway.E007"
        assert "PUBLIC_KEY_PATH does not verify tokens signed with PRIVATE_KEY_PATH" in message.msg
    with override_settings(TOKEN_SIGNATURE_ALGORITHM="RS256"):  # the keys are EC keys
        [message] = checks.token_settings_check(None)
        assert message.id == "katello_gateway.E007"
        assert "holds an EC key on secp256r1, which cannot sign RS256 tokens" in message.msg


@pytest.mark.parametrize(
    "url, expected",
    [
        (None, ["katello_gateway.W001"]),
        ("http://foreman.example.com", ["katello_gateway.W004"]),
        ("foreman.example.com", ["katello_gateway.E008"]),
    ],
)
def test_foreman_url(url, expected):
    with override_settings(KATELLO_GATEWAY_FOREMAN_URL=url):
        assert ids(checks.foreman_settings_check(None)) == expected


def test_ca_files_must_be_readable_pem_certificates(tmp_path):
    ca = CertificateAuthority(tmp_path / "ca", common_name="test CA")
    not_pem = tmp_path / "not-a-ca.pem"
    not_pem.write_text("hello")
    url = "https://foreman.example.com"
    with override_settings(KATELLO_GATEWAY_FOREMAN_URL=url,
                           KATELLO_GATEWAY_FOREMAN_CA_FILE=str(ca.cert_path),
                           KATELLO_GATEWAY_CONSUMER_CA_FILE=str(ca.cert_path)):
        assert checks.foreman_settings_check(None) == []
    with override_settings(KATELLO_GATEWAY_FOREMAN_URL=url,
                           KATELLO_GATEWAY_FOREMAN_CA_FILE=str(not_pem),
                           KATELLO_GATEWAY_CONSUMER_CA_FILE=str(tmp_path / "missing.pem")):
        messages = checks.foreman_settings_check(None)
    assert ids(messages) == ["katello_gateway.E001", "katello_gateway.E009"]
    assert "KATELLO_GATEWAY_CONSUMER_CA_FILE" in messages[0].msg + messages[1].msg


@pytest.mark.parametrize(
    "name, value",
    [
        ("KATELLO_GATEWAY_FOREMAN_MAX_CONCURRENT", 0),
        ("KATELLO_GATEWAY_FOREMAN_MAX_CONCURRENT", "4"),
        ("KATELLO_GATEWAY_FOREMAN_MAX_CONCURRENT", 2.5),
        ("KATELLO_GATEWAY_FOREMAN_READ_TIMEOUT", 0),
        ("KATELLO_GATEWAY_LOGIN_CACHE_TTL", -1),
        ("KATELLO_GATEWAY_THROTTLE_WINDOW", True),
        ("KATELLO_GATEWAY_PUSH_MAX_ENTRIES", 1e6),
    ],
)
def test_numbers_out_of_range(name, value):
    with override_settings(**{name: value}):
        [message] = checks.limits_check(None)
    assert message.id == "katello_gateway.E010" and name in message.msg


def test_trusted_proxies_must_be_addresses_networks_or_unix():
    good = ["127.0.0.1", "::1", "10.0.0.0/8", "unix"]
    with override_settings(KATELLO_GATEWAY_TRUSTED_PROXIES=[*good, "proxy.example.com"]):
        [message] = checks.trusted_proxies_check(None)
    assert message.id == "katello_gateway.E011" and "proxy.example.com" in message.msg


@pytest.mark.parametrize("trusted, expected", [
    (["unix"], []),
    (["127.0.0.1"], ["katello_gateway.W010"]),
    (["unix", "::1"], ["katello_gateway.W010"]),
    (["10.0.0.0/8"], ["katello_gateway.W010"]),
])
def test_trusting_a_tcp_peer_is_a_warning(trusted, expected):
    """Every local user reaches a loopback port: trusting one trusts them all."""
    with override_settings(KATELLO_GATEWAY_TRUSTED_PROXIES=trusted):
        assert ids(checks.trusted_proxies_check(None)) == expected


def _socket(path, mode):
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    os.chmod(path, mode)
    return listener


@pytest.mark.parametrize("mode, expected", [
    (0o600, []), (0o700, []), (0o660, ["katello_gateway.W011"]),
    (0o606, ["katello_gateway.W011"]), (0o777, ["katello_gateway.W011"]),
])
def test_the_api_socket_must_be_closed_to_other_users(tmp_path, mode, expected):
    path = tmp_path / "api.sock"
    with _socket(path, mode), override_settings(KATELLO_GATEWAY_API_SOCKET=str(path)):
        messages = checks.api_socket_check(None)
    assert ids(messages) == expected
    assert all(stat.filemode(0o140000 | mode) in message.msg for message in messages)


def test_an_api_socket_that_is_not_one_is_a_warning(tmp_path):
    (tmp_path / "file").write_text("")
    for path in (tmp_path / "missing.sock", tmp_path / "file"):
        with override_settings(KATELLO_GATEWAY_API_SOCKET=str(path)):
            [message] = checks.api_socket_check(None)
        assert message.id == "katello_gateway.W011" and str(path) in message.msg
    assert checks.api_socket_check(None) == []  # not set: nothing to check


def test_an_authentication_class_listed_twice_is_a_warning():
    """install.md once merged its list into Pulp's: [Basic, Session, Session, RemoteUser]."""
    merged = [
        "pulpcore.app.authentication.BasicAuthentication",
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.SessionAuthentication",
        "pulpcore.app.authentication.PulpRemoteUserAuthentication",
    ]
    rest = {**settings.REST_FRAMEWORK, "DEFAULT_AUTHENTICATION_CLASSES": merged}
    with override_settings(REST_FRAMEWORK=rest):
        [message] = checks.authentication_classes_check(None)
    assert message.id == "katello_gateway.W012"
    assert "rest_framework.authentication.SessionAuthentication" in message.msg
    assert "BasicAuthentication" not in message.msg


@pytest.mark.parametrize("origin, expected", [
    ("https://capsule.example.com", []),
    (None, []),
    ("http://capsule.example.com:24816", ["katello_gateway.W013"]),
])
def test_a_plain_http_content_origin_is_a_warning(origin, expected):
    """Registry clients follow the blob (and, before pulp_container 2.28, manifest) redirects."""
    with override_settings(CONTENT_ORIGIN=origin):
        assert ids(checks.content_origin_check(None)) == expected


@pytest.mark.django_db
def test_deploy_checks_run_with_check_deploy():
    assert settings.KATELLO_GATEWAY_FOREMAN_URL is None
    with pytest.raises(SystemCheckError, match="katello_gateway.E010"):
        with override_settings(KATELLO_GATEWAY_FOREMAN_MAX_CONCURRENT=0):
            call_command("check", "katello_gateway", "--deploy")


@pytest.mark.parametrize("believed, expected", [(False, []), (True, ["katello_gateway.W005"])])
def test_remote_user_believed_by_the_token_endpoint_is_a_warning(monkeypatch, believed, expected):
    monkeypatch.setattr(
        api_settings,
        "DEFAULT_AUTHENTICATION_CLASSES",
        [BasicAuthentication, PulpRemoteUserAuthentication],
    )
    with override_settings(KATELLO_GATEWAY_TOKEN_REMOTE_AUTHENTICATION=believed):
        assert ids(checks.remote_authentication_check(None)) == expected


def test_remote_authentication_without_a_remote_user_class_is_fine():
    with override_settings(KATELLO_GATEWAY_TOKEN_REMOTE_AUTHENTICATION=True):
        assert checks.remote_authentication_check(None) == []


@pytest.mark.django_db
def test_check_deploy_says_when_all_of_the_plugins_checks_passed(capsys):
    acl_state.note_push("repository_list", 100, 1)
    with override_settings(KATELLO_GATEWAY_FOREMAN_URL="https://foreman.example.com"):
        call_command("check", "--deploy", "--tag", "katello_gateway")
    out = capsys.readouterr()
    assert re.findall(r"\(([\w.]+\.[CEWID]\d{3})\)", out.out + out.err) == [
        "katello_gateway.I001"
    ]


@pytest.mark.django_db
def test_no_recent_push_is_a_warning():
    [never] = checks.push_freshness_check(None)
    assert never.id == "katello_gateway.W006" and "never" in never.msg
    acl_state.note_push("repository_list", 100, 1)
    assert checks.push_freshness_check(None) == []
    with override_settings(KATELLO_GATEWAY_PUSH_MAX_AGE=1):
        PushState.objects.update(pushed_at=timezone.now() - timedelta(seconds=5))
        [old] = checks.push_freshness_check(None)
    assert old.id == "katello_gateway.W006" and "last at" in old.msg
