"""Katello's authorization data: repositories, Foreman users, hosts and their pull grants.

Katello owns the repository list, the hosts and every grant, and replaces them wholesale through
the push API (``katello/``); ``acl/writes.py`` is the only code that writes them in bulk.
Repository names are matched against ``ContainerDistribution.base_path`` when a decision is made,
so there is deliberately no foreign key to distributions: Katello may name a repository before or
after its distribution exists.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from pulpcore.plugin.models import BaseModel
from rest_framework.exceptions import ValidationError

from pulp_katello_gateway.app.names import (
    NAME_MAX_LENGTH,
    fold_login,
    reserved_username,
)


def local_user(login):
    """The local Pulp user named ``login`` (never the shadow of a Foreman user), or None."""
    return get_user_model().objects.filter(
        username=login, katello_foreman_user__isnull=True
    ).first()


class KatelloRepository(BaseModel):
    """A container repository Katello serves here; ``name`` is a distribution's ``base_path``.

    ``auth_required`` false means anyone may pull it, so grants to it are never needed.
    """

    name = models.CharField(max_length=NAME_MAX_LENGTH, unique=True)
    auth_required = models.BooleanField(default=True)

    class Meta:
        permissions = [
            ("push_katello", "Can replace Katello's repositories, users, hosts and grants"),
        ]


class ReservedNameTaken(ValidationError):
    """A local Pulp user holds the Django username reserved for a Foreman login (400)."""


def reserved_name_problem(login):
    """Why Foreman login ``login`` cannot be a Foreman user here, or None: a local Pulp user
    (made before the plugin refused such names) holds its reserved username."""
    username = reserved_username(login)
    if get_user_model().objects.filter(
        username=username, katello_foreman_user__isnull=True
    ).exists():
        return (
            f"The Pulp username {username!r} is reserved for Foreman user {fold_login(login)!r} "
            "but held by a local Pulp user; an admin must rename or delete that user "
            "(pulpcore-manager check --deploy: katello_gateway.W007)."
        )
    return None


class ForemanUserManager(models.Manager):
    def create_for_login(self, login):
        """Create the Foreman user ``login`` (stored folded) with its own Django user, which
        cannot log in.

        Raises ``ReservedNameTaken`` when a local Pulp user holds its reserved username (an
        existing user is never adopted), IntegrityError when the login exists already.
        """
        login = fold_login(login)
        problem = reserved_name_problem(login)
        if problem:
            raise ReservedNameTaken({"login": [problem]})
        with transaction.atomic():
            user = get_user_model()(username=reserved_username(login))
            user.set_unusable_password()
            user.katello_shadow = True  # let through by ownership.refuse_reserved_usernames
            user.save()
            return self.create(login=login, user=user)

    def for_login(self, login):
        """The Foreman user ``login`` names, or None: the one whose folded login is equal."""
        return self.select_related("user").filter(login=fold_login(login)).first()


class ForemanUser(BaseModel):
    """A Foreman login known here, with the Django user that stands for it (the JWT subject).

    Created when the login is first used (or by an admin), never by a push: Katello only maps
    users it got from ``GET /users``. Deleting it deletes its Django user and its grants.
    """

    NATURAL_KEY = "login"  # how Katello names it in pushes (folded before they are matched)

    # Folded as Foreman folds it (``names.fold_login``): one row per Foreman user.
    login = models.CharField(max_length=NAME_MAX_LENGTH, unique=True)
    # The spelling of the last login Foreman accepted (``Alice``): Katello looks the users listed
    # up by Foreman's exact ``login`` column, which may hold capitals.
    verified_as = models.CharField(max_length=NAME_MAX_LENGTH, blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="katello_foreman_user"
    )
    repositories = models.ManyToManyField(
        KatelloRepository, through="UserRepositoryGrant", related_name="foreman_users"
    )

    objects = ForemanUserManager()


@receiver(post_delete, sender=ForemanUser, dispatch_uid="katello_gateway_foreman_user_deleted")
def _delete_django_user(sender, instance, **kwargs):
    """A Foreman user's Django user exists only for it; this covers every way of deleting one."""
    get_user_model().objects.filter(pk=instance.user_id).delete()


