"""ownership.py: Foreman users' usernames and Katello's repository names are never a local
Pulp user's, whatever pulpcore's and pulp_container's own rules would allow."""

import pytest
from django.contrib.auth import get_user_model
from pulp_container.app.models import (
    ContainerDistribution,
    ContainerNamespace,
    ContainerPullThroughDistribution,
    ContainerRepository,
)
from pulpcore.plugin.models import Group, RepositoryVersion
from pulpcore.plugin.util import assign_role, remove_role, set_current_user
from rest_framework.exceptions import ValidationError

from devtools.clients import NATIVE_API_PATH
from pulp_katello_gateway.app.access import explain, permitted_actions
from pulp_katello_gateway.app.checks import deploy_checks
from pulp_katello_gateway.app.identities import Identity
from pulp_katello_gateway.app.models import ForemanUser, KatelloRepository, UserRepositoryGrant
from pulp_katello_gateway.app.ownership import taken_names

pytestmark = pytest.mark.django_db

User = get_user_model()
USERS = "/pulp/api/v3/users/"
KATELLO_NAME, NEW_KATELLO_NAME, LOCAL_NAME = "acme/web", "acme-staging-web", "mallory/tools"


# -- reserved usernames -----------------------------------------------------------------------


@pytest.mark.parametrize("username", ["foreman:carol", "foreman#" + "0" * 64])
def test_pulps_user_api_refuses_a_reserved_username(admin_client, username):
    answer = admin_client.post(USERS, {"username": username, "password": "Sup3r-secret-pw"},
                               format="json")
    assert answer.status_code == 400, answer.content
    assert "reserved for Foreman users" in str(answer.json())
    assert not User.objects.filter(username=username).exists()


def test_renaming_a_local_user_to_a_reserved_username_is_refused(admin_client):
    carol = User.objects.create_user("carol-local", password=None)
    answer = admin_client.patch(f"{USERS}{carol.pk}/", {"username": "foreman:carol"},
                                format="json")
    assert answer.status_code == 400, answer.content
    carol.refresh_from_db()
    assert carol.username == "carol-local"


def test_foreman_users_keep_their_usernames(admin_client):
    """The victim's side: Foreman users are still created, renamed by nobody, and a local user
    with an ordinary name is still created."""
    carol = ForemanUser.objects.create_for_login("Carol")
    assert carol.user.username == "foreman:carol"
    carol.user.save()  # a later save of a Foreman user's own Django user is not refused
    answer = admin_client.post(USERS, {"username": "carol", "password": "Sup3r-secret-pw"},
                               format="json")
    assert answer.status_code == 201, answer.content


def test_native_api_refuses_a_foreman_user_whose_name_a_local_user_holds(admin_client):
    User.objects.bulk_create([User(username="foreman:carol")])  # an old row: no pre_save
    answer = admin_client.post(f"{NATIVE_API_PATH}users/", {"login": "carol"},
                               format="json")
    assert answer.status_code == 400
    assert "reserved for Foreman user 'carol'" in str(answer.json())
    assert not ForemanUser.objects.exists()
    assert [m.id for m in deploy_checks(None) if m.id == "katello_gateway.W007"] == [
        "katello_gateway.W007"
    ]


def test_native_api_refuses_a_login_that_folds_to_a_known_one(admin_client):
    ForemanUser.objects.create_for_login("alice")
    answer = admin_client.post(f"{NATIVE_API_PATH}users/", {"login": "ALICE"},
                               format="json")
    assert answer.status_code == 400
    assert ForemanUser.objects.count() == 1


# -- Katello's repository names ---------------------------------------------------------------


@pytest.fixture
def katello_names():
    KatelloRepository.objects.create(name=KATELLO_NAME, auth_required=True)
    KatelloRepository.objects.create(name=NEW_KATELLO_NAME, auth_required=True)  # no dist yet
    ContainerDistribution.objects.create(name="acme-web", base_path=KATELLO_NAME)


@pytest.fixture
def namespace_creator(db):
    """A local user with pulp_container's stock role to create namespaces (and so push)."""
    user = User.objects.create_user("mallory", password=None)
    assign_role("container.containernamespace_creator", user)
    return user


@pytest.mark.parametrize("name", [KATELLO_NAME, NEW_KATELLO_NAME])
def test_a_namespace_creator_cannot_push_to_katellos_names(katello_names, namespace_creator,
                                                           name):
    actions, rule = explain(Identity(user=namespace_creator), name, {"pull", "push"})
    assert "push" not in actions
    assert "only a Pulp superuser may push" in rule


def test_local_users_keep_pulp_containers_rules_elsewhere(katello_names, namespace_creator):
    assert permitted_actions(Identity(user=namespace_creator), LOCAL_NAME, {"pull", "push"}) == {
        "pull", "push"
    }
    root = User.objects.create_superuser("root", password=None)
    assert permitted_actions(Identity(user=root), NEW_KATELLO_NAME, {"pull", "push"}) == {
        "pull", "push"
    }


def test_only_a_superuser_saves_a_distribution_at_a_katello_name(katello_names,
                                                                  namespace_creator):
    set_current_user(namespace_creator)
    with pytest.raises(ValidationError, match="only a Pulp superuser"):
        ContainerDistribution.objects.create(name="squat", base_path=NEW_KATELLO_NAME)
    with pytest.raises(ValidationError, match="only a Pulp superuser"):
        ContainerPullThroughDistribution.objects.create(name="pt", base_path=NEW_KATELLO_NAME)
    with pytest.raises(ValidationError):
        distribution = ContainerDistribution.objects.get(base_path=KATELLO_NAME)
        distribution.base_path = NEW_KATELLO_NAME
        distribution.save()
    ContainerDistribution.objects.create(name="own", base_path=LOCAL_NAME)  # not Katello's

    set_current_user(User.objects.create_superuser("root", password=None))
    ContainerDistribution.objects.create(name="katello", base_path=NEW_KATELLO_NAME)
    assert set(ContainerDistribution.objects.values_list("base_path", flat=True)) == {
        KATELLO_NAME, NEW_KATELLO_NAME, LOCAL_NAME
    }


