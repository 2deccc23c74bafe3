"""System checks that turn a misconfiguration into a clear message at start-up.

``pulpcore-manager check`` runs E003 (the token endpoint override); ``check --deploy`` adds the
settings checks below, each message naming the setting and what to do about it, and I001 when
they all pass. All carry the tag ``katello_gateway``: ``check --deploy --tag katello_gateway``
shows the plugin's messages alone.
"""

import ipaddress
import os
import pwd
import stat
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings
from django.core.checks import Error, Info, Warning, register
from django.db import DatabaseError
from rest_framework.authentication import RemoteUserAuthentication
from rest_framework.settings import api_settings

from pulp_katello_gateway.app import certificates, ownership, trust_boundary
from pulp_katello_gateway.app.acl import state as acl_state
from pulp_katello_gateway.app.trust_boundary import UNIX_SOCKET

TAG = "katello_gateway"


@register(TAG)
def token_endpoint_check(app_configs, **kwargs):
    """Without the override, pulp_container's stock token endpoint would ignore Katello's ACL."""
    from pulp_katello_gateway.app.middleware import override_problems

    return [
        Error(
            f"The Katello gateway's registry override is not in effect: {problem}.",
            hint="Keep pulp_katello_gateway's middleware in MIDDLEWARE (merge, don't replace, "
            "with 'dynaconf_merge' when you set MIDDLEWARE).",
            id="katello_gateway.E003",
        )
        for problem in override_problems()
    ]


def foreman_settings_check(app_configs, **kwargs):
    """Foreman logins need a usable Foreman URL; TLS files must be readable PEM when given."""
    messages = []
    if not settings.KATELLO_GATEWAY_FOREMAN_URL:
        messages.append(
            Warning(
                "KATELLO_GATEWAY_FOREMAN_URL is not set: Foreman users cannot log in.",
                hint="Set it to Foreman's base URL, e.g. https://foreman.example.com.",
                id="katello_gateway.W001",
            )
        )
    else:
        messages += _url_problems(
            "KATELLO_GATEWAY_FOREMAN_URL", settings.KATELLO_GATEWAY_FOREMAN_URL,
            invalid_id="katello_gateway.E008", plain_http_id="katello_gateway.W004",
            why="Foreman users' passwords and tokens are sent to it",
        )
    for name in (
        "KATELLO_GATEWAY_FOREMAN_CA_FILE",
        "KATELLO_GATEWAY_FOREMAN_CLIENT_CERT",
        "KATELLO_GATEWAY_FOREMAN_CLIENT_KEY",
        "KATELLO_GATEWAY_CONSUMER_CA_FILE",
    ):
        value = getattr(settings, name)
        if value and not _readable(value):
            messages.append(
                Error(f"{name} names {value!r}, which is not a readable file.",
                      hint="Fix the path or the file's permissions for the user Pulp runs as.",
                      id="katello_gateway.E001")
            )
        elif value and name.endswith("_CA_FILE") and not _has_certificates(value):
            messages.append(
                Error(f"{name} names {value!r}, which holds no PEM certificate.",
                      hint="Point it at the CA bundle (PEM, -----BEGIN CERTIFICATE-----).",
                      id="katello_gateway.E009")
            )
    if bool(settings.KATELLO_GATEWAY_FOREMAN_CLIENT_CERT) != bool(
        settings.KATELLO_GATEWAY_FOREMAN_CLIENT_KEY
    ):
        messages.append(
            Error(
                "KATELLO_GATEWAY_FOREMAN_CLIENT_CERT and _CLIENT_KEY must be set together.",
                id="katello_gateway.E002",
            )
        )
    return messages


def _readable(path):
    return Path(path).is_file() and os.access(path, os.R_OK)


def _has_certificates(path):
    try:
        return bool(x509.load_pem_x509_certificates(Path(path).read_bytes()))
    except ValueError:
        return False


def _url_problems(name, value, *, invalid_id, plain_http_id, why):
    parts = urlsplit(str(value))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [Error(f"{name} is {value!r}, which is not an http(s) URL.",
                      hint="Give the absolute URL, e.g. https://host.example.com/…",
                      id=invalid_id)]
    if parts.scheme == "http":
        return [Warning(f"{name} is plain HTTP: {why} unencrypted.",
                        hint="Use https:// outside a test setup.", id=plain_http_id)]
    return []


