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
# Seconds a Foreman-verified login is served from cache without asking Foreman again.
KATELLO_GATEWAY_LOGIN_CACHE_TTL = 600
# Seconds past that TTL during which a cached login is still honoured while Foreman is unreachable.
KATELLO_GATEWAY_LOGIN_MAX_STALE = 4 * 3600
# Largest request body (bytes) the Katello push API reads. A million user->repository pairs in
# Katello's form encoding take about 100 MB; anything larger is refused with 413.
KATELLO_GATEWAY_PUSH_MAX_BYTES = 256 * 1024 * 1024
