"""Apache httpd in front of pulpcore-api's Unix socket, configured as install.md says.

The Katello capsule's layout in miniature (foremanctl's): install.md's own virtual host
(mod_ssl with optional client certificates against Katello's CA, Pulp's upstreams on the sockets
and its paths, who Katello is, pulp_container's shipped snippet and this plugin's, unchanged),
moved to loopback: its port, certificate paths, socket paths and Foreman's CN replaced. Like
foremanctl's vhost, it also maps Foreman's certificate to Pulp's admin on ``/pulp/api/v3``
(Foreman registers and refreshes Pulp as its smart proxy so). Run as root, its workers are
``www-data``, the user install.md gives the sockets to.
"""

import os
import re

from devtools import docs
from devtools.webserver import WebServer

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
{vhost}
"""
# What foremanctl sets in Pulp's environment for remote-user authentication (its
# roles/pulp/defaults/main.yaml); environment variables win over install.md's settings file.
FOREMANCTL_REMOTE_USER = {
    "PULP_AUTHENTICATION_BACKENDS":
        "['pulpcore.app.authentication.PulpNoCreateRemoteUserBackend']",
    "PULP_REMOTE_USER_ENVIRON_NAME": "HTTP_REMOTE_USER",
    "PULP_REST_FRAMEWORK__DEFAULT_AUTHENTICATION_CLASSES":
        "['rest_framework.authentication.SessionAuthentication', "
        "'pulpcore.app.authentication.PulpRemoteUserAuthentication']",
}

# foremanctl's own mapping of Foreman's certificate on Pulp's API (not this plugin's), with the
# second-CN test deploy-foremanctl.md has admins add.
FOREMANCTL_API_USER = """\
    <Location "/pulp/api/v3">
        RequestHeader set Remote-User admin \\
            "expr=%{{SSL_CLIENT_VERIFY}} == 'SUCCESS' \\
&& %{{SSL_CLIENT_S_DN_CN}} == '{foreman_cn}' && -z %{{SSL_CLIENT_S_DN_CN_1}}"
    </Location>
"""


def foremanctl_push_user():
    """The Pulp user deploy-foremanctl.md has Foreman's certificate stand for on the push API
    (foremanctl's backends honour no roles, so a superuser)."""
    text = (docs.INSTALL.parent / "deploy-foremanctl.md").read_text()
    return re.search(r"Define KATELLO_GATEWAY_PUSH_USER (\w+)", text).group(1)


def install_md_defines():
    """The ``Define``s install.md gives Apache: who Foreman is, and its Pulp user."""
    lines = docs.block("apache", "Define KATELLO_GATEWAY").splitlines()
    return dict(line.split()[1:3] for line in lines if line.strip().startswith("Define KATELLO"))


def docs_vhost(*, port, api_socket, content_upstream, server_cert, server_key, client_ca,
               foreman_cn, push_user):
    """install.md's Apache virtual host of Pulp, on 127.0.0.1:``port`` and these files."""
    defines = install_md_defines()
    return docs.on_loopback("apache", "Define KATELLO_GATEWAY", **{
        "unix:/run/pulpcore-api.sock|": f"unix:{api_socket}|",
        '"unix:/run/pulpcore-content.sock|http://pulpcore-content"': f'"{content_upstream}"',
        "<VirtualHost *:443>": f"<VirtualHost 127.0.0.1:{port}>",
        "ServerName capsule.example.com": "ServerName 127.0.0.1",
        "/etc/pki/tls/certs/capsule.crt": str(server_cert),
        "/etc/pki/tls/private/capsule.key": str(server_key),
        "/etc/pulp/certs/katello-ca.pem": str(client_ca),
        f"Define KATELLO_GATEWAY_FOREMAN_CN {defines['KATELLO_GATEWAY_FOREMAN_CN']}":
            f"Define KATELLO_GATEWAY_FOREMAN_CN {foreman_cn}",
        f"Define KATELLO_GATEWAY_PUSH_USER {defines['KATELLO_GATEWAY_PUSH_USER']}":
            f"Define KATELLO_GATEWAY_PUSH_USER {push_user}",
        "    # Pulp's own paths\n": "    # Pulp's own paths\n"
            + FOREMANCTL_API_USER.format(foreman_cn=foreman_cn),
    })


class Apache(WebServer):
    """One httpd serving ``https://127.0.0.1:<port>`` in front of pulpcore-api's socket."""

    name, config_name = "apache2", "httpd.conf"

    def __init__(self, state_dir, *, api_socket, content_upstream, server_cert, server_key,
                 client_ca, foreman_cn=None, push_user=None, port=None):
        super().__init__(state_dir, port)
        self.api_socket = api_socket
        self.vhost = dict(
            api_socket=api_socket, content_upstream=content_upstream, server_cert=server_cert,
            server_key=server_key, client_ca=client_ca,
            foreman_cn=foreman_cn or install_md_defines()["KATELLO_GATEWAY_FOREMAN_CN"],
            push_user=push_user or install_md_defines()["KATELLO_GATEWAY_PUSH_USER"],
        )

    def write_config(self):
        self.config_path.write_text(
            CONFIG.format(
                state=self.state,
                user="User www-data\nGroup www-data" if os.geteuid() == 0 else "",
                modules=MODULES,
                port=self.port,
                vhost=docs_vhost(port=self.port, **self.vhost),
            )
        )
        return self.config_path

    def command(self, *args):
        return [BINARY, "-d", str(self.state), "-f", str(self.config_path), *args]

    def start(self, timeout=20):
        return super().start(timeout, "-DFOREGROUND")
