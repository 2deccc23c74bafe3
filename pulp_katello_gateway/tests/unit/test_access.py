"""access.py, the one decision: who may pull or push which repository, and the JWT access claim.

The matrix below is the whole rule set: Katello repositories (public, private with grants,
private without), a repository only Pulp knows, and a missing one, against every kind of
identity the token endpoint can produce.
"""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pulp_container.app.models import ContainerDistribution

from pulp_katello_gateway.app.access import parse_scope, permitted_actions, token_access
from pulp_katello_gateway.app.identities import ANONYMOUS, Identity
from pulp_katello_gateway.app.models import (
    ConsumerHost,
    ForemanUser,
    HostRepositoryGrant,
    KatelloRepository,
    UserRepositoryGrant,
)

pytestmark = pytest.mark.django_db

PUBLIC, GRANTED, PRIVATE = "kat/public", "kat/granted", "kat/private"
PULP_ONLY, MISSING = "local/only", "nowhere/missing"
PULL, PUSH = {"pull"}, {"pull", "push"}
NOTHING = set()


@pytest.fixture
def world():
    """Katello's repositories and grants, their distributions, and one of each identity."""
    repos = {
        PUBLIC: KatelloRepository.objects.create(name=PUBLIC, auth_required=False),
        GRANTED: KatelloRepository.objects.create(name=GRANTED, auth_required=True),
        PRIVATE: KatelloRepository.objects.create(name=PRIVATE, auth_required=True),
    }
    for name in (PUBLIC, GRANTED, PRIVATE, PULP_ONLY):
        ContainerDistribution.objects.create(name=name.replace("/", "-"), base_path=name)
    alice = ForemanUser.objects.create_for_login("alice")
    bob = ForemanUser.objects.create_for_login("bob")
    UserRepositoryGrant.objects.create(foreman_user=alice, repository=repos[GRANTED])
    # A grant to a public repository (Katello lists those too) must not matter either way.
    UserRepositoryGrant.objects.create(foreman_user=bob, repository=repos[PUBLIC])
    host = ConsumerHost.objects.create(uuid="11111111-2222-3333-4444-555555555555")
    other_host = ConsumerHost.objects.create(uuid="99999999-2222-3333-4444-555555555555")
    HostRepositoryGrant.objects.create(host=host, repository=repos[GRANTED])
    users = get_user_model().objects
    return {
        "anonymous": ANONYMOUS,
        "foreman user with grant": Identity(user=alice.user, foreman_user_id=alice.pk),
        "foreman user without grant": Identity(user=bob.user, foreman_user_id=bob.pk),
        "host with grant": Identity(host_id=host.pk),
        "host without grant": Identity(host_id=other_host.pk),
        "local superuser": Identity(user=users.create_superuser("root", password=None)),
        "local plain user": Identity(user=users.create_user("carol", password=None)),
    }


# identity -> {repository: actions granted when pull and push are both requested}
MATRIX = {
    "anonymous": {
        PUBLIC: PULL, GRANTED: NOTHING, PRIVATE: NOTHING, PULP_ONLY: PULL, MISSING: NOTHING,
    },
    "foreman user with grant": {
        PUBLIC: PULL, GRANTED: PULL, PRIVATE: NOTHING, PULP_ONLY: NOTHING, MISSING: NOTHING,
    },
    "foreman user without grant": {
        PUBLIC: PULL, GRANTED: NOTHING, PRIVATE: NOTHING, PULP_ONLY: NOTHING, MISSING: NOTHING,
    },
    "host with grant": {
        PUBLIC: PULL, GRANTED: PULL, PRIVATE: NOTHING, PULP_ONLY: NOTHING, MISSING: NOTHING,
    },
    "host without grant": {
        PUBLIC: PULL, GRANTED: NOTHING, PRIVATE: NOTHING, PULP_ONLY: NOTHING, MISSING: NOTHING,
    },
    # Local Pulp users keep pulp_container's RBAC: the superuser may do anything (a missing
    # repository included: pushing creates it) ...
    "local superuser": {PUBLIC: PUSH, GRANTED: PUSH, PRIVATE: PUSH, PULP_ONLY: PUSH, MISSING: PUSH},
    # ... a user without roles pulls what is not private (private mirrors auth_required).
    "local plain user": {
        PUBLIC: PULL, GRANTED: NOTHING, PRIVATE: NOTHING, PULP_ONLY: PULL, MISSING: NOTHING,
    },
}


@pytest.mark.parametrize(
    "who,repository",
    [(who, repository) for who, row in MATRIX.items() for repository in row],
)
def test_permitted_actions_matrix(world, who, repository):
    assert permitted_actions(world[who], repository, {"pull", "push"}) == MATRIX[who][repository]


def test_distributions_of_katello_repositories_mirror_auth_required(world):
    private = dict(ContainerDistribution.objects.values_list("base_path", "private"))
    assert private == {PUBLIC: False, GRANTED: True, PRIVATE: True, PULP_ONLY: False}


@pytest.mark.parametrize(
    "who", ["foreman user with grant", "host with grant", "anonymous", "local plain user"]
)
def test_push_alone_is_never_granted_to_katello_identities_or_readers(world, who):
    for repository in (PUBLIC, GRANTED):
        assert permitted_actions(world[who], repository, {"push"}) == NOTHING


def test_only_what_was_requested_is_granted(world):
    assert permitted_actions(world["local superuser"], PRIVATE, {"pull"}) == PULL
    assert permitted_actions(world["foreman user with grant"], GRANTED, {"delete", "*"}) == NOTHING
    assert permitted_actions(world["local superuser"], PRIVATE, {"delete"}) == NOTHING