def token_settings_check(app_configs, **kwargs):
    """Registry tokens must be required, signed by a key pair that matches, from a reachable realm.

    pulp_container's own check (pulp_container.E001) reports these settings when unset.
    """
    if str(getattr(settings, "TOKEN_AUTH_DISABLED", False)).lower() == "true":
        return [Error(
            "TOKEN_AUTH_DISABLED is true: the registry does not ask for tokens, so Katello's "
            "access rules are not enforced and Foreman users cannot log in.",
            hint="Set TOKEN_AUTH_DISABLED = False and configure TOKEN_SERVER and the token keys.",
            id="katello_gateway.E004",
        )]
    messages = []
    server = getattr(settings, "TOKEN_SERVER", None)
    if server:
        messages += _url_problems(
            "TOKEN_SERVER", server, invalid_id="katello_gateway.E005",
            plain_http_id="katello_gateway.W003", why="registry clients send passwords to it",
        )
        invalid = any(message.id == "katello_gateway.E005" for message in messages)
        if not invalid and not urlsplit(server).path.endswith("/token/"):
            messages.append(Warning(
                f"TOKEN_SERVER is {server!r}: clients are sent there for tokens, but this "
                "plugin answers /token/.",
                hint="Set it to https://<this Pulp as clients see it>/token/ unless your web "
                "server maps that path to /token/.",
                id="katello_gateway.W002",
            ))
    keys = {name: getattr(settings, name, None) for name in ("PRIVATE_KEY_PATH", "PUBLIC_KEY_PATH")}
    unreadable = [name for name, path in keys.items() if path and not _readable(path)]
    for name in unreadable:
        messages.append(Error(
            f"{name} names {keys[name]!r}, which is not a readable file: no token can be "
            "issued or verified.",
            hint="Fix the path or permissions; install.md shows how to create the key pair.",
            id="katello_gateway.E006",
        ))
    algorithm = getattr(settings, "TOKEN_SIGNATURE_ALGORITHM", None)
    if all(keys.values()) and not unreadable and algorithm:
        messages += _key_pair_problems(keys, algorithm)
    return messages


def _key_pair_problems(keys, algorithm):
    """Sign and verify a token the way pulp_container does: proves the pair and the algorithm."""
    hint = ("Use a key pair of the algorithm's type (e.g. EC prime256v1 for ES256), with "
            "PUBLIC_KEY_PATH derived from PRIVATE_KEY_PATH; install.md shows the commands.")
    private = Path(keys["PRIVATE_KEY_PATH"]).read_bytes()
    try:
        token = jwt.encode({"check": True}, private, algorithm=algorithm)
    except (jwt.PyJWTError, ValueError, TypeError, NotImplementedError):
        return [Error(f"PRIVATE_KEY_PATH holds {_describe_key(private)}, which cannot sign "
                      f"{algorithm} tokens (TOKEN_SIGNATURE_ALGORITHM).", hint=hint,
                      id="katello_gateway.E007")]
    try:
        jwt.decode(token, Path(keys["PUBLIC_KEY_PATH"]).read_bytes(), algorithms=[algorithm])
    except (jwt.PyJWTError, ValueError, TypeError):
        return [Error("PUBLIC_KEY_PATH does not verify tokens signed with PRIVATE_KEY_PATH: "
                      "registry clients would be refused every token.", hint=hint,
                      id="katello_gateway.E007")]
    return []


def _describe_key(pem):
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        return "no unencrypted PEM private key"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return f"an EC key on {key.curve.name}"
    if isinstance(key, rsa.RSAPrivateKey):
        return f"an RSA key of {key.key_size} bits"
    return f"a {type(key).__name__.lstrip('_')}"


