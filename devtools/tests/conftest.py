"""Fixtures for the tests of the development tools: the Katello stand-in with a small world.

Nothing here needs Django or a database; these tests run with the plugin's (``make test``).
"""

import copy

import pytest

from devtools.katello_standin.server import KatelloStandin

WORLD = {
    "repositories": {
        "org-prod-busybox": {"auth_required": True},
        "org-prod-web": {"auth_required": True},
        "org-lib-public": {"auth_required": False},
    },
    "users": {
        "admin": {"password": "admin-pw", "repositories": ["org-prod-busybox", "org-prod-web"]},
        "bob": {
            "password": "bob-pw", "pat": "bob-personal-token", "repositories": ["org-prod-web"],
        },
        "carol": {"password": "carol-pw"},
    },
    "hosts": {
        "2f1c-host": {"repositories": ["org-prod-busybox", "org-lib-public"]},
        "9a0b-host": [],
    },
}


@pytest.fixture
def standin_config():
    """The stand-in's state in its ``--config`` format: three repositories (one public), three
    users (bob with a personal access token, carol with no grant) and two hosts."""
    return copy.deepcopy(WORLD)


@pytest.fixture
def katello(standin_config):
    """A running stand-in serving ``standin_config``, stopped after the test."""
    with KatelloStandin(config=standin_config) as standin:
        yield standin
