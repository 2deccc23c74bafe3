"""The only code that talks to Foreman/Katello: its registry token and catalog endpoints.

One ``requests.Session`` per process with explicit timeouts; retries (through urllib3's
``Retry``) only for connections Foreman refused, which are quick and safe to repeat. The caller
learns one of three outcomes: verified, rejected (Foreman said the credentials are wrong) or
unavailable (Foreman could not give an answer: down, slow, 5xx, or an answer that makes no sense).

A Foreman that does not answer in time (unreachable host, hanging login check) is not asked again
by any API process for ``KATELLO_GATEWAY_FOREMAN_BACKOFF`` seconds: meanwhile calls fail at once,
so a cached login past its TTL is honoured at once and other logins get their 503 at once, instead
of every token request waiting for the timeouts (registry clients give up after about 15 s).
"""

import logging
import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from urllib.parse import urljoin

import requests
from django.conf import settings
from django.db import connection
from django.utils import timezone
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError
from urllib3.util.retry import Retry

from pulp_katello_gateway.app import metrics
from pulp_katello_gateway.app.models import ForemanBackoff

log = logging.getLogger(__name__)

UNAUTHENTICATED = "unauthenticated"


class ForemanUnavailable(Exception):
    """Foreman gave no usable answer; the message is safe to show to clients."""


class ForemanRejected(Exception):
    """Foreman answered that the credentials are not valid."""


_local = threading.local()


def backoff_until():
    """Until when no API process asks Foreman, after it failed to answer in time; or None.

    Shared through PostgreSQL (one row), so every process and node stops waiting on a hanging
    Foreman as soon as one of them saw it: stale cached logins are honoured at once and other
    logins get 503 at once instead of each tying up a worker for the whole timeout.
    """
    return (
        ForemanBackoff.objects.filter(pk=ForemanBackoff.SINGLETON, until__gt=timezone.now())
        .values_list("until", flat=True)
        .first()
    )


def _back_off():
    seconds = settings.KATELLO_GATEWAY_FOREMAN_BACKOFF
    ForemanBackoff.objects.update_or_create(
        pk=ForemanBackoff.SINGLETON,
        defaults={"until": timezone.now() + timedelta(seconds=seconds)},
    )
    log.warning("Foreman did not answer in time; not asking it for %s s", seconds)


class _RetryRefused(Retry):
    """Retry a connection Foreman refused or cut, but not one that timed out: that would make the
    client wait the whole connect timeout again, most likely for the same outcome."""

    def increment(self, method=None, url=None, response=None, error=None, _pool=None,
                  _stacktrace=None):
        # NewConnectionError (refused) subclasses ConnectTimeoutError: tell them apart.
        if isinstance(error, ConnectTimeoutError) and not isinstance(error, NewConnectionError):
            raise MaxRetryError(_pool, url, error) from error  # requests: ConnectTimeout
        return super().increment(method, url, response, error, _pool, _stacktrace)


# Advisory-lock group of the Foreman call slots, keyed by slot number (``pg_locks`` shows them as
# classid 19272; the ACL writers' lock is ``acl.locks.PUSH_LOCK``).
CALL_SLOT_LOCK_GROUP = 0x4B48


@contextmanager
def _call_slot():
    """Hold one of ``KATELLO_GATEWAY_FOREMAN_MAX_CONCURRENT`` slots while calling Foreman.

    The slots are PostgreSQL session advisory locks, shared by every API process and node. A
    hanging Foreman can then tie up at most that many API workers; further cache misses wait
    for a slot up to the connect timeout, then fail with 503, while cached logins and everything
    else keep being served.
    """
    slot = _take_slot(time.monotonic() + settings.KATELLO_GATEWAY_FOREMAN_CONNECT_TIMEOUT)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [CALL_SLOT_LOCK_GROUP, slot])


def _take_slot(deadline):
    """A free slot number, polling until ``deadline`` (a burst of healthy logins just queues)."""
    with connection.cursor() as cursor:
        while True:
            for slot in range(settings.KATELLO_GATEWAY_FOREMAN_MAX_CONCURRENT):
                cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [CALL_SLOT_LOCK_GROUP, slot])
                if cursor.fetchone()[0]:
                    return slot
            if time.monotonic() > deadline:
                raise ForemanUnavailable("Foreman is busy answering other logins")
            time.sleep(0.05)