# Numeric settings and the smallest value that makes sense.
_MINIMUMS = {
    "KATELLO_GATEWAY_FOREMAN_CONNECT_TIMEOUT": 0.1,
    "KATELLO_GATEWAY_FOREMAN_READ_TIMEOUT": 0.1,
    "KATELLO_GATEWAY_FOREMAN_MAX_CONCURRENT": 1,
    "KATELLO_GATEWAY_FOREMAN_BACKOFF": 0,
    "KATELLO_GATEWAY_LOGIN_CACHE_TTL": 0,
    "KATELLO_GATEWAY_LOGIN_MAX_STALE": 0,
    "KATELLO_GATEWAY_THROTTLE_ADDRESS_FAILURES": 1,
    "KATELLO_GATEWAY_THROTTLE_LOGIN_FAILURES": 1,
    "KATELLO_GATEWAY_THROTTLE_CLIENT_FAILURES": 1,
    "KATELLO_GATEWAY_THROTTLE_FOREMAN_FAILURES": 1,
    "KATELLO_GATEWAY_THROTTLE_WINDOW": 1,
    "KATELLO_GATEWAY_FOREMAN_FAILED_LOGIN_ATTEMPTS_LIMIT": 0,
    "KATELLO_GATEWAY_FOREMAN_ACCOUNT_LOCKOUT_ATTEMPTS": 0,
    "KATELLO_GATEWAY_PUSH_MAX_BYTES": 1,
    "KATELLO_GATEWAY_PUSH_MAX_ENTRIES": 1,
    "KATELLO_GATEWAY_PULL_RECORD_RETENTION_DAYS": 1,
    "KATELLO_GATEWAY_PUSH_MAX_AGE": 1,
    "KATELLO_GATEWAY_HOST_REFRESH_INTERVAL": 0,
}
_INTEGERS = {
    "KATELLO_GATEWAY_THROTTLE_ADDRESS_FAILURES",
    "KATELLO_GATEWAY_THROTTLE_LOGIN_FAILURES",
    "KATELLO_GATEWAY_THROTTLE_CLIENT_FAILURES",
    "KATELLO_GATEWAY_THROTTLE_FOREMAN_FAILURES",
    "KATELLO_GATEWAY_FOREMAN_FAILED_LOGIN_ATTEMPTS_LIMIT",
    "KATELLO_GATEWAY_FOREMAN_ACCOUNT_LOCKOUT_ATTEMPTS",
    "KATELLO_GATEWAY_FOREMAN_MAX_CONCURRENT",
    "KATELLO_GATEWAY_PUSH_MAX_BYTES",
    "KATELLO_GATEWAY_PUSH_MAX_ENTRIES",
}


def limits_check(app_configs, **kwargs):
    """Numbers the gateway computes with; a wrong one would fail requests, not start-up."""
    messages = []
    for name, minimum in _MINIMUMS.items():
        value = getattr(settings, name)
        kind = int if name in _INTEGERS else (int, float)
        if isinstance(value, bool) or not isinstance(value, kind) or value < minimum:
            what = "an integer" if name in _INTEGERS else "a number"
            messages.append(Error(
                f"{name} is {value!r}; it must be {what} of at least {minimum}.",
                hint="See settings.md for what it does.", id="katello_gateway.E010",
            ))
    return messages


def trusted_proxies_check(app_configs, **kwargs):
    """Trusted proxies are parsed at each request (a typo would fail every host's request); a
    TCP peer trusted is trusted for every local process that can reach pulpcore-api's port."""
    messages = []
    tcp = trust_boundary.trusted_tcp_entries()
    for entry in tcp:
        try:
            ipaddress.ip_network(entry, strict=False)
        except (TypeError, ValueError):
            messages.append(Error(
                f"KATELLO_GATEWAY_TRUSTED_PROXIES holds {entry!r}, which is neither an address, "
                f"a network (CIDR) nor {UNIX_SOCKET!r}.",
                hint="List the addresses of the web servers in front of pulpcore-api.",
                id="katello_gateway.E011",
            ))
    if tcp and not messages:
        messages.append(Warning(
            f"KATELLO_GATEWAY_TRUSTED_PROXIES trusts TCP peers ({', '.join(map(str, tcp))}): "
            "any process that reaches pulpcore-api's port from there can name a remote user or "
            "a host's certificate, as the web server does.",
            hint="Run pulpcore-api on a Unix socket that only the web server can open and trust "
            "[\"unix\"] alone (install.md); if the web server is on another machine, let "
            "nothing else reach the port.",
            id="katello_gateway.W010",
        ))
    return messages


def api_socket_check(app_configs, **kwargs):
    """Trusting the socket is safe only if the web server alone can open it."""
    path = settings.KATELLO_GATEWAY_API_SOCKET
    if not path:
        return []
    try:
        info = os.stat(path)
    except OSError as exc:
        return [Warning(
            f"KATELLO_GATEWAY_API_SOCKET names {path!r}, which cannot be checked "
            f"({exc.strerror}).",
            hint="Start pulpcore-api (or its systemd socket) first, or fix the path.",
            id="katello_gateway.W011",
        )]
    if not stat.S_ISSOCK(info.st_mode):
        return [Warning(f"KATELLO_GATEWAY_API_SOCKET names {path!r}, which is not a socket.",
                        hint="Name the ListenStream of pulpcore-api's socket unit.",
                        id="katello_gateway.W011")]
    if info.st_mode & 0o077:
        return [Warning(
            f"pulpcore-api's socket {path!r} has mode {stat.filemode(info.st_mode)} (owner "
            f"{_user_name(info.st_uid)}): "
            "users other than its owner, the web server's, can connect to it and name a remote "
            "user or a host's certificate.",
            hint="Give the socket to the web server's user with mode 0600 (systemd: "
            "SocketUser=, SocketMode=0600), as install.md shows.",
            id="katello_gateway.W011",
        )]
    return []