def test_forbidden_looks_like_missing_in_the_token(world):
    """The access claim for a repository one may not pull is the one for a missing repository."""
    alice = world["foreman user with grant"]
    forbidden = token_access(alice, [f"repository:{PRIVATE}:pull"])
    missing = token_access(alice, [f"repository:{MISSING}:pull"])
    assert forbidden[0]["actions"] == missing[0]["actions"] == []
    assert {entry["type"] for entry in forbidden + missing} == {"repository"}


@pytest.mark.parametrize(
    "scope,expected",
    [
        ("repository:kat/granted:pull", ("repository", "kat/granted", ["pull"])),
        ("repository:kat/granted:pull,push", ("repository", "kat/granted", ["pull", "push"])),
        ("repository:host:5000/kat/app:pull", ("repository", "host:5000/kat/app", ["pull"])),
        ("registry:catalog:*", ("registry", "catalog", ["*"])),
        ("repository:kat/granted:", ("repository", "kat/granted", [])),
        ("repository:kat/granted", None),
        ("repository", None),
        (":kat/granted:pull", None),
        ("repository::pull", None),
        ("", None),
    ],
)
def test_parse_scope(scope, expected):
    assert parse_scope(scope) == expected


def test_token_access_is_requested_intersected_with_allowed(world):
    alice = world["foreman user with grant"]
    access = token_access(
        alice,
        [
            f"repository:{GRANTED}:pull,push",
            f"repository:{PRIVATE}:pull",
            f"repository:{PUBLIC}:pull",
        ],
    )
    assert access == [
        {"type": "repository", "name": GRANTED, "actions": ["pull"]},
        {"type": "repository", "name": PRIVATE, "actions": []},
        {"type": "repository", "name": PUBLIC, "actions": ["pull"]},
    ]


def test_host_port_scope_does_not_void_the_other_scopes(world):
    """pulp_container returns [] for the whole request here; we refuse only that one scope."""
    access = token_access(
        world["foreman user with grant"],
        ["repository:127.0.0.1:5000/kat/granted:pull", f"repository:{GRANTED}:pull"],
    )
    assert access == [
        {"type": "repository", "name": "127.0.0.1:5000/kat/granted", "actions": []},
        {"type": "repository", "name": GRANTED, "actions": ["pull"]},
    ]


def test_malformed_scopes_are_left_out_and_unknown_types_get_nothing(world):
    access = token_access(
        world["local superuser"],
        ["nonsense", f"repository:{PULP_ONLY}:pull", f"registry:{PULP_ONLY}:pull", "foo:bar:baz"],
    )
    assert access == [
        {"type": "repository", "name": PULP_ONLY, "actions": ["pull"]},
        {"type": "registry", "name": PULP_ONLY, "actions": []},
        {"type": "foo", "name": "bar", "actions": []},
    ]


def test_no_scope_gives_the_empty_root_token(world):
    """What ``podman login`` asks for: the empty access list ``GET /v2/`` accepts."""
    for identity in world.values():
        assert token_access(identity, []) == []


def test_catalog_scope_is_granted_to_every_identity(world):
    for identity in world.values():
        assert token_access(identity, ["registry:catalog:*"]) == [
            {"type": "registry", "name": "catalog", "actions": ["*"]}
        ]


def test_repository_becoming_public_opens_it_and_removal_closes_it(world):
    bob = world["foreman user without grant"]
    assert permitted_actions(bob, PRIVATE, PULL) == NOTHING
    KatelloRepository.objects.filter(name=PRIVATE).update(auth_required=False)
    assert permitted_actions(bob, PRIVATE, PULL) == PULL
    assert permitted_actions(ANONYMOUS, PRIVATE, PULL) == PULL

    alice = world["foreman user with grant"]
    KatelloRepository.objects.filter(name=GRANTED).delete()
    assert permitted_actions(alice, GRANTED, PULL) == NOTHING
    assert permitted_actions(world["host with grant"], GRANTED, PULL) == NOTHING


@pytest.mark.parametrize("name", ["kat/gran\x00ted", "kat/granted\n", "\x7f"])
def test_names_with_control_characters_get_nothing(world, name):
    for identity in world.values():
        assert permitted_actions(identity, name, {"pull", "push"}) == NOTHING
    assert token_access(world["local superuser"], [f"repository:{name}:pull"]) == [
        {"type": "repository", "name": name, "actions": []}
    ]


def test_a_repository_asked_for_many_times_is_decided_once(world):
    """A client may repeat a scope up to the limit: the decision (for a local user,
    pulp_container's permission checks) runs once per repository, not once per scope."""
    carol = world["local plain user"]
    scope = f"repository:{PULP_ONLY}:pull,push"
    token_access(carol, [scope])  # warm: content types are looked up once per process
    with CaptureQueriesContext(connection) as once:
        single = token_access(carol, [scope])
    with CaptureQueriesContext(connection) as repeated:
        access = token_access(carol, [scope] * 100 + [f"repository:{PULP_ONLY}:pull"])
    assert access == single == [
        {"type": "repository", "name": PULP_ONLY, "actions": sorted(MATRIX["local plain user"][
            PULP_ONLY] & {"pull", "push"})}
    ]
    assert len(repeated) == len(once)


def test_actions_asked_for_one_repository_in_several_scopes_are_merged(world):
    alice = world["foreman user with grant"]
    assert token_access(alice, [f"repository:{GRANTED}:push", f"repository:{GRANTED}:pull"]) == [
        {"type": "repository", "name": GRANTED, "actions": ["pull"]}
    ]