def _session():
    """A pooled session per thread (gunicorn sync workers run one request at a time)."""
    session = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        # read=False: a read timeout is raised as such (read=0 turned it into a "connection
        # error" through MaxRetryError, hiding that Foreman was reached but did not answer).
        retry = _RetryRefused(
            total=2, connect=2, read=False, status=0, other=0, backoff_factor=0.1
        )
        adapter = HTTPAdapter(max_retries=retry, pool_maxsize=4)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.headers.update({"Accept": "application/json"})
        _local.session = session
    cert = settings.KATELLO_GATEWAY_FOREMAN_CLIENT_CERT
    key = settings.KATELLO_GATEWAY_FOREMAN_CLIENT_KEY
    session.cert = (cert, key) if cert and key else None
    return session


def _url(endpoint):
    base = settings.KATELLO_GATEWAY_FOREMAN_URL
    if not base:
        raise ForemanUnavailable("Foreman is not configured on this server")
    return urljoin(base.rstrip("/") + "/", f"v2/{endpoint}")


def _get(endpoint, *, params=None, auth=None, headers=None):
    url = _url(endpoint)
    if backoff_until():
        raise ForemanUnavailable("Foreman did not answer in time")
    return _call(endpoint, url, params=params, auth=auth, headers=headers)


@metrics.timed_foreman_call(rejected=ForemanRejected)
def _call(endpoint, url, *, params, auth, headers):
    """One timed call to Foreman; configuration and backoff were checked before, untimed."""
    timeout = (
        settings.KATELLO_GATEWAY_FOREMAN_CONNECT_TIMEOUT,
        settings.KATELLO_GATEWAY_FOREMAN_READ_TIMEOUT,
    )
    try:
        with _call_slot():
            response = _session().get(
                url,
                params=params,
                auth=auth,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
                # Per request: a session-level value would lose to REQUESTS_CA_BUNDLE.
                verify=settings.KATELLO_GATEWAY_FOREMAN_CA_FILE or True,
            )
    except requests.Timeout as exc:
        # A login check that times out means Foreman is sick; a catalog may just be big.
        if isinstance(exc, requests.ConnectTimeout) or endpoint == "token":
            _back_off()
        raise ForemanUnavailable("Foreman did not answer in time") from None
    except requests.RequestException as exc:
        log.warning("Foreman request to %s failed: %s", endpoint, type(exc).__name__)
        raise ForemanUnavailable("Foreman cannot be reached") from None
    if response.status_code == 401:
        raise ForemanRejected()
    if response.status_code != 200:
        log.warning("Foreman answered %s to %s", response.status_code, endpoint)
        raise ForemanUnavailable(f"Foreman answered {response.status_code}")
    try:
        return response.json()
    except ValueError:
        log.warning("Foreman answered %s with a body that is not JSON", endpoint)
        raise ForemanUnavailable("Foreman answered with something that is not JSON") from None


def _basic(login, secret):
    """Basic credentials as UTF-8 bytes, as registry clients send them (requests would encode
    text as Latin-1: a wrong password for every non-ASCII one, and an exception beyond Latin-1).
    """
    return login.encode(), secret.encode()


def verify_login(login, secret):
    """Ask Foreman whether ``login``/``secret`` (password or personal access token) are valid.

    Katello answers a registry token for valid credentials, an ``unauthenticated`` token when it
    did not check them at all, and 401 for invalid ones. Returns nothing; raises otherwise.
    """
    body = _get("token", params={"account": login}, auth=_basic(login, secret))
    token = body.get("token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token or token == UNAUTHENTICATED:
        raise ForemanUnavailable("Foreman answered without a registry token")


def _catalog(**kwargs):
    body = _get("_catalog", **kwargs)
    names = body.get("repositories") if isinstance(body, dict) else None
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise ForemanUnavailable("Foreman answered a malformed catalog")
    return names


def user_catalog(login, secret):
    """Names of the repositories Katello lets this user read."""
    return _catalog(params={"account": login}, auth=_basic(login, secret))


def host_catalog(consumer_uuid):
    """Names of the repositories of the host's content-view environments."""
    return _catalog(headers={"HostUUID": consumer_uuid})
