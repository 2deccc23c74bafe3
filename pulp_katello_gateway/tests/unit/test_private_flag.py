"""acl/private_flag.py: ContainerDistribution.private follows auth_required for Katello
repositories, and only them."""

import pytest
from pulp_container.app.models import ContainerDistribution

from pulp_katello_gateway.app.acl import private_flag, writes
from pulp_katello_gateway.app.models import KatelloRepository

pytestmark = pytest.mark.django_db


def distribution(base_path, private=False):
    return ContainerDistribution.objects.create(
        name=base_path.replace("/", "-"), base_path=base_path, private=private
    )


def private_flags():
    return dict(ContainerDistribution.objects.values_list("base_path", "private"))


def test_push_sets_private_both_ways_on_katello_distributions_only():
    distribution("org/protected", private=False)
    distribution("org/public", private=True)
    distribution("admin/own-public", private=False)
    distribution("admin/own-private", private=True)
    writes.replace_repositories({"org/protected": True, "org/public": False, "org/no-dist": True})
    assert private_flags() == {
        "org/protected": True,
        "org/public": False,
        "admin/own-public": False,
        "admin/own-private": True,
    }


def test_flip_of_auth_required_follows_and_removal_leaves_the_flag():
    distribution("org/a")
    distribution("org/b")
    writes.replace_repositories({"org/a": True, "org/b": True})
    writes.replace_repositories({"org/a": False})
    assert private_flags() == {"org/a": False, "org/b": True}


def test_distribution_saved_later_takes_the_flag(django_capture_on_commit_callbacks):
    writes.replace_repositories({"org/protected": True, "org/public": False})
    with django_capture_on_commit_callbacks(execute=True):
        protected = distribution("org/protected", private=False)
        public = distribution("org/public", private=True)
        other = distribution("admin/own", private=True)
    assert protected.private is True
    assert public.private is False
    assert private_flags() == {"org/protected": True, "org/public": False, "admin/own": True}

    # An admin (or a task) turning a protected one public is overridden; others are left alone.
    protected.private = False
    other.private = False
    with django_capture_on_commit_callbacks(execute=True):
        protected.save()
        other.save()
    assert private_flags() == {"org/protected": True, "org/public": False, "admin/own": False}


def test_renaming_a_distribution_onto_a_katello_name(django_capture_on_commit_callbacks):
    writes.replace_repositories({"org/protected": True})
    moved = distribution("staging/app")
    moved.base_path = "org/protected"
    with django_capture_on_commit_callbacks(execute=True):
        moved.save()
    assert private_flags() == {"org/protected": True}


def test_recheck_after_commit_catches_a_push_that_committed_meanwhile(
    django_capture_on_commit_callbacks,
):
    """The save read auth_required before a concurrent push committed; the re-check fixes it."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        distribution("org/late")
    assert private_flags() == {"org/late": False}  # no Katello repository at save time
    KatelloRepository.objects.create(name="org/late", auth_required=True)  # "the push"
    for callback in callbacks:
        callback()
    assert private_flags() == {"org/late": True}


def test_no_change_means_no_write():
    distribution("org/a", private=True)
    writes.replace_repositories({"org/a": True})
    assert private_flag.sync_private() == 0
