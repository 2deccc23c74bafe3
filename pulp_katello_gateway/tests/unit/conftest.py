"""Fixtures shared by the unit tests: API clients for each kind of caller, push helpers, Katello's
data as its pushes leave it (``katello_world``), the Katello stand-in as Foreman."""

import contextlib

import psycopg
import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import override_settings
from pulpcore.app.authentication import BasicAuthentication, PulpRemoteUserAuthentication
from pulpcore.plugin.util import assign_role, set_current_user
from rest_framework.authentication import SessionAuthentication
from rest_framework.settings import api_settings
from rest_framework.test import APIClient

from devtools.katello_standin.server import KatelloStandin
from pulp_katello_gateway.app.katello.views import KatelloView
from pulp_katello_gateway.app.models import (
    ForemanBackoff,
    KatelloRepository,
)
from pulp_katello_gateway.tests.unit.katello_api import make_world


@pytest.fixture
def katello_world(db):
    """``katello_world(repositories, users=None, hosts=None)``: see ``make_world``."""
    return make_world


@pytest.fixture(autouse=True)
def no_current_user():
    """Every test starts without pulpcore's current user. A request leaves its user as the
    current user (a context variable) until the next request; creation hooks would give that
    user, rolled back with its test, roles on what a later test creates."""
    set_current_user(None)
    yield
    set_current_user(None)


def _client(user=None):
    client = APIClient(SERVER_NAME="localhost")  # an ALLOWED_HOSTS name
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def anonymous_client():
    return _client()


@pytest.fixture
def plain_client(db):
    return _client(get_user_model().objects.create_user("plain", password=None))


@pytest.fixture
def katello_user(db):
    """A Pulp user holding the plugin's locked role, as Katello's service account would."""
    user = get_user_model().objects.create_user("katello", password="katello-secret")
    assign_role("katello_gateway.katello", user)
    return user


@pytest.fixture
def katello_client(katello_user):
    return _client(katello_user)


@pytest.fixture
def admin_client(db):
    return _client(get_user_model().objects.create_superuser("root", password=None))


@pytest.fixture
def remote_user_authentication(monkeypatch, settings):
    """Pulp's remote-user authentication as install.md (and foremanctl) configure it, for
    the REST views (their classes were read at import) and the registry alike."""
    settings.AUTHENTICATION_BACKENDS = [
        *settings.AUTHENTICATION_BACKENDS,
        "pulpcore.app.authentication.PulpNoCreateRemoteUserBackend",
    ]
    classes = [BasicAuthentication, SessionAuthentication, PulpRemoteUserAuthentication]
    monkeypatch.setattr(PulpRemoteUserAuthentication, "header", "HTTP_REMOTE_USER")
    monkeypatch.setattr(api_settings, "DEFAULT_AUTHENTICATION_CLASSES", classes)
    monkeypatch.setattr(KatelloView, "authentication_classes", classes)


@pytest.fixture
def other_session(db):
    """A second, autocommitting session on the test database, as another API process has."""
    settings = connection.settings_dict
    with psycopg.connect(
        host=settings["HOST"], port=settings["PORT"], user=settings["USER"],
        password=settings["PASSWORD"], dbname=settings["NAME"], autocommit=True,
    ) as other:
        yield other


@pytest.fixture(scope="session")
def standin():
    """One Katello stand-in over HTTP from this process, for the tests that ask Foreman."""
    with KatelloStandin() as katello:
        yield katello


@pytest.fixture
def foreman_with(standin, db):
    """``foreman_with(world, **settings)``: the stand-in as Foreman, healthy and serving
    ``world`` (its ``load()`` format) with counters at zero, ``world``'s repositories known to
    Pulp, and the given ``KATELLO_GATEWAY_*`` settings; all undone after the test."""
    with contextlib.ExitStack() as undo:

        def configure(world, **settings):
            standin.set_fault(None)
            standin.load(world)
            standin.reset_counters()
            ForemanBackoff.objects.all().delete()
            for name, spec in world["repositories"].items():
                KatelloRepository.objects.create(name=name, auth_required=spec["auth_required"])
            undo.enter_context(
                override_settings(KATELLO_GATEWAY_FOREMAN_URL=standin.url, **settings)
            )
            return standin

        yield configure
    standin.set_fault(None)
    ForemanBackoff.objects.all().delete()