def _user_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def authentication_classes_check(app_configs, **kwargs):
    """A class listed twice is the mark of a settings block merged into a list it meant to
    replace: the list is then not the one the admin wrote, and may not be in that order."""
    counts = Counter(api_settings.DEFAULT_AUTHENTICATION_CLASSES)
    twice = [f"{cls.__module__}.{cls.__name__}" for cls, count in counts.items() if count > 1]
    if not twice:
        return []
    return [Warning(
        f"REST_FRAMEWORK's DEFAULT_AUTHENTICATION_CLASSES lists {', '.join(twice)} more than "
        "once: a settings block was merged into Pulp's list instead of replacing it.",
        hint="Set the whole list with REST_FRAMEWORK__DEFAULT_AUTHENTICATION_CLASSES = [...] "
        "(install.md, step 3), not with dynaconf_merge.",
        id="katello_gateway.W012",
    )]


def content_origin_check(app_configs, **kwargs):
    """Registry clients follow redirects to CONTENT_ORIGIN: for every blob, and on pulp_container
    before 2.28 for every manifest. They must land on the web server over https."""
    origin = getattr(settings, "CONTENT_ORIGIN", None)
    if not origin or urlsplit(str(origin)).scheme != "http":
        return []
    return [Warning(
        f"CONTENT_ORIGIN is {origin!r}: registry clients are redirected there for blobs (and "
        "for manifests on pulp_container before 2.28), in plain HTTP and around the web server.",
        hint="Set it to the web server's https:// origin, the one in TOKEN_SERVER.",
        id="katello_gateway.W013",
    )]


def remote_authentication_check(app_configs, **kwargs):
    """A remote-user header believed on the token endpoint is an identity anyone could claim,
    unless the web server overwrites it on every request that reaches Pulp."""
    if not settings.KATELLO_GATEWAY_TOKEN_REMOTE_AUTHENTICATION:
        return []
    remote = [
        cls for cls in api_settings.DEFAULT_AUTHENTICATION_CLASSES
        if issubclass(cls, RemoteUserAuthentication)
    ]
    if not remote:
        return []
    header = remote[0].header
    return [Warning(
        f"KATELLO_GATEWAY_TOKEN_REMOTE_AUTHENTICATION is true and Pulp accepts remote-user "
        f"authentication ({remote[0].__name__}, {header}): the registry's token endpoint gives "
        "tokens to whoever that header names.",
        hint="Set it to False (the default) unless the web server overwrites that header on "
        "every request to /token/, /v1/ and /index/; security.md explains.",
        id="katello_gateway.W005",
    )]


def push_freshness_check(app_configs, **kwargs):
    """Katello pushes at every capsule sync; a failed step is only logged on Katello's side, so
    a long silence means users and hosts here may be out of date."""
    try:
        latest = acl_state.last_push()
    except DatabaseError:
        return []  # no database or not migrated yet: nothing to say about pushes
    if not acl_state.is_stale():
        return []
    when = f"last at {latest.isoformat(timespec='seconds')}" if latest else "never"
    return [Warning(
        f"Katello has pushed here {when}: nothing within KATELLO_GATEWAY_PUSH_MAX_AGE "
        f"({settings.KATELLO_GATEWAY_PUSH_MAX_AGE} s), so repositories, users and hosts may "
        "be out of date.",
        hint="Run a capsule sync and look for ProxyAPI errors in its task; "
        "katello-gateway-status shows the last push of each endpoint.",
        id="katello_gateway.W006",
    )]


def consumer_crl_check(app_configs, **kwargs):
    """An unusable CRL file refuses every host certificate (fail closed): say so at start-up."""
    problem = certificates.crl_problem()
    if problem is None:
        return []
    return [Error(
        f"KATELLO_GATEWAY_CONSUMER_CRL_FILE names {settings.KATELLO_GATEWAY_CONSUMER_CRL_FILE!r}, "
        f"but {problem}: no host certificate is accepted.",
        hint="Point it at the consumer CA's CRL (Candlepin publishes one), or unset it.",
        id="katello_gateway.E012",
    )]