class Revocation(models.Model):
    """A Foreman user or host an admin deleted: without grants until Katello pushes it again.

    Deleting alone would not revoke: a host Katello has not pushed is looked up in Katello at its
    next request, and a user's grants are reloaded from Katello at its next login. The push that
    names the principal again (the next capsule sync) ends the revocation.
    """

    USER, HOST = "user", "host"

    kind = models.CharField(max_length=8, choices=[(USER, USER), (HOST, HOST)])
    name = models.CharField(max_length=NAME_MAX_LENGTH)  # folded login, or consumer uuid
    revoked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("kind", "name"), name="katello_gateway_revocation_unique"
            )
        ]

    def __str__(self):
        return f"{self.kind} {self.name} revoked at {self.revoked_at}"


class ConsumerHost(BaseModel):
    """A content host, identified by its subscription-manager consumer uuid (its cert's CN).

    ``grants_refreshed_at``: when its grants were last Katello's (a push, a lookup or a refresh;
    until then its creation); ``refresh_requested_at``: when a refresh was last asked for
    (``grant_refresh``).
    """

    NATURAL_KEY = "uuid"  # how Katello names it in pushes

    uuid = models.CharField(max_length=NAME_MAX_LENGTH, unique=True)
    repositories = models.ManyToManyField(
        KatelloRepository, through="HostRepositoryGrant", related_name="hosts"
    )
    grants_refreshed_at = models.DateTimeField(null=True)
    refresh_requested_at = models.DateTimeField(null=True)


class RepositoryGrant(models.Model):
    """A principal (``PRINCIPAL``: a Foreman user or a host) may pull ``repository``.

    Plain tables with a bigint key: pushes write up to millions of these with set-based SQL. The
    (principal, repository) unique index serves every lookup, all by principal. Nothing looks
    grants up by repository alone but a push removing repositories (a hash join over the table,
    once), so there is no index on it: it would take a third of a full push's insert time.

    PostgreSQL does not enforce the foreign keys (``db_constraint=False``): checking a million
    new rows at commit would double the time of a full push. They hold all the same: the only
    bulk writer (``acl/writes.py``) inserts grants joined to existing rows under the push lock
    and deletes grants before what they name, and ORM deletes cascade as usual.

    The two subclasses are parallel by design: their fields and constraints differ only in
    names, which the migrations fix.
    """

    PRINCIPAL = None  # the name of the foreign key to the principal

    id = models.BigAutoField(primary_key=True)

    class Meta:
        abstract = True

    def __str__(self):
        principal = getattr(self, f"{self.PRINCIPAL}_id")
        return f"{self.PRINCIPAL} {principal} may pull {self.repository_id}"


def _principal(model):
    """The foreign key of a grant to its principal (indexed by the unique constraint)."""
    return models.ForeignKey(
        model,
        on_delete=models.CASCADE,
        related_name="repository_grants",
        db_index=False,
        db_constraint=False,
    )


def _repository(related_name):
    """The foreign key of a grant to its repository (not indexed: see ``RepositoryGrant``)."""
    return models.ForeignKey(
        KatelloRepository,
        on_delete=models.CASCADE,
        related_name=related_name,
        db_index=False,
        db_constraint=False,
    )


class UserRepositoryGrant(RepositoryGrant):
    """Foreman user ``foreman_user`` may pull ``repository``."""

    PRINCIPAL = "foreman_user"
    foreman_user = _principal(ForemanUser)
    repository = _repository("user_grants")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("foreman_user", "repository"), name="katello_gateway_user_grant_unique"
            )
        ]


