"""Defaults of the Katello gateway, merged into Pulp's settings.

Override them like any Pulp setting: in ``/etc/pulp/settings.py`` (or the file named by
``PULP_SETTINGS``) or with ``PULP_<NAME>`` environment variables.
"""

# Base URL of Foreman/Katello, e.g. "https://foreman.example.com". Required for Foreman logins.
KATELLO_GATEWAY_FOREMAN_URL = None
# CA bundle used to verify Foreman's TLS certificate; None means the system CA store.
KATELLO_GATEWAY_FOREMAN_CA_FILE = None
# Optional client certificate and key presented to Foreman (PEM files).
KATELLO_GATEWAY_FOREMAN_CLIENT_CERT = None
KATELLO_GATEWAY_FOREMAN_CLIENT_KEY = None
# Seconds to wait for a TCP/TLS connection to Foreman, and for its answer.
KATELLO_GATEWAY_FOREMAN_CONNECT_TIMEOUT = 5.0
KATELLO_GATEWAY_FOREMAN_READ_TIMEOUT = 10.0
# Foreman calls in flight at once across all API processes (a login cache miss makes one or
# two). Keep it below the total number of API workers so that a hanging Foreman never ties them
# all up; cache misses beyond it are answered 503 at once.
KATELLO_GATEWAY_FOREMAN_MAX_CONCURRENT = 4
# Seconds during which no API process asks Foreman after it failed to answer in time.
KATELLO_GATEWAY_FOREMAN_BACKOFF = 30
# Seconds a Foreman-verified login is served from cache without asking Foreman again.
KATELLO_GATEWAY_LOGIN_CACHE_TTL = 600
# Seconds past that TTL during which a cached login is still honoured while Foreman is unreachable.
KATELLO_GATEWAY_LOGIN_MAX_STALE = 4 * 3600
# Failed logins tolerated before the token endpoint answers 429 (logins.md): per login from
# one client address (every guess stops), per login from anywhere, per client address whatever
# the login, and in all (these three stop only what would reach Foreman). A count lasts until
# WINDOW seconds pass without a failure. Keep the login and Foreman-wide ones below Foreman's
# own limits, stated below (check --deploy warns otherwise: katello_gateway.W008).
KATELLO_GATEWAY_THROTTLE_ADDRESS_FAILURES = 5
KATELLO_GATEWAY_THROTTLE_LOGIN_FAILURES = 4
KATELLO_GATEWAY_THROTTLE_CLIENT_FAILURES = 10
KATELLO_GATEWAY_THROTTLE_FOREMAN_FAILURES = 20
KATELLO_GATEWAY_THROTTLE_WINDOW = 900
# Foreman's own limits, as set in Foreman (Administer > Settings > Authentication), defaults
# shown: failed logins after which Foreman blocks every login from one address (the capsule's)
# for 5 minutes (`failed_login_attempts_limit`), and wrong passwords after which it locks an
# account for 15 minutes (its account lockout). 0: that limit is off in Foreman.
KATELLO_GATEWAY_FOREMAN_FAILED_LOGIN_ATTEMPTS_LIMIT = 30
KATELLO_GATEWAY_FOREMAN_ACCOUNT_LOCKOUT_ATTEMPTS = 5

# Largest request body (bytes) the Katello push API reads. A million user->repository pairs in
# Katello's form encoding take about 100 MB; anything larger is refused with 413.
KATELLO_GATEWAY_PUSH_MAX_BYTES = 256 * 1024 * 1024
# Most hashes and arrays one push body may hold (one per user->repository pair, roughly). Each
# costs memory whatever its size: a body of nothing but empty ones would take gigabytes to parse.
KATELLO_GATEWAY_PUSH_MAX_ENTRIES = 4_000_000

# The web server names identities in request headers: the user Foreman's certificate stands for
# (remote-user authentication) and a registered host's certificate. They are believed only from
# these peers: "unix" for pulpcore-api's Unix socket, which only the web server can open
# (install.md), or addresses and CIDR networks. From anyone else the headers are dropped.
# Listing a TCP address trusts every process that can reach pulpcore-api's port from it (check
# --deploy warns: katello_gateway.W010).
KATELLO_GATEWAY_TRUSTED_PROXIES = ["unix"]
# Path of pulpcore-api's Unix socket, if it has one: check --deploy then verifies that no other
# local user may connect to it (katello_gateway.W011).
KATELLO_GATEWAY_API_SOCKET = None
# Registered hosts pull with their subscription-manager consumer certificate: the web server
# passes the client certificate (PEM) in this header, verified against this CA bundle. No CA
# file: hosts are not identified.
KATELLO_GATEWAY_CLIENT_CERT_HEADER = "X-RHSM-SSL-Client-Cert"
KATELLO_GATEWAY_CONSUMER_CA_FILE = None
# Optional certificate revocation list(s) of that CA (PEM, one or more, or DER), re-read when the
# file changes: a revoked host certificate is refused at once, not at Katello's next push.
KATELLO_GATEWAY_CONSUMER_CRL_FILE = None

# Whether the token endpoint (and /v1/search, /index/) also believe Pulp's REST authentication
# other than Basic: a remote user named by the web server in a header, a session cookie. Off: a
# header that a client could send itself must never become a registry identity, whatever the web
# server in front does. Turn on only when the web server sets that header on every request.
KATELLO_GATEWAY_TOKEN_REMOTE_AUTHENTICATION = False

# Every request resolves through the plugin's URLconf first, so its registry views (token
# endpoint, catalog, search) win over pulp_container's deterministically. (The trust boundary's
# middleware goes first in the list: dynaconf_hooks.py puts it there.)
MIDDLEWARE = ["dynaconf_merge", "pulp_katello_gateway.app.middleware.RegistryUrlconfMiddleware"]

# The pull record (who pulled which manifest): on or off, and how many days a pull is kept
# after it was last seen (older rows are dropped on their own as new pulls are recorded).
KATELLO_GATEWAY_PULL_RECORD = True
KATELLO_GATEWAY_PULL_RECORD_RETENTION_DAYS = 90
# Seconds without a successful Katello push after which `check --deploy` warns (W006) and the
# status endpoint says stale.
KATELLO_GATEWAY_PUSH_MAX_AGE = 24 * 3600
# Seconds after which a host's grants are refreshed from Katello's catalog at its next token
# request (in a Pulp task, never holding up the request); 0 turns it off. See registry.md.
KATELLO_GATEWAY_HOST_REFRESH_INTERVAL = 3600
