"""Thin wrappers around the real registry clients (skopeo, podman) used by tests and the demo,
and the one Basic ``Authorization`` header they and the raw-HTTP tests send."""

import base64
import json
import os
import subprocess
from pathlib import Path

# Where Katello's push API (``/container_gateway/`` behind the capsule's web server) lands on an
# API node.
KATELLO_PUSH_PATH = "/pulp/api/v3/container_gateway/"
# The plugin's Pulp-native API (repositories, users, hosts, pulls, explain, status).
NATIVE_API_PATH = "/pulp/api/v3/katello_gateway/"


def basic_authorization(login, secret):
    """The ``Authorization`` value of HTTP Basic for ``login`` and ``secret``: str (sent as
    UTF-8, as registry clients do) or bytes (sent as they are)."""
    if isinstance(login, str):
        login, secret = login.encode(), secret.encode()
    return "Basic " + base64.b64encode(login + b":" + secret).decode()


class ClientError(Exception):
    def __init__(self, result):
        command = " ".join(result.args[:2])
        super().__init__(f"{command} exited {result.returncode}: {result.stderr.strip()[-2000:]}")
        self.result = result
        self.stderr = result.stderr


def _run(args, *, stdin=None, timeout=120, check=True):
    result = subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise ClientError(result)
    return result


class Skopeo:
    """skopeo against a TLS registry whose CA is in ``certs_dir``, with its own auth file.

    ``creds`` arguments are ``(user, password)`` tuples; ``None`` means anonymous.
    """

    def __init__(self, certs_dir, workdir):
        self.certs_dir = str(certs_dir)
        self.auth_file = Path(workdir) / "skopeo-auth.json"
        self.auth_file.parent.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def _creds(prefix, creds):
        if creds:
            return [f"--{prefix}creds", f"{creds[0]}:{creds[1]}"]
        return [f"--{prefix}no-creds"]

    def copy(self, src, dest, src_creds=None, dest_creds=None, check=True, all_images=False):
        """``skopeo copy``; ``all_images`` copies every image of a multi-arch index (``--all``)
        instead of this machine's."""
        args = ["skopeo", "copy", "--quiet", "--authfile", str(self.auth_file)]
        if all_images:
            args.append("--all")
        if src.startswith("docker://"):
            args += ["--src-cert-dir", self.certs_dir, *self._creds("src-", src_creds)]
        if dest.startswith("docker://"):
            args += ["--dest-cert-dir", self.certs_dir, *self._creds("dest-", dest_creds)]
        return _run([*args, src, dest], check=check)

    def inspect(self, ref, creds=None, check=True):
        """The image's ``skopeo inspect`` JSON, or the failed process result."""
        result = _run(
            ["skopeo", "inspect", "--no-tags", "--authfile", str(self.auth_file),
             "--cert-dir", self.certs_dir, *self._creds("", creds), ref],
            check=check,
        )
        return json.loads(result.stdout) if result.returncode == 0 else result

    def login(self, registry, username, password, check=True):
        return _run(
            ["skopeo", "login", "--authfile", str(self.auth_file), "--cert-dir", self.certs_dir,
             "-u", username, "--password-stdin", registry],
            stdin=password, check=check,
        )


class Podman:
    """podman as root against the stack: its own vfs storage, auth file and the stack's CA.

    Methods return the finished process; ``check=True`` raises ``ClientError`` on failure.
    """

    def __init__(self, storage, auth_file, certs_dir):
        self.base = [
            "podman", "--root", str(storage / "root"), "--runroot", str(storage / "runroot"),
            "--storage-driver", "vfs", "--events-backend", "none",
        ]
        if not auth_file.exists():
            auth_file.write_text('{"auths": {}}')  # podman refuses to pull without the file
        self.env = dict(os.environ, REGISTRY_AUTH_FILE=str(auth_file))
        self.certs_dir = str(certs_dir)

    def run(self, *args, stdin=None, check=True):
        result = subprocess.run(
            [*self.base, *args], input=stdin, capture_output=True, text=True, timeout=120,
            env=self.env,
        )
        if check and result.returncode != 0:
            raise ClientError(result)
        return result

    def login(self, registry, username, password, check=True):
        return self.run(
            "login", "--cert-dir", self.certs_dir, "-u", username, "--password-stdin", registry,
            stdin=password, check=check,
        )

    def pull(self, ref, check=True):
        return self.run("pull", "--quiet", "--cert-dir", self.certs_dir, ref, check=check)

    def push(self, src, dest, check=True):
        return self.run("push", "--quiet", "--cert-dir", self.certs_dir, src, dest, check=check)

    def image_digest(self, ref):
        return self.run("image", "inspect", "--format", "{{.Digest}}", ref).stdout.strip()
