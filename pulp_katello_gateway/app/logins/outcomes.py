"""Every login or host-lookup decision, written once: an audit line and a metric.

The audit lines (logger ``pulp_katello_gateway.audit``) name the login or host uuid and the
client's address, never a secret; logins.md shows them.
"""

import logging

from pulp_katello_gateway.app import metrics

audit = logging.getLogger("pulp_katello_gateway.audit")


def login(result, login, source, *, cache="-", kind="foreman"):
    """A login decided: ``result`` ok/denied/throttled/unavailable; Foreman logins say where the
    answer came from (``cache``), others what kind of login it was."""
    if kind == "foreman":
        audit.info("login user=%s source=%s cache=%s result=%s", login, source, cache, result)
    else:
        audit.info("login user=%s source=%s kind=%s result=%s", login, source, kind, result)
    metrics.login(result, cache, kind)


def host_lookup(result, uuid, source):
    """A host Katello had not pushed, looked up in Katello's catalog."""
    audit.info("host uuid=%s source=%s cache=miss result=%s", uuid, source, result)
    metrics.login(result, "miss", "host")
