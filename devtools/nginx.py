"""nginx in front of a plain-HTTP pulpcore-api, configured as docs/install.md says.

This is the capsule's web server in miniature: it terminates TLS and asks for an optional client
certificate verified against Katello's CA; its ``server`` block has Pulp's own locations (the API,
the content app) and includes pulp_container's shipped snippet and this plugin's, unchanged, and
its ``http`` block includes the admin's copy of the plugin's remote-user map. It connects to
Pulp from ``source_address`` (another loopback address), so Pulp can be told to trust the
certificate header from nginx only, and not from clients on 127.0.0.1.
"""

import os
import shutil
import signal
from pathlib import Path

import pulp_container

from devtools.webserver import WebServer

SNIPPETS = (
    Path(__file__).resolve().parent.parent / "pulp_katello_gateway" / "app" / "webserver_snippets"
)
PULP_CONTAINER_SNIPPET = (
    Path(pulp_container.__file__).parent / "app" / "webserver_snippets" / "nginx.conf"
)
CONFIG = """\
daemon off;
worker_processes 1;
pid {state}/nginx.pid;
error_log {state}/error.log info;
{user}
events {{ worker_connections 256; }}

http {{
    access_log {state}/access.log;
    client_body_temp_path {state}/tmp/body;
    proxy_temp_path {state}/tmp/proxy;
    fastcgi_temp_path {state}/tmp/fastcgi;
    uwsgi_temp_path {state}/tmp/uwsgi;
    scgi_temp_path {state}/tmp/scgi;

    upstream pulp-api {{
        server {upstream};
    }}
    upstream pulp-content {{
        server {content_upstream};
    }}
    include {remote_user_map};

    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {server_cert};
        ssl_certificate_key {server_key};
        ssl_client_certificate {client_ca};
        ssl_verify_client optional;
        proxy_bind {source_address};

        # Pulp's own locations, as Pulp's installers write them.
        location /pulp/api/v3/ {{
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header Host $http_host;
            proxy_redirect off;
            proxy_pass http://pulp-api;
            client_max_body_size 0;
        }}
        location /pulp/content/ {{
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header Host $http_host;
            proxy_redirect off;
            proxy_pass http://pulp-content;
        }}

        include {pulp_container_snippet};
        include {snippet};
    }}
}}
"""


def nginx_binary():
    return shutil.which("nginx") or "/usr/sbin/nginx"


class Nginx(WebServer):
    """One nginx process serving ``https://127.0.0.1:<port>`` in front of ``upstream``."""

    name, config_name = "nginx", "nginx.conf"
    stop_signal = signal.SIGQUIT  # graceful: master and its worker

    def __init__(self, state_dir, *, upstream, content_upstream, server_cert, server_key,
                 client_ca, remote_user_map, source_address="127.0.0.2", port=None):
        super().__init__(state_dir, port)
        self.upstream = upstream
        self.content_upstream = content_upstream
        self.remote_user_map = remote_user_map
        self.server_cert, self.server_key = server_cert, server_key
        self.client_ca = client_ca
        self.source_address = source_address

    @property
    def upstream_url(self):
        """Pulp itself, bypassing nginx."""
        return f"http://{self.upstream}"

    def write_config(self):
        (self.state / "tmp").mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(
            CONFIG.format(
                state=self.state,
                user="user root;" if os.geteuid() == 0 else "",
                upstream=self.upstream,
                content_upstream=self.content_upstream,
                remote_user_map=self.remote_user_map,
                pulp_container_snippet=PULP_CONTAINER_SNIPPET,
                port=self.port,
                server_cert=self.server_cert,
                server_key=self.server_key,
                client_ca=self.client_ca,
                source_address=self.source_address,
                snippet=SNIPPETS / "nginx.conf",
            )
        )
        return self.config_path

    def command(self, *args):
        return [nginx_binary(), *args, "-p", str(self.state), "-c", str(self.config_path)]