def reserved_names_check(app_configs, **kwargs):
    """A local Pulp user made under a Foreman user's reserved name (before the plugin refused
    them) blocks that Foreman login: every token request of it is refused."""
    try:
        holders = sorted(ownership.reserved_name_holders().values_list("username", flat=True))
    except DatabaseError:
        return []
    return [Warning(
        f"Local Pulp user {username!r} holds a name reserved for a Foreman user: that Foreman "
        "user cannot log in to the registry.",
        hint="Rename or delete the local user (pulp user show/destroy, or pulpcore-manager "
        "shell); logins.md explains.",
        id="katello_gateway.W007",
    ) for username in holders]


# Foreman's own windows: the per-address count lasts 5 minutes after its last failure, the
# account lockout counts 15 minutes.
_FOREMAN_WINDOW = 900


def throttle_below_foreman_check(app_configs, **kwargs):
    """The throttle must stop asking Foreman before Foreman's own limits would lock a user out
    of Foreman, or every login from the capsule's address."""
    window = settings.KATELLO_GATEWAY_THROTTLE_WINDOW
    pairs = [
        ("KATELLO_GATEWAY_THROTTLE_LOGIN_FAILURES",
         "KATELLO_GATEWAY_FOREMAN_ACCOUNT_LOCKOUT_ATTEMPTS", "its account lockout"),
        ("KATELLO_GATEWAY_THROTTLE_FOREMAN_FAILURES",
         "KATELLO_GATEWAY_FOREMAN_FAILED_LOGIN_ATTEMPTS_LIMIT", "failed_login_attempts_limit"),
    ]
    messages = []
    for ours, foremans, what in pairs:
        limit = getattr(settings, foremans)
        if isinstance(limit, int) and limit > 0 and getattr(settings, ours) >= limit:
            messages.append(Warning(
                f"{ours} ({getattr(settings, ours)}) is not below Foreman's {what} "
                f"({foremans} = {limit}): failed logins through the registry can trip it.",
                hint=f"Set {ours} to at most {limit - 1}, or state Foreman's real setting in "
                f"{foremans}; logins.md explains.",
                id="katello_gateway.W008",
            ))
    if isinstance(window, int | float) and window < _FOREMAN_WINDOW:
        messages.append(Warning(
            f"KATELLO_GATEWAY_THROTTLE_WINDOW ({window} s) is shorter than Foreman's lockout "
            f"windows ({_FOREMAN_WINDOW} s): failures it forgot still count in Foreman.",
            hint=f"Set it to at least {_FOREMAN_WINDOW}.",
            id="katello_gateway.W008",
        ))
    return messages


def katello_names_check(app_configs, **kwargs):
    """A distribution a local user or group holds roles on, at a name Katello lists, is not
    served to Katello's users: its content may not be Katello's."""
    try:
        taken = ownership.taken_names()
    except DatabaseError:
        return []
    return [Warning(
        f"Katello lists repository {name!r}, but its distribution is held by local Pulp "
        f"{', '.join(holders)}: Katello's users and hosts are not served from it.",
        hint="Delete that distribution (Katello's next capsule sync makes its own) or remove "
        "those roles from it; security.md explains.",
        id="katello_gateway.W009",
    ) for name, holders in sorted(taken.items())]


_DEPLOY_CHECKS = (
    foreman_settings_check,
    token_settings_check,
    limits_check,
    trusted_proxies_check,
    api_socket_check,
    authentication_classes_check,
    content_origin_check,
    remote_authentication_check,
    push_freshness_check,
    consumer_crl_check,
    reserved_names_check,
    throttle_below_foreman_check,
    katello_names_check,
)


@register(TAG, deploy=True)
def deploy_checks(app_configs, **kwargs):
    """The settings checks; I001 says they all passed, so that silence among the many messages
    of other apps never has to be read as success."""
    messages = [message for check in _DEPLOY_CHECKS for message in check(app_configs)]
    if messages or token_endpoint_check(app_configs):
        return messages
    return [Info(
        "The Katello gateway's deploy checks passed: registry override in effect, token "
        "settings and keys, Foreman settings, limits below Foreman's lockouts, only the web "
        "server trusted, authentication classes, content origin, a recent Katello push, no "
        "local user on Foreman's or Katello's names.",
        id="katello_gateway.I001",
    )]
