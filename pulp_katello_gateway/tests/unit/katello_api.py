"""Katello's push API and data, for the unit tests: where its endpoints land, how Katello sends a
body, the world its pushes leave, and everything the plugin stores (what a refused request
must leave as it was)."""

import json

from django.db import connection

from pulp_katello_gateway.app.acl import writes
from pulp_katello_gateway.app.models import ForemanUser
from pulp_katello_gateway.app.urls import PUSH_ROOT
from pulp_katello_gateway.tests.database import snapshot

FORM = "application/x-www-form-urlencoded"


def push_url(endpoint):
    """Where Katello's ``/container_gateway/<endpoint>`` lands in Pulp."""
    return f"/{PUSH_ROOT}{endpoint}"


def put_form(client, endpoint, body):
    """PUT ``body`` (bytes or str) as Katello does: a Rack-style form."""
    return client.put(push_url(endpoint), data=body, content_type=FORM)


def database_state():
    """Everything the plugin stores, with row identities: what a refused request must leave."""
    return snapshot(connection)


def make_world(repositories, users=None, hosts=None):
    """Katello's data as its pushes leave it, written by the ACL write layer the push API uses.

    ``repositories`` is ``{name: auth_required}``; ``users`` ``{login: [granted names]}`` (the
    Foreman users are created first, as their first login does: pushes map only known logins);
    ``hosts`` ``{consumer uuid: [granted names]}``.
    """
    users, hosts = users or {}, hosts or {}
    for login in users:
        ForemanUser.objects.create_for_login(login)
    writes.replace_repositories(repositories)
    writes.replace_user_grants(users)
    writes.replace_hosts(list(hosts))
    writes.replace_host_grants(hosts)


def put_json(client, endpoint, payload):
    return client.put(push_url(endpoint), data=json.dumps(payload), content_type="application/json")
