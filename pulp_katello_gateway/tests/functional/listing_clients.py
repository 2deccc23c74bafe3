"""What clients see in listings: the registry catalog over HTTP, podman search, a host's certs."""

import json
import os
import shutil
import subprocess
from base64 import b64encode
from urllib.parse import urljoin

import requests

FLATPAK_QUERY = "label:org.flatpak.ref:exists=1&architecture=amd64&os=linux&tag=latest"


def host_cert_dir(directory, ca_file, consumer_ca, common_name):
    """A containers/image ``certs.d`` directory: the server's CA plus a client certificate.

    ``consumer_ca`` signs the client certificate (``client.cert``/``client.key``), as
    subscription-manager's consumer certificate is signed by Katello's CA.
    """
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(ca_file, directory / "ca.crt")
    consumer_ca.issue(common_name, directory / "client.cert", directory / "client.key")
    return directory


def session(ca_file, *, auth=None, cert_dir=None):
    """A requests session trusting ``ca_file``, optionally with Basic auth or a client cert."""
    http = requests.Session()
    http.trust_env = False
    http.verify = str(ca_file)
    http.auth = auth
    if cert_dir is not None:
        http.cert = (str(cert_dir / "client.cert"), str(cert_dir / "client.key"))
    return http


def token(http, base_url, *scopes):
    """A registry token for ``scopes`` from the realm at ``base_url`` (Basic/cert of ``http``)."""
    service = base_url.split("://", 1)[1]
    response = http.get(
        f"{base_url}/token/", params={"service": service, "scope": list(scopes)}, timeout=30
    )
    response.raise_for_status()
    return response.json()["token"]


def catalog_pages(http, base_url, n=None):
    """Every page of ``/v2/_catalog`` following ``Link``: a list of (names, Link header)."""
    bearer = token(http, base_url, "registry:catalog:*")
    url = f"{base_url}/v2/_catalog" + (f"?n={n}" if n is not None else "")
    pages = []
    while url:
        response = requests.get(
            url, headers={"Authorization": f"Bearer {bearer}"}, verify=http.verify, timeout=30
        )
        response.raise_for_status()
        assert response.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
        link = response.headers.get("Link")
        pages.append((response.json()["repositories"], link))
        url = urljoin(url, link.split(";")[0].strip("<> ")) if link else None
    return pages


def catalog(http, base_url):
    return [name for names, _ in catalog_pages(http, base_url) for name in names]


def podman_search(registry, term, cert_dir, home, creds=None):
    """Repository names ``podman search`` prints for ``registry/term`` (registry prefix cut).

    podman 4.3's ``search`` has neither ``--cert-dir`` nor ``--creds``: containers/image looks
    first in ``$HOME/.config/containers/certs.d/<registry>/``, so ``home`` gets ``cert_dir``
    there, and ``creds`` go into an auth file.
    """
    certs_d = home / ".config" / "containers" / "certs.d"
    certs_d.mkdir(parents=True, exist_ok=True)
    (certs_d / registry).symlink_to(cert_dir, target_is_directory=True)
    auths = {registry: {"auth": b64encode(":".join(creds).encode()).decode()}} if creds else {}
    authfile = home / "auth.json"
    authfile.write_text(json.dumps({"auths": auths}))
    result = subprocess.run(
        ["podman", "search", "--limit", "1000", "--format", "{{.Name}}",
         "--authfile", str(authfile), f"{registry}/{term}"],
        capture_output=True, text=True, timeout=120, env=dict(os.environ, HOME=str(home)),
    )
    assert result.returncode == 0, result.stderr
    return sorted(line.removeprefix(f"{registry}/") for line in result.stdout.split())