@pytest.mark.parametrize("base_path", ["acme", "acme/web/extra", "acme-staging-web/x"])
def test_no_distribution_of_any_type_overlaps_a_katello_name(katello_names, namespace_creator,
                                                             base_path):
    """pulpcore refuses overlapping base paths: a local pull-through distribution at ``acme``
    would keep Katello's own ``acme/web`` out. Names that merely start alike are free."""
    set_current_user(namespace_creator)
    for model in (ContainerDistribution, ContainerPullThroughDistribution):
        with pytest.raises(ValidationError, match="is or overlaps Katello repository"):
            model.objects.create(name=f"squat-{model.__name__}", base_path=base_path)
    ContainerPullThroughDistribution.objects.create(name="own", base_path="acme-web-mirror")
    assert set(ContainerPullThroughDistribution.objects.values_list("base_path", flat=True)) == {
        "acme-web-mirror"
    }


def test_a_katello_name_held_by_a_local_user_is_reported_not_served(
    katello_names, namespace_creator, admin_client
):
    """A local user made ``acme/web``'s distribution hers before Katello listed the name:
    Katello's users and hosts get nothing from it, the checks and status/ say why, and the
    local user keeps her own rules."""
    distribution = ContainerDistribution.objects.get(base_path=KATELLO_NAME)
    assign_role("container.containerdistribution_owner", namespace_creator, distribution)
    alice = ForemanUser.objects.create_for_login("alice")
    UserRepositoryGrant.objects.create(
        foreman_user=alice, repository=KatelloRepository.objects.get(name=KATELLO_NAME)
    )
    actions, rule = explain(Identity.of_foreman_user(alice), KATELLO_NAME, {"pull"})
    assert actions == set() and "katello_gateway.W009" in rule
    assert permitted_actions(Identity.of_foreman_user(alice), NEW_KATELLO_NAME, {"pull"}) == set()

    warnings = [m for m in deploy_checks(None) if m.id == "katello_gateway.W009"]
    assert len(warnings) == 1 and "'acme/web'" in warnings[0].msg and "mallory" in warnings[0].msg
    status = admin_client.get("/pulp/api/v3/katello_gateway/status/").json()
    assert status["katello_names_held_locally"] == {KATELLO_NAME: ["mallory"]}

    # Resolved: the role removed, alice pulls again.
    remove_role("container.containerdistribution_owner", namespace_creator, distribution)
    assert permitted_actions(Identity.of_foreman_user(alice), KATELLO_NAME, {"pull"}) == {"pull"}


def test_a_katello_name_in_a_namespace_a_local_user_owns_is_not_served(
    katello_names, namespace_creator
):
    """pulp_container's namespace owner may change every repository in her namespace: a Katello
    repository whose distribution sits in it is hers to change, so not Katello's to serve."""
    namespace = ContainerNamespace.objects.create(name="acme")
    ContainerDistribution.objects.filter(base_path=KATELLO_NAME).update(namespace=namespace)
    alice = _alice_granted(KATELLO_NAME)
    assert permitted_actions(alice, KATELLO_NAME, {"pull"}) == {"pull"}
    assign_role("container.containernamespace_owner", namespace_creator, namespace)
    assert permitted_actions(alice, KATELLO_NAME, {"pull"}) == set()
    assert taken_names() == {KATELLO_NAME: ["mallory"]}


def test_a_pull_only_role_does_not_take_a_katello_name(katello_names, namespace_creator):
    """The victim's side: giving a local user or group pull rights on Katello's distribution
    changes nothing for Katello's users."""
    distribution = ContainerDistribution.objects.get(base_path=KATELLO_NAME)
    assign_role("container.containerdistribution_consumer", namespace_creator, distribution)
    readers = Group.objects.create(name="readers")
    assign_role("container.containerdistribution_consumer", readers, distribution)
    alice = _alice_granted(KATELLO_NAME)
    assert permitted_actions(alice, KATELLO_NAME, {"pull"}) == {"pull"}
    assert taken_names() == {}


def test_only_a_superuser_changes_the_content_katello_serves(katello_names, namespace_creator):
    """Through namespace roles a local user could add her image to Katello's repository without
    saving any distribution: a new version of a repository served at a Katello name is a
    superuser's (or Pulp's own) to make."""
    katellos = ContainerRepository.objects.create(name="katello-acme-web")
    ContainerDistribution.objects.filter(base_path=KATELLO_NAME).update(repository=katellos)
    hers = ContainerRepository.objects.create(name="mallory-tools")

    set_current_user(namespace_creator)
    with pytest.raises(ValidationError, match="only a Pulp superuser may change its content"):
        RepositoryVersion(repository=katellos, number=katellos.next_version).save()
    RepositoryVersion(repository=hers, number=hers.next_version).save()  # not Katello's
    set_current_user(User.objects.create_superuser("root", password=None))
    RepositoryVersion(repository=katellos, number=katellos.next_version).save()
    set_current_user(None)
    RepositoryVersion(repository=katellos, number=katellos.next_version + 1).save()
    assert RepositoryVersion.objects.filter(repository=katellos).count() == 3  # 0, root's, Pulp's


def _alice_granted(name):
    alice = ForemanUser.objects.create_for_login("alice")
    UserRepositoryGrant.objects.create(
        foreman_user=alice, repository=KatelloRepository.objects.get(name=name)
    )
    return Identity.of_foreman_user(alice)
