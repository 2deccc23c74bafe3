"""OpenTelemetry metrics of the gateway, exported with pulpcore's own (no-ops when it is off).

With ``OTEL_ENABLED`` pulpcore-api exports its metrics through ``init_otel_meter("pulp-api")``
(one OTLP exporter per process, configured by the standard ``OTEL_EXPORTER_OTLP_*`` variables).
The instruments here hang off that same meter, so they reach the same collector with no setting
of their own. With telemetry off each function returns after one cached lookup.

Attributes are small fixed sets (never logins, addresses or repository names), so the number of
time series stays bounded.
"""

import functools
import time
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings

from pulp_katello_gateway.app import pulp_internals

PREFIX = "katello_gateway"


@dataclass(frozen=True)
class Instruments:
    logins: object
    throttled: object
    foreman_duration: object
    refused_scopes: object
    host_refreshes: object
    pushes: object
    push_bytes: object

    @classmethod
    def on(cls, meter):
        # One declaration per instrument: parallel by design.
        return cls(
            logins=meter.create_counter(
                f"{PREFIX}.logins",
                description="Login decisions at the token endpoint, by result, cache and kind",
            ),
            throttled=meter.create_counter(
                f"{PREFIX}.logins.throttled",
                description="Foreman logins answered 429 without asking Foreman",
            ),
            foreman_duration=meter.create_histogram(
                f"{PREFIX}.foreman.request_duration",
                unit="ms",
                description="Duration of calls to Foreman (including the wait for a call slot)",
            ),
            refused_scopes=meter.create_counter(
                f"{PREFIX}.token.refused_scopes",
                description="Token scopes granted fewer actions than requested",
            ),
            host_refreshes=meter.create_counter(
                f"{PREFIX}.host_refreshes",
                description="Refreshes of a host's grants from Katello, by result",
            ),
            pushes=meter.create_counter(
                f"{PREFIX}.pushes",
                description="Successful Katello pushes, by endpoint",
            ),
            push_bytes=meter.create_histogram(
                f"{PREFIX}.push.size",
                unit="By",
                description="Body size of successful Katello pushes, by endpoint",
            ),
        )


@lru_cache(maxsize=1)
def instruments():
    """The instruments on pulpcore-api's meter, or None when telemetry is off."""
    if not settings.OTEL_ENABLED:
        return None
    return Instruments.on(pulp_internals.init_otel_meter("pulp-api"))


def login(result, cache="-", kind="foreman"):
    """One login decision (the audit line's ``result``, ``cache`` and ``kind``)."""
    active = instruments()
    if active is None:
        return
    active.logins.add(1, {"result": result, "cache": cache, "kind": kind})
    if result == "throttled":
        active.throttled.add(1)


def refused_scope(identity, granted):
    """A token scope that got fewer actions than it asked for (none, or only some)."""
    active = instruments()
    if active is None:
        return
    active.refused_scopes.add(
        1, {"identity": identity.kind, "granted": "some" if granted else "none"}
    )


def host_refresh(result):
    """A host refresh ``requested`` at a token request, or done by its task (``ok``,
    ``unavailable``)."""
    active = instruments()
    if active is not None:
        active.host_refreshes.add(1, {"result": result})


def push(endpoint, body_bytes):
    """A successful Katello push (the ACL state's last push, as a metric)."""
    active = instruments()
    if active is not None:
        active.pushes.add(1, {"endpoint": endpoint})
        active.push_bytes.record(body_bytes, {"endpoint": endpoint})


def timed_foreman_call(rejected):
    """Decorator recording the duration and outcome of ``function(endpoint, ...)``.

    The outcome is ``ok``, ``rejected`` (the call raised ``rejected``: Foreman said the
    credentials are wrong) or ``unavailable`` (any other error: down, timeout, 5xx, no free call
    slot, an answer that makes no sense).
    """

    def decorate(function):
        @functools.wraps(function)
        def timed(endpoint, *args, **kwargs):
            active = instruments()
            if active is None:
                return function(endpoint, *args, **kwargs)
            outcome = "unavailable"
            started = time.perf_counter()
            try:
                result = function(endpoint, *args, **kwargs)
                outcome = "ok"
                return result
            except rejected:
                outcome = "rejected"
                raise
            finally:
                active.foreman_duration.record(
                    (time.perf_counter() - started) * 1000,
                    {"endpoint": endpoint, "outcome": outcome},
                )

        return timed

    return decorate
