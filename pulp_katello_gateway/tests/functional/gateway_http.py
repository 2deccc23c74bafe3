"""Plain-HTTP registry clients for the functional tests, and the secrets they saw.

Every session made here reports each answer to a ``SecretRegistry``: the leak check
(``test_secrets.py``) looks for every secret registered so far in every error body seen, in the
stack's logs and in a dump of its database.
"""

import threading
from urllib.parse import quote

import jwt
import requests

from devtools.clients import KATELLO_PUSH_PATH

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
PUSH_PATH = KATELLO_PUSH_PATH


def push_url(base_url):
    """Where Katello pushes to the API node at ``base_url`` (``.../container_gateway/``)."""
    return f"{base_url.rstrip('/')}{PUSH_PATH}"


class SecretRegistry:
    """Secrets the tests use (passwords, PATs, issued JWTs) and the error bodies they saw."""

    MIN_LENGTH = 8  # shorter strings would match by accident

    def __init__(self):
        self._lock = threading.Lock()
        self.secrets = set()
        self.error_bodies = []

    def add(self, *values):
        with self._lock:
            for value in values:
                if isinstance(value, str) and len(value) >= self.MIN_LENGTH:
                    self.secrets.add(value)

    def observe(self, response, *args, **kwargs):
        """A requests response hook: keep the body of every error answer."""
        if response.status_code >= 400:
            with self._lock:
                self.error_bodies.append(
                    (f"{response.request.method} {response.url} -> {response.status_code}",
                     response.content)
                )

    def session(self, ca_file, *, cert=None, headers=None):
        http = requests.Session()
        http.trust_env = False
        http.verify = str(ca_file)
        http.cert = cert
        http.headers.update(headers or {})
        http.hooks["response"].append(self.observe)
        return http

    @staticmethod
    def spellings(secret):
        """The forms a leaked secret could take in a log line or a dump."""
        return {secret, quote(secret, safe="")}

    def leaks(self, text, where):
        """``(where, secret prefix)`` for each registered secret found in ``text``."""
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        with self._lock:
            secrets = list(self.secrets)
        return [
            (where, secret[:4] + "…")
            for secret in secrets
            if any(spelling in text for spelling in self.spellings(secret))
        ]


class Registry:
    """Token and manifest requests against one API node (or web server) at ``base_url``.

    ``service`` is the registry host the tokens are for: pulp_container checks the token's
    audience against the ``Host`` of the registry request, so a token meant for another node
    names that node. ``cert`` (certificate, key) and ``headers`` go with every request: a host's
    consumer certificate, or a header a web server would set.
    """

    def __init__(self, base_url, ca_file, secrets, *, cert=None, headers=None):
        self.base_url = base_url.rstrip("/")
        self.host = self.base_url.split("://", 1)[1]
        self.ca_file = ca_file
        self.secrets = secrets
        self.cert = cert
        self.headers = headers
        self.local = threading.local()

    @property
    def http(self):
        """One session per thread (requests sessions are not thread-safe)."""
        http = getattr(self.local, "http", None)
        if http is None:
            http = self.local.http = self.secrets.session(
                self.ca_file, cert=self.cert, headers=self.headers
            )
        return http

    def token(self, *scopes, auth=None, service=None, account=True, timeout=60):
        params = [("service", service or self.host)] + [("scope", scope) for scope in scopes]
        if auth:
            self.secrets.add(auth[1])
            if account:
                params.append(("account", auth[0]))
            auth = (auth[0].encode(), auth[1].encode())  # UTF-8 like clients, not Latin-1
        response = self.http.get(
            f"{self.base_url}/token/", params=params, auth=auth, timeout=timeout
        )
        if response.status_code == 200:
            self.secrets.add(response.json().get("token"))
        return response

    def ok_token(self, *scopes, auth=None, service=None):
        response = self.token(*scopes, auth=auth, service=service)
        assert response.status_code == 200, (response.status_code, response.text)
        return response.json()["token"]

    def oauth_token(self, grant_type, client_id, **fields):
        """The OAuth2 form POST to the token endpoint (containerd's way) for this registry;
        ``fields``: the grant's own (``username``, ``password``, ``scope``, ``refresh_token``)."""
        self.secrets.add(fields.get("password"))
        response = self.http.post(
            f"{self.base_url}/token/",
            data={"grant_type": grant_type, "service": self.host, "client_id": client_id,
                  **fields},
            timeout=60,
        )
        if response.status_code == 200:
            self.secrets.add(response.json().get("access_token"))
        return response

    def get(self, path, token=None, accept=None):
        """``GET path`` of the registry (``/v2/...``), with ``token`` as Bearer."""
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if accept:
            headers["Accept"] = accept
        return self.http.get(f"{self.base_url}{path}", headers=headers, timeout=60)

    def manifest(self, repository, token, reference="latest"):
        return self.get(f"/v2/{repository}/manifests/{reference}", token, accept=OCI_MANIFEST)

    def pull(self, repository, auth=None):
        """A token for pulling ``repository``, then its manifest: (token response, manifest
        response or None when no token came)."""
        token = self.token(f"repository:{repository}:pull", auth=auth)
        if token.status_code != 200:
            return token, None
        return token, self.manifest(repository, token.json()["token"])

    def claims(self, token, public_key=None):
        """The token's claims; given the stack's ``public_key`` (PEM), verified the way
        pulp_container's registry verifies them (signature, issuer, audience, expiry)."""
        if public_key is None:
            return jwt.decode(token, options={"verify_signature": False})
        return jwt.decode(token, public_key, algorithms=["ES256"],
                          issuer=f"{self.base_url}/token/", audience=self.host)

    def access(self, token, public_key=None):
        """The token's ``access`` claim as ``{name: actions}`` (verified given ``public_key``)."""
        return {entry["name"]: entry["actions"]
                for entry in self.claims(token, public_key)["access"]}

    def granted(self, repository, auth=None):
        """The actions a fresh token grants on ``repository``."""
        token = self.ok_token(f"repository:{repository}:pull", auth=auth)
        return self.access(token).get(repository)
