"""Foreman users and their Django users; name rules shared by the push API and the REST API."""

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.db import IntegrityError

from pulp_katello_gateway.app.models import (
    ForemanUser,
    KatelloRepository,
    ReservedNameTaken,
    UserRepositoryGrant,
)
from pulp_katello_gateway.app.names import name_problem, reserved_username

User = get_user_model()


@pytest.mark.django_db
def test_foreman_user_gets_its_own_django_user_that_cannot_log_in():
    User.objects.create_user("admin", password="local-admin-password")
    foreman_admin = ForemanUser.objects.create_for_login("admin")
    assert foreman_admin.user.username == "foreman:admin"
    assert not foreman_admin.user.has_usable_password()
    assert User.objects.get(username="admin").check_password("local-admin-password")
    assert authenticate(username="foreman:admin", password="") is None


@pytest.mark.django_db
def test_existing_django_user_is_never_adopted():
    # Made before the plugin refused such names: bulk_create saves without pre_save signals.
    (squatter,) = User.objects.bulk_create([User(username="foreman:eve")])
    with pytest.raises(ReservedNameTaken):
        ForemanUser.objects.create_for_login("eve")
    assert not ForemanUser.objects.filter(login="eve").exists()
    assert not hasattr(User.objects.get(pk=squatter.pk), "katello_foreman_user")


@pytest.mark.django_db
def test_same_login_twice_is_refused():
    ForemanUser.objects.create_for_login("bob")
    with pytest.raises(IntegrityError):
        ForemanUser.objects.create_for_login("bob")
    assert User.objects.filter(username__startswith="foreman:").count() == 1


def test_long_logins_get_a_digest_username_that_fits():
    long_login = "x" * 200
    assert reserved_username(long_login).startswith("foreman#")
    assert len(reserved_username(long_login)) <= 150
    assert reserved_username(long_login) != reserved_username("y" * 200)
    assert reserved_username("x" * 142) == "foreman:" + "x" * 142


@pytest.mark.django_db
@pytest.mark.parametrize("delete", ["foreman user", "django user", "queryset"])
def test_deleting_either_side_removes_both_and_the_grants(delete):
    bob = ForemanUser.objects.create_for_login("bob")
    repository = KatelloRepository.objects.create(name="r", auth_required=True)
    UserRepositoryGrant.objects.create(foreman_user=bob, repository=repository)
    {
        "foreman user": bob.delete,
        "django user": bob.user.delete,
        "queryset": ForemanUser.objects.filter(login="bob").delete,
    }[delete]()
    assert not ForemanUser.objects.exists()
    assert not User.objects.filter(username="foreman:bob").exists()
    assert not UserRepositoryGrant.objects.exists()
    assert KatelloRepository.objects.filter(name="r").exists()


@pytest.mark.django_db
def test_removing_a_repository_through_the_orm_removes_its_grants():
    bob = ForemanUser.objects.create_for_login("bob")
    repository = KatelloRepository.objects.create(name="r", auth_required=True)
    UserRepositoryGrant.objects.create(foreman_user=bob, repository=repository)
    repository.delete()
    assert not UserRepositoryGrant.objects.exists()


@pytest.mark.parametrize(
    "value, problem",
    [
        ("org/prod/busybox", None),
        ("DOMAIN\\user", None),
        ("a" * 255, None),
        ("a" * 256, "may not be longer than 255 characters"),
        ("", "may not be blank"),
        (" \t", "may not be blank"),
        ("a\nb", "may not contain control characters"),
        ("a\x7f", "may not contain control characters"),
        (None, "must be a string"),
        (5, "must be a string"),
    ],
)
def test_name_rules(value, problem):
    assert name_problem(value) == problem
