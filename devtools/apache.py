"""Apache httpd in front of pulpcore-api on a Unix socket, configured as docs/install.md says.

The Katello capsule's layout in miniature (foremanctl's): mod_ssl terminates TLS and asks for an
optional client certificate verified against Katello's CA; the virtual host proxies Pulp's API to
pulpcore-api's Unix socket (so Pulp trusts the certificate header from ``unix`` only), maps
Foreman's certificate to Pulp's admin on ``/pulp/api/v3`` as foremanctl does, defines who Katello
is and includes pulp_container's shipped snippet and this plugin's, unchanged.
"""

import os
from pathlib import Path

import pulp_container

from devtools.webserver import WebServer

SNIPPET = (
    Path(__file__).resolve().parent.parent
    / "pulp_katello_gateway" / "app" / "webserver_snippets" / "apache.conf"
)
PULP_CONTAINER_SNIPPET = (
    Path(pulp_container.__file__).parent / "app" / "webserver_snippets" / "apache.conf"
)
BINARY = "/usr/sbin/apache2"
MODULES = "/usr/lib/apache2/modules"
CONFIG = """\
ServerRoot {state}
PidFile {state}/httpd.pid
ErrorLog {state}/error.log
LogLevel warn
Mutex file:{state}
DefaultRuntimeDir {state}
{user}
LoadModule mpm_event_module {modules}/mod_mpm_event.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule headers_module {modules}/mod_headers.so
LoadModule proxy_module {modules}/mod_proxy.so
LoadModule proxy_http_module {modules}/mod_proxy_http.so
LoadModule socache_shmcb_module {modules}/mod_socache_shmcb.so
LoadModule ssl_module {modules}/mod_ssl.so
LogFormat "%h %l %u %t \\"%r\\" %>s %b" common
CustomLog {state}/access.log common
SSLSessionCache shmcb:{state}/ssl_scache(512000)

Listen 127.0.0.1:{port} https
Define pulp-api unix:{api_socket}|http://pulpcore-api
Define pulp-content http://{content_upstream}

<VirtualHost 127.0.0.1:{port}>
    ServerName 127.0.0.1
    SSLEngine on
    SSLCertificateFile {server_cert}
    SSLCertificateKeyFile {server_key}
    SSLCACertificateFile {client_ca}
    SSLVerifyClient optional
    SSLVerifyDepth 2
    SSLOptions +ExportCertData
    ProxyPreserveHost On
    RequestHeader set X-Forwarded-Proto https

    # Pulp's own paths, as Pulp's installers write them; foremanctl maps Foreman's certificate
    # to Pulp's admin on the API (Foreman registers and refreshes Pulp as its smart proxy so).
    <Location "/pulp/api/v3">
        RequestHeader set Remote-User admin \\
            "expr=%{{SSL_CLIENT_VERIFY}} == 'SUCCESS' && %{{SSL_CLIENT_S_DN_CN}} == '{foreman_cn}'"
    </Location>
    ProxyPass /pulp/api/v3 ${{pulp-api}}/pulp/api/v3
    ProxyPassReverse /pulp/api/v3 ${{pulp-api}}/pulp/api/v3
    ProxyPass /pulp/content ${{pulp-content}}/pulp/content
    ProxyPassReverse /pulp/content ${{pulp-content}}/pulp/content

    # Who Katello is (install.md, step 5).
    Define KATELLO_GATEWAY_FOREMAN_CN {foreman_cn}
    Define KATELLO_GATEWAY_PUSH_USER {push_user}
    Include {pulp_container_snippet}
    Include {snippet}
</VirtualHost>
"""


class Apache(WebServer):
    """One httpd serving ``https://127.0.0.1:<port>`` in front of pulpcore-api's socket."""

    name, config_name = "apache2", "httpd.conf"

    def __init__(self, state_dir, *, api_socket, content_upstream, server_cert, server_key,
                 client_ca, foreman_cn, push_user, port=None):
        super().__init__(state_dir, port)
        self.api_socket = api_socket
        self.content_upstream = content_upstream
        self.server_cert, self.server_key = server_cert, server_key
        self.client_ca = client_ca
        self.foreman_cn, self.push_user = foreman_cn, push_user

    def write_config(self):
        self.config_path.write_text(
            CONFIG.format(
                state=self.state,
                user="User www-data\nGroup www-data" if os.geteuid() == 0 else "",
                modules=MODULES,
                port=self.port,
                api_socket=self.api_socket,
                content_upstream=self.content_upstream,
                server_cert=self.server_cert,
                server_key=self.server_key,
                client_ca=self.client_ca,
                foreman_cn=self.foreman_cn,
                push_user=self.push_user,
                pulp_container_snippet=PULP_CONTAINER_SNIPPET,
                snippet=SNIPPET,
            )
        )
        return self.config_path

    def command(self, *args):
        return [BINARY, "-d", str(self.state), "-f", str(self.config_path), *args]

    def start(self, timeout=20):
        return super().start(timeout, "-DFOREGROUND")
