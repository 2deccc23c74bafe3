"""Katello's data and its answers, without HTTP: users, tokens, repositories, hosts.

What Katello answers on ``GET /v2/token`` and ``GET /v2/_catalog``
(``Api::Registry::RegistryProxiesController``) and what a capsule sync pushes
(``SmartProxyExtensions#sync_container_gateway``). Apart from the server so that
``devtools.restclient`` can build Katello's payloads from a state it read over the control API.
"""

import base64
import binascii
import datetime
import hmac
import secrets
import threading
from dataclasses import dataclass, field

UNAUTHENTICATED = "unauthenticated"
UNAUTHENTICATED_SECONDS = 180  # Katello: 3.minutes.from_now


def utc_now():
    return datetime.datetime.now(datetime.UTC)


def rfc3339(moment):
    """Ruby ``Time#rfc3339`` of a local time on a UTC host: whole seconds, ``+00:00``."""
    return moment.isoformat(timespec="seconds")


def _blank(value):
    """Rails ``blank?`` for a query parameter."""
    return value is None or not value.strip()


def _last(query, name):
    """Rails keeps the last value of a repeated query parameter."""
    values = query.get(name)
    return values[-1] if values else None


def _as_list(value):
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


@dataclass
class Pat:
    """A Foreman personal access token; ``expires_at=None`` never expires."""

    value: str
    name: str
    created_at: datetime.datetime
    expires_at: datetime.datetime | None = None
    revoked: bool = False

    def active(self):
        return not self.revoked and (self.expires_at is None or self.expires_at > utc_now())


@dataclass
class User:
    login: str
    password: str
    pats: list = field(default_factory=list)  # of Pat, configured ones and the "registry" one
    repositories: list = field(default_factory=list)  # names the user may read

    def registry_pat(self, revoked=False):
        for pat in self.pats:
            if pat.name == "registry" and pat.revoked == revoked:
                return pat
        return None


