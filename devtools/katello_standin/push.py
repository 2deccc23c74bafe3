"""Katello's push client: the requests a capsule sync sends to the gateway's push API.

In Katello's order, with Foreman's ``ProxyAPI::Resource`` headers and bodies form-encoded byte for
byte like RestClient (``devtools.rack``), so tests, the demo and the push benchmark send what a
real Katello sends.
"""

import sys
import uuid
from typing import NamedTuple
from urllib.parse import urlsplit

import requests

from devtools import rack

# Headers RestClient 2.1 / Net::HTTP add to every request Foreman's ProxyAPI makes.
RESTCLIENT_HEADERS = {
    "User-Agent": "rest-client/2.1.0 (linux x86_64) ruby/3.0.7p220",
    "Accept-Encoding": "gzip;q=1.0,deflate;q=0.6,identity;q=0.3",
    "Accept": "application/json",
}


class PushStep(NamedTuple):
    """One request of a push; ``status`` is None when no HTTP answer arrived."""

    method: str
    path: str
    status: int | None


def _proxy_headers():
    """Headers of Foreman's ``ProxyAPI::Resource``: JSON accept and request/session ids."""
    return {**RESTCLIENT_HEADERS, "X-Request-Id": str(uuid.uuid4()),
            "X-Session-Id": str(uuid.uuid4())}


def put(base_url, endpoint, payload, *, auth=None, verify=True, cert=None, session=None,
        timeout=30, headers=None):
    """PUT one admin endpoint the way Katello does; returns the ``requests.Response``.

    ``ProxyAPI::Resource#put(args)`` asks RestClient for ``resource[""]``, which appends ``/``:
    Katello's PUTs really go to ``.../repository_list/`` (trailing slash), its GET to ``.../users``.
    """
    url = f"{base_url.rstrip('/')}/{endpoint}/"
    body = payload if isinstance(payload, str | bytes) else rack.encode(payload)
    request_headers = {
        **(headers or _proxy_headers()),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return (session or requests).put(
        url,
        data=body.encode() if isinstance(body, str) else body,
        headers=request_headers,
        auth=auth,
        verify=verify,
        cert=cert,
        timeout=timeout,
    )


def sync_container_gateway(katello, base_url, *, auth=None, verify=True, cert=None, timeout=30):
    """Katello's capsule-sync push of ``katello`` to ``base_url`` (``.../container_gateway``).

    Each step is tried on its own; a failure does not stop the next one, as in Katello. One
    request id and session id for the whole sequence, as inside one Foreman task.
    Returns the ``PushStep`` list of what was sent.
    """
    headers = _proxy_headers()
    prefix = base_url.rstrip("/")
    steps = []
    with requests.Session() as session:

        def attempt(method, endpoint, payload=None):
            try:
                if method == "GET":
                    response = session.get(f"{prefix}/{endpoint}", headers=headers, auth=auth,
                                           verify=verify, cert=cert, timeout=timeout)
                else:
                    response = put(base_url, endpoint, payload, auth=auth, verify=verify,
                                   cert=cert, session=session, timeout=timeout, headers=headers)
            except requests.RequestException as exc:
                path = urlsplit(f"{prefix}/{endpoint}{'/' if method == 'PUT' else ''}").path
                print(f"katello stand-in: {method} {path} failed: {type(exc).__name__}",
                      file=sys.stderr, flush=True)
                steps.append(PushStep(method, path, None))
                return None
            steps.append(PushStep(method, urlsplit(response.url).path, response.status_code))
            return response

        attempt("PUT", "repository_list", katello.repository_list_payload())
        known = katello.known_logins(_users_from(attempt("GET", "users")))
        if known:
            attempt("PUT", "user_repository_mapping", katello.user_mapping_payload(known))
        if katello.hosts:
            attempt("PUT", "update_hosts", katello.hosts_payload())
            attempt("PUT", "host_repository_mapping", katello.host_mapping_payload())
    return steps


def _users_from(response):
    """Logins in a ``GET /users`` answer; anything unusable counts as none (Katello logs it)."""
    if response is None or not 200 <= response.status_code < 300:
        return []
    try:
        users = response.json().get("users")
    except (ValueError, AttributeError):
        return []
    return [u for u in users if isinstance(u, str)] if isinstance(users, list) else []
