"""nginx in front of pulpcore-api's Unix socket, configured as install.md says.

The capsule's web server in miniature: the ``http`` block holds the admin's copy of the plugin's
remote-user map, and install.md's own Pulp server (upstreams on the sockets, Pulp's
locations, pulp_container's shipped snippet and this plugin's, unchanged), moved to loopback:
its port, certificate paths and socket paths replaced, nothing else. Run as root, its workers
are ``www-data``, the user install.md gives the sockets to.
"""

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from devtools import docs
from devtools.webserver import WebServer

WORKER_USER = "www-data"
CONFIG = """\
daemon off;
worker_processes 1;
pid {state}/nginx.pid;
error_log {state}/error.log info;
{user}
events {{ worker_connections 256; }}

http {{
    access_log {state}/access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {remote_user_map};

{server}
}}
"""


def docs_server(*, port, api_socket, content_upstream, server_cert, server_key, client_ca):
    """install.md's nginx configuration of Pulp, on 127.0.0.1:``port`` and these files."""
    return docs.on_loopback("nginx", "upstream pulp-api", **{
        "server unix:/run/pulpcore-api.sock;": f"server unix:{api_socket};",
        "server unix:/run/pulpcore-content.sock;": f"server {content_upstream};",
        "listen 443 ssl;": f"listen 127.0.0.1:{port} ssl;",
        "/etc/pki/tls/certs/capsule.crt": str(server_cert),
        "/etc/pki/tls/private/capsule.key": str(server_key),
        "/etc/pulp/certs/katello-ca.pem": str(client_ca),
    })


def remote_user_map(directory):
    """The admin's copy of nginx-remote-user.conf, made with install.md's own command (into
    ``directory`` instead of /etc/nginx/conf.d/); it names Foreman's CN foreman.mycompany.com."""
    directory.mkdir(parents=True, exist_ok=True)
    conf_d = "/etc/nginx/conf.d/"
    command = docs.block("bash", "nginx-remote-user.conf").replace(conf_d, f"{directory}/")
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    subprocess.run(["bash", "-euo", "pipefail", "-c", command], check=True,
                   env=dict(os.environ, PATH=path))
    return directory / "katello-gateway-remote-user.conf"


def nginx_binary():
    return shutil.which("nginx") or "/usr/sbin/nginx"


class Nginx(WebServer):
    """One nginx process serving ``https://127.0.0.1:<port>`` in front of ``api_socket``."""

    name, config_name = "nginx", "nginx.conf"
    stop_signal = signal.SIGQUIT  # graceful: master and its worker

    def __init__(self, state_dir, *, api_socket, content_upstream, server_cert, server_key,
                 client_ca, remote_user_map, port=None):
        super().__init__(state_dir, port)
        self.api_socket = api_socket
        self.content_upstream = content_upstream
        self.remote_user_map = remote_user_map
        self.server_cert, self.server_key = server_cert, server_key
        self.client_ca = client_ca
        self.temp = None

    def write_config(self):
        # The workers write request bodies there: a directory of theirs outside the state
        # directory, which may sit below directories only root may enter.
        self.temp = Path(tempfile.mkdtemp(prefix="nginx-temp-"))
        user = ""
        if os.geteuid() == 0:
            user = f"user {WORKER_USER};"
            os.chown(self.temp, pwd.getpwnam(WORKER_USER).pw_uid, -1)
        self.config_path.write_text(CONFIG.format(
            state=self.state, temp=self.temp, user=user, remote_user_map=self.remote_user_map,
            server=docs_server(
                port=self.port, api_socket=self.api_socket,
                content_upstream=self.content_upstream, server_cert=self.server_cert,
                server_key=self.server_key, client_ca=self.client_ca,
            ),
        ))
        return self.config_path

    def command(self, *args):
        return [nginx_binary(), *args, "-p", str(self.state), "-c", str(self.config_path)]

    def stop(self, timeout=10):
        super().stop(timeout)
        shutil.rmtree(self.temp, ignore_errors=True)