class Katello:
    """Katello's state and its registry decisions, without HTTP. Every method is thread-safe."""

    def __init__(self, config=None):
        self._lock = threading.RLock()
        self.users = {}  # login -> User
        self.repositories = {}  # name -> unauthenticated_pull
        self.hosts = {}  # consumer uuid -> [repository name]
        self.token_expiration_minutes = 60  # Katello setting registry_token_expiration_minutes
        if config:
            self.load(config)

    # -- state -----------------------------------------------------------------------------

    def load(self, config):
        """Replace the whole state with ``config`` (the JSON format of ``--config``)."""
        with self._lock:
            self.users, self.repositories, self.hosts = {}, {}, {}
            self.set_repositories(config.get("repositories", {}))
            self.set_users(config.get("users", {}))
            self.set_hosts(config.get("hosts", {}))
            self.token_expiration_minutes = config.get("token_expiration_minutes", 60)

    def state(self):
        """The state in the ``--config`` format (registry tokens are in ``tokens()``)."""
        with self._lock:
            return {
                "repositories": {
                    name: {"auth_required": not public}
                    for name, public in self.repositories.items()
                },
                "users": {
                    user.login: {
                        "password": user.password,
                        "pats": [p.value for p in user.pats if p.name != "registry" and p.active()],
                        "repositories": list(user.repositories),
                    }
                    for user in self.users.values()
                },
                "hosts": {uuid_: {"repositories": list(r)} for uuid_, r in self.hosts.items()},
                "token_expiration_minutes": self.token_expiration_minutes,
            }

    def set_repositories(self, repositories):
        with self._lock:
            self.repositories = {}
            for name, spec in repositories.items():
                self.add_repository(name, auth_required=spec.get("auth_required", True))

    def set_users(self, users):
        with self._lock:
            self.users = {}
            for login, spec in users.items():
                self.add_user_spec(login, spec)

    def add_user_spec(self, login, spec):
        """A user from its JSON form: password, pat (one or a list) or pats, repositories."""
        pats = _as_list(spec.get("pat")) + _as_list(spec.get("pats"))
        self.add_user(login, spec["password"], pat=pats, repositories=spec.get("repositories", ()))

    def set_hosts(self, hosts):
        """``{uuid: {"repositories": [...]}}``; a bare list as the value is accepted too."""
        with self._lock:
            self.hosts = {}
            for consumer_uuid, spec in hosts.items():
                repos = spec.get("repositories", ()) if isinstance(spec, dict) else spec
                self.add_host(consumer_uuid, repositories=repos)

    def add_repository(self, name, auth_required=True):
        with self._lock:
            self.repositories[name] = not auth_required

    def remove_repository(self, name):
        with self._lock:
            self.repositories.pop(name, None)

    def add_user(self, login, password, pat=None, repositories=()):
        """Create or redefine a user; ``pat`` is one token value or a list of them.

        Redefining keeps the user's ``registry`` token, as editing a Foreman user does.
        """
        with self._lock:
            old = self.users.get(login)
            pats = [Pat(value, "standin", utc_now()) for value in _as_list(pat)]
            if old is not None:
                pats += [p for p in old.pats if p.name == "registry"]
            self.users[login] = User(login, password, pats, list(repositories))

    def remove_user(self, login):
        with self._lock:
            self.users.pop(login, None)

    def set_password(self, login, password):
        with self._lock:
            self.users[login].password = password

    def set_user_repositories(self, login, repositories):
        with self._lock:
            self.users[login].repositories = list(repositories)

    def revoke_pat(self, login, token=None):
        """Revoke the token with value ``token``, or every token of the user when ``None``."""
        with self._lock:
            for pat in self.users[login].pats:
                if token is None or pat.value == token:
                    pat.revoked = True

    def add_host(self, consumer_uuid, repositories=()):
        with self._lock:
            self.hosts[consumer_uuid] = list(repositories)

    def remove_host(self, consumer_uuid):
        with self._lock:
            self.hosts.pop(consumer_uuid, None)

    def registry_token(self, login):
        """The user's current (not revoked) ``registry`` token value, or None."""
        with self._lock:
            user = self.users.get(login)
            pat = user.registry_pat() if user else None
            return pat.value if pat else None

    def tokens(self):
        """Every user's ``registry`` tokens, for tests (values are secrets: do not print them)."""
        with self._lock:
            return {
                user.login: [
                    {
                        "token": p.value,
                        "issued_at": rfc3339(p.created_at),
                        "expires_at": rfc3339(p.expires_at),
                        "revoked": p.revoked,
                    }
                    for p in user.pats
                    if p.name == "registry"
                ]
                for user in self.users.values()
            }

    # -- what Katello computes ---------------------------------------------------------------

    def known_logins(self, logins):
        """``User.where(login: logins)``: the logins that exist here."""
        with self._lock:
            return [login for login in logins if login in self.users]

    def public_repositories(self):
        """Repositories in an environment with ``registry_unauthenticated_pull``."""
        with self._lock:
            return [name for name, public in self.repositories.items() if public]

    def user_repositories(self, login):
        """``readable_docker_catalog_as(user)``: readable repositories plus every public one."""
        with self._lock:
            readable = set(self.users[login].repositories)
            return [n for n, public in self.repositories.items() if public or n in readable]

    def host_repositories(self, consumer_uuid):
        """``readable_docker_catalog(host)``: the host's environments only, public ones included."""
        with self._lock:
            wanted = set(self.hosts[consumer_uuid])
            return [name for name in self.repositories if name in wanted]

    def _basic_user(self, credentials):
        """Foreman's Basic check: the password, or an active personal access token of the user."""
        try:
            login, _, secret = base64.b64decode(credentials, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None, ""
        # Foreman's User.find_by_login: by ``lower_login``, so the case of a login does not matter
        folded = login.lower()
        user = next((u for u in self.users.values() if u.login.lower() == folded), None)
        if user is None:
            return None, login
        if hmac.compare_digest(secret.encode(), user.password.encode()):
            return user, login
        # bytes: compare_digest refuses str with non-ASCII characters (the handler crashed)
        if any(p.active() and hmac.compare_digest(secret.encode(), p.value.encode())
               for p in user.pats):
            return user, login
        return None, login

    def _bearer_user(self, value):
        for user in self.users.values():
            if any(p.active() and hmac.compare_digest(value.encode(), p.value.encode())
                   for p in user.pats):
                return user
        return None

    def _authorize(self, authorization):
        """Foreman ``authorize``: returns (user or None, login attempted, scheme)."""
        scheme, _, credentials = (authorization or "").strip().partition(" ")
        credentials = credentials.strip()
        if scheme.lower() == "basic" and credentials:
            user, login = self._basic_user(credentials)
            return user, login, "basic"
        if scheme.lower() == "bearer" and credentials:
            user = self._bearer_user(credentials)
            return user, user.login if user else "", "bearer"
        return None, "", scheme.lower()

    def _scope_repository(self, scope):
        """Katello ``find_scope_repository``: ``scope.split(':')``, action must be exactly pull."""
        if scope is None:
            return None
        parts = scope.split(":")
        if len(parts) > 2 and parts[2] == "pull" and parts[1] in self.repositories:
            return parts[1]
        return None

    def token(self, query, authorization):
        """``GET /v2/token`` as Katello answers it: (status, body, send a Bearer challenge)."""
        with self._lock:
            scope, account = _last(query, "scope"), _last(query, "account")
            repo = self._scope_repository(scope)
            if (repo and self.repositories[repo]) or (_blank(scope) and _blank(account)):
                body = {"token": UNAUTHENTICATED, "expires_in": UNAUTHENTICATED_SECONDS,
                        "issued_at": rfc3339(utc_now())}
                return 200, body, False
            user, login, scheme = self._authorize(authorization)
            if user is None:
                return 401, _unauthorized_body(login), False
            pat = user.registry_pat()
            now = utc_now()
            expires_at = now + datetime.timedelta(minutes=self.token_expiration_minutes)
            if pat is None:
                revoked = user.registry_pat(revoked=True)
                if revoked is not None:
                    # Katello #39042: only a login (Basic, no scope) replaces a revoked token.
                    if not _blank(scope) or scheme != "basic":
                        return 401, _unauthorized_body(login), True
                    user.pats.remove(revoked)
                pat = Pat(secrets.token_urlsafe(16), "registry", now, expires_at)
                user.pats.append(pat)
            else:
                pat.expires_at = expires_at
            body = {
                "token": pat.value,
                "expires_in": int((pat.expires_at - pat.created_at).total_seconds()),
                "issued_at": rfc3339(pat.created_at),
            }
            return 200, body, False

    def catalog(self, query, authorization, host_uuid):
        """``GET /v2/_catalog`` as Katello answers it: (status, body, send a Bearer challenge).

        Identity, in Katello's order: a scope naming a public repository means nobody; else an
        ``Authorization`` header (Basic checked by Foreman, 401 when wrong; Bearer must be an
        active personal access token, otherwise *nobody*, not 401); else the ``HostUUID`` header
        (trusted as is); else nobody. A present but empty ``Authorization`` also skips the host.
        An unknown ``HostUUID`` is *not* an error: Katello finds no host and falls back to the
        anonymous catalog, so the answer is 200 with the public (unauthenticated-pull)
        repositories, the same as for nobody. Names are in definition order, unsorted.
        """
        with self._lock:
            repo = self._scope_repository(_last(query, "scope"))
            if repo and self.repositories[repo]:
                return 200, {"repositories": self.public_repositories()}, False
            if authorization is not None:
                scheme, _, value = authorization.strip().partition(" ")
                if scheme == "Basic" and value.strip():
                    user, login, _ = self._authorize(authorization)
                    if user is None:
                        return 401, _unauthorized_body(login), False
                    return 200, {"repositories": self.user_repositories(user.login)}, False
                if scheme == "Bearer" and value.strip():
                    user = self._bearer_user(value.strip())
                    if user is not None:
                        return 200, {"repositories": self.user_repositories(user.login)}, False
                return 200, {"repositories": self.public_repositories()}, False
            if host_uuid and host_uuid in self.hosts:
                return 200, {"repositories": self.host_repositories(host_uuid)}, False
            return 200, {"repositories": self.public_repositories()}, False

    # -- what a capsule sync pushes (Katello smart_proxy_extensions.rb) -----------------------

    def repository_list_payload(self):
        with self._lock:
            return {
                "repositories": [
                    {"repository": name, "auth_required": not public}
                    for name, public in self.repositories.items()
                ]
            }

    def user_mapping_payload(self, logins):
        """Mapping for the users Foreman knows among ``logins`` (``User.where(login: ...)``)."""
        with self._lock:
            wanted = set(logins)
            return {
                "users": [
                    {
                        login: [
                            {"repository": name, "auth_required": not self.repositories[name]}
                            for name in self.user_repositories(login)
                        ]
                    }
                    for login in self.users
                    if login in wanted
                ]
            }

    def hosts_payload(self):
        with self._lock:
            return {"hosts": [{"uuid": consumer_uuid} for consumer_uuid in self.hosts]}

    def host_mapping_payload(self):
        """``build_repo_list``: the host's repositories minus public ones, always auth_required."""
        with self._lock:
            return {
                "hosts": [
                    {
                        consumer_uuid: [
                            {"repository": name, "auth_required": True}
                            for name in self.host_repositories(consumer_uuid)
                            if not self.repositories[name]
                        ]
                    }
                    for consumer_uuid in self.hosts
                ]
            }


def _unauthorized_body(login):
    return {"error": {"message": f"Unable to authenticate user {login}".rstrip()}}
