"""metrics.py: what the login, Foreman and token decision points record, read back in memory.

The instruments are put on an SDK meter with an ``InMemoryMetricReader`` (what pulpcore's own
OTLP exporter would get); Foreman is the Katello stand-in over HTTP from this process.
"""

import pytest
from django.test import RequestFactory, override_settings
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from rest_framework.exceptions import AuthenticationFailed

from pulp_katello_gateway.app import metrics
from pulp_katello_gateway.app.access import token_access
from pulp_katello_gateway.app.identities import ANONYMOUS
from pulp_katello_gateway.app.models import KatelloRepository
from pulp_katello_gateway.app.registry import identity
from pulp_katello_gateway.app.registry.token import requester

pytestmark = pytest.mark.django_db

PASSWORD = "alice-password-1"


@pytest.fixture
def reader(monkeypatch):
    """Metrics recorded during the test, as pulpcore's exporter would collect them."""
    reader = InMemoryMetricReader()
    instruments = metrics.Instruments.on(MeterProvider(metric_readers=[reader]).get_meter("t"))
    monkeypatch.setattr(metrics, "instruments", lambda: instruments)
    return reader


def points(reader):
    """{metric name: [(attributes, value or histogram count), ...]}."""
    found = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                found[metric.name] = sorted(
                    (tuple(sorted(p.attributes.items())), getattr(p, "value", None) or p.count)
                    for p in metric.data.data_points
                )
    return found


@pytest.fixture
def foreman(foreman_with):
    return foreman_with({
        "repositories": {"kat/a": {"auth_required": True}},
        "users": {"alice": {"password": PASSWORD, "repositories": ["kat/a"]}},
    })


def login(secret):
    request = RequestFactory().get("/token/", REMOTE_ADDR="192.0.2.10")
    return requester(request, ("alice", secret))


def test_logins_and_foreman_calls_are_counted_by_result_and_outcome(reader, foreman):
    login(PASSWORD)  # miss: Foreman's token and catalog
    login(PASSWORD)  # hit: no Foreman call
    with pytest.raises(AuthenticationFailed):
        login("wrong")  # miss, Foreman says no
    found = points(reader)
    assert found["katello_gateway.logins"] == [
        ((("cache", "hit"), ("kind", "foreman"), ("result", "ok")), 1),
        ((("cache", "miss"), ("kind", "foreman"), ("result", "denied")), 1),
        ((("cache", "miss"), ("kind", "foreman"), ("result", "ok")), 1),
    ]
    assert found["katello_gateway.foreman.request_duration"] == [
        ((("endpoint", "_catalog"), ("outcome", "ok")), 1),
        ((("endpoint", "token"), ("outcome", "ok")), 1),
        ((("endpoint", "token"), ("outcome", "rejected")), 1),
    ]


def test_foreman_down_is_an_unavailable_call(reader, foreman):
    foreman.set_fault("error", status=502)
    with pytest.raises(identity.IdentityUnavailable):
        login(PASSWORD)
    found = points(reader)
    assert found["katello_gateway.foreman.request_duration"] == [
        ((("endpoint", "token"), ("outcome", "unavailable")), 1)
    ]
    assert found["katello_gateway.logins"] == [
        ((("cache", "miss"), ("kind", "foreman"), ("result", "unavailable")), 1)
    ]


def test_throttled_attempts_have_their_own_counter(reader, foreman):
    with override_settings(KATELLO_GATEWAY_THROTTLE_ADDRESS_FAILURES=1):
        with pytest.raises(AuthenticationFailed):
            login("wrong")
        for _ in range(2):
            with pytest.raises(Exception, match="Too many failed logins"):
                login("wrong")
    assert points(reader)["katello_gateway.logins.throttled"] == [((), 2)]


def test_refused_token_scopes_are_counted(reader):
    KatelloRepository.objects.create(name="kat/private", auth_required=True)
    KatelloRepository.objects.create(name="kat/public", auth_required=False)
    token_access(ANONYMOUS, [
        "repository:kat/private:pull",  # nothing granted
        "repository:kat/public:pull,push",  # pull only
        "repository:kat/public:pull",  # all granted: not counted
    ])
    assert points(reader)["katello_gateway.token.refused_scopes"] == [
        ((("granted", "none"), ("identity", "anonymous")), 1),
        ((("granted", "some"), ("identity", "anonymous")), 1),
    ]


def test_without_telemetry_nothing_is_set_up(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("pulpcore's meter must not be set up with telemetry off")

    monkeypatch.setattr("pulpcore.metrics.init_otel_meter", fail)
    metrics.instruments.cache_clear()
    try:
        with override_settings(OTEL_ENABLED=False):
            assert metrics.instruments() is None
            metrics.login("ok", "hit")
            metrics.refused_scope(ANONYMOUS, set())
    finally:
        metrics.instruments.cache_clear()


def test_with_telemetry_the_instruments_live_on_pulp_apis_meter(monkeypatch):
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("pulp.metrics")
    services = []
    monkeypatch.setattr(
        "pulpcore.metrics.init_otel_meter", lambda service: services.append(service) or meter
    )
    metrics.instruments.cache_clear()
    try:
        with override_settings(OTEL_ENABLED=True):
            metrics.login("ok", "hit")
    finally:
        metrics.instruments.cache_clear()
    assert services == ["pulp-api"]
    assert points(reader)["katello_gateway.logins"] == [
        ((("cache", "hit"), ("kind", "foreman"), ("result", "ok")), 1)
    ]