class HostRepositoryGrant(RepositoryGrant):
    """Host ``host`` may pull ``repository``."""

    PRINCIPAL = "host"
    host = _principal(ConsumerHost)
    repository = _repository("host_grants")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("host", "repository"), name="katello_gateway_host_grant_unique"
            )
        ]


class CachedLogin(models.Model):
    """A Foreman login verified at ``verified_at``: a salted, keyed hash, never the secret.

    ``grants_loaded``: its user's grants were loaded from Katello (its catalog, or a push; marked
    by that write, ``acl.writes``) since Foreman verified it. Not yet while the request that
    verified it is still loading them (two first logins at the same moment), or when it could not
    (a capsule sync was writing, Katello did not answer): the token endpoint then loads them at
    this login's next token request (``grant_refresh``).
    """

    foreman_user = models.ForeignKey(
        ForemanUser, on_delete=models.CASCADE, related_name="cached_logins"
    )
    salt = models.CharField(max_length=32)
    digest = models.CharField(max_length=64)
    verified_at = models.DateTimeField()
    grants_loaded = models.BooleanField(default=False)

    def __str__(self):
        return f"login of Foreman user {self.foreman_user_id} verified at {self.verified_at}"


class LoginThrottle(models.Model):
    """Failed Foreman logins per key (``logins/throttle.py``): a login from one address
    (``PAIR``), a login from anywhere (``LOGIN``), one address whatever the login
    (``ADDRESS``), and every failure Foreman saw from this capsule (``FOREMAN``). A count lasts
    until a whole window passes without a failure, as Foreman's own counters do. Keys are stored
    hashed: the table holds no logins or addresses."""

    PAIR, LOGIN, ADDRESS, FOREMAN = "pair", "login", "address", "foreman"
    KINDS = (PAIR, LOGIN, ADDRESS, FOREMAN)

    key = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=8, choices=[(kind, kind) for kind in KINDS])
    last_failure = models.DateTimeField()
    failures = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=("last_failure",), name="katello_gw_throttle_last")]

    def __str__(self):
        return f"{self.failures} failed logins ({self.kind}), the last at {self.last_failure}"


class ForemanBackoff(models.Model):
    """Until when no API process asks Foreman, after it failed to answer in time (one row)."""

    SINGLETON = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON)
    until = models.DateTimeField()

    def __str__(self):
        return f"Foreman not asked until {self.until}"


class PushState(models.Model):
    """The last successful push of one Katello endpoint (``acl.state``)."""

    endpoint = models.CharField(max_length=64, unique=True)
    pushed_at = models.DateTimeField()
    body_bytes = models.BigIntegerField()
    entries = models.BigIntegerField()

    def __str__(self):
        return f"{self.endpoint} pushed at {self.pushed_at}"


class PullRecord(BaseModel):
    """Who pulled a manifest (``pull_record``): one row per identity, repository and digest.

    Identities are kept by name (``kind`` foreman/host/pulp/anonymous, ``login``, ``host_uuid``),
    not by reference, so the record outlives users and hosts Katello removes.
    """

    KINDS = ("foreman", "host", "pulp", "anonymous")

    kind = models.CharField(max_length=16, choices=[(kind, kind) for kind in KINDS])
    login = models.CharField(max_length=NAME_MAX_LENGTH, blank=True)
    host_uuid = models.CharField(max_length=NAME_MAX_LENGTH, blank=True)
    repository = models.CharField(max_length=NAME_MAX_LENGTH)
    reference = models.CharField(max_length=NAME_MAX_LENGTH)
    digest = models.CharField(max_length=128)
    client_address = models.CharField(max_length=64)
    first_pulled = models.DateTimeField()
    last_pulled = models.DateTimeField()
    count = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("kind", "login", "host_uuid", "repository", "digest"),
                name="katello_gateway_pull_record_unique",
            )
        ]
        indexes = [
            models.Index(fields=("digest",), name="katello_gateway_pull_digest"),
            models.Index(fields=("last_pulled",), name="katello_gateway_pull_last"),
        ]
