"""Katello's authorization data: repositories, Foreman users, hosts and their pull grants.

Katello owns the repository list, the hosts and every grant, and replaces them wholesale through
the push API (``katello/``); ``katello/apply.py`` is the only code that writes them in bulk.
Repository names are matched against ``ContainerDistribution.base_path`` when a decision is made,
so there is deliberately no foreign key to distributions: Katello may name a repository before or
after its distribution exists.
"""

import math
import re
from datetime import timedelta
from hashlib import sha256

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, models, transaction
from django.db.models.functions import Upper
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone
from pulpcore.plugin.models import BaseModel

NAME_MAX_LENGTH = 255
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATES = re.compile("[\ud800-\udfff]")  # JSON can carry them; UTF-8 (PostgreSQL) cannot

# Django usernames of Foreman users. ":" and "#" are outside Django's username alphabet, so no
# local Pulp user can be created with such a name through the API or createsuperuser, and a name
# with ":" can never log in with Basic credentials either (the first ":" ends the user part).
RESERVED_USERNAME_PREFIX = "foreman:"
_HASHED_USERNAME_PREFIX = "foreman#"
_USERNAME_MAX_LENGTH = 150


def name_problem(value):
    """Why ``value`` cannot be a repository name, login or consumer uuid; None when it can."""
    if not isinstance(value, str):
        return "must be a string"
    if not value.strip():
        return "may not be blank"
    if len(value) > NAME_MAX_LENGTH:
        return f"may not be longer than {NAME_MAX_LENGTH} characters"
    if _CONTROL_CHARACTERS.search(value):
        return "may not contain control characters"
    if _SURROGATES.search(value):
        return "may not contain lone surrogates"
    return None


def local_user(login):
    """The local Pulp user named ``login`` (never the shadow of a Foreman user), or None."""
    return get_user_model().objects.filter(
        username=login, katello_foreman_user__isnull=True
    ).first()


def reserved_username(login):
    """The Django username of Foreman user ``login``; never the name of a local Pulp user.

    Logins too long for Django's 150 characters get a digest instead (with a different prefix,
    so a digest never equals a short login's name).
    """
    username = RESERVED_USERNAME_PREFIX + login
    if len(username) <= _USERNAME_MAX_LENGTH:
        return username
    return _HASHED_USERNAME_PREFIX + sha256(login.encode()).hexdigest()


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


class ForemanUserManager(models.Manager):
    def create_for_login(self, login):
        """Create the Foreman user ``login`` with its own Django user, which cannot log in.

        Raises IntegrityError when ``login`` exists already, or when its reserved username is
        taken by a Django user that is not this Foreman user: an existing user is never adopted.
        """
        with transaction.atomic():
            user = get_user_model()(username=reserved_username(login))
            user.set_unusable_password()
            user.save()
            return self.create(login=login, user=user)

    def for_login(self, login):
        """The Foreman user ``login`` names, or None. Foreman matches logins case-insensitively
        (its ``lower_login``), so ``Alice`` is the ``alice`` whose grants Katello pushes; an
        exact match wins, then the oldest spelling."""
        users = self.select_related("user")
        return (users.filter(login=login).first()
                or users.filter(login__iexact=login).order_by("pulp_created").first())


class ForemanUser(BaseModel):
    """A Foreman login known here, with the Django user that stands for it (the JWT subject).

    Created when the login is first used (or by an admin), never by a push: Katello only maps
    users it got from ``GET /users``. Deleting it deletes its Django user and its grants.
    """

    login = models.CharField(max_length=NAME_MAX_LENGTH, unique=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="katello_foreman_user"
    )
    repositories = models.ManyToManyField(
        KatelloRepository, through="UserRepositoryGrant", related_name="foreman_users"
    )

    objects = ForemanUserManager()

    class Meta:
        indexes = [models.Index(Upper("login"), name="katello_gw_user_login_upper")]


@receiver(post_delete, sender=ForemanUser, dispatch_uid="katello_gateway_foreman_user_deleted")
def _delete_django_user(sender, instance, **kwargs):
    """A Foreman user's Django user exists only for it; this covers every way of deleting one."""
    get_user_model().objects.filter(pk=instance.user_id).delete()


class ConsumerHost(BaseModel):
    """A content host, identified by its subscription-manager consumer uuid (its cert's CN).

    ``grants_refreshed_at``: when its grants were last Katello's (a push, a lookup or a refresh;
    until then its creation); ``refresh_requested_at``: when a refresh was last asked for
    (``host_refresh``).
    """

    uuid = models.CharField(max_length=NAME_MAX_LENGTH, unique=True)
    repositories = models.ManyToManyField(
        KatelloRepository, through="HostRepositoryGrant", related_name="hosts"
    )
    grants_refreshed_at = models.DateTimeField(null=True)
    refresh_requested_at = models.DateTimeField(null=True)


class UserRepositoryGrant(models.Model):
    """Foreman user ``foreman_user`` may pull ``repository``.

    A plain table with a bigint key: pushes write up to millions of these with set-based SQL.
    The (foreman_user, repository) unique index serves lookups by user; the repository index
    serves lookups and cascades by repository.

    PostgreSQL does not enforce the foreign keys (``db_constraint=False``): checking a million
    new rows at commit would double the time of a full push. They hold all the same: the only
    bulk writer (``katello/apply.py``) inserts grants joined to existing rows under the push
    lock and deletes grants before what they name, and ORM deletes cascade as usual.
    """

    id = models.BigAutoField(primary_key=True)
    foreman_user = models.ForeignKey(
        ForemanUser,
        on_delete=models.CASCADE,
        related_name="repository_grants",
        db_index=False,
        db_constraint=False,
    )
    repository = models.ForeignKey(
        KatelloRepository,
        on_delete=models.CASCADE,
        related_name="user_grants",
        db_constraint=False,
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("foreman_user", "repository"), name="katello_gateway_user_grant_unique"
            )
        ]

    def __str__(self):
        return f"Foreman user {self.foreman_user_id} may pull {self.repository_id}"


class HostRepositoryGrant(models.Model):
    """Host ``host`` may pull ``repository`` (a table shaped like UserRepositoryGrant)."""

    id = models.BigAutoField(primary_key=True)
    host = models.ForeignKey(
        ConsumerHost,
        on_delete=models.CASCADE,
        related_name="repository_grants",
        db_index=False,
        db_constraint=False,
    )
    repository = models.ForeignKey(
        KatelloRepository,
        on_delete=models.CASCADE,
        related_name="host_grants",
        db_constraint=False,
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("host", "repository"), name="katello_gateway_host_grant_unique"
            )
        ]

    def __str__(self):
        return f"Host {self.host_id} may pull {self.repository_id}"


class CachedLogin(models.Model):
    """A Foreman login verified at ``verified_at``: a salted, keyed hash, never the secret."""

    foreman_user = models.ForeignKey(
        ForemanUser, on_delete=models.CASCADE, related_name="cached_logins"
    )
    salt = models.CharField(max_length=32)
    digest = models.CharField(max_length=64)
    verified_at = models.DateTimeField()

    def __str__(self):
        return f"login of Foreman user {self.foreman_user_id} verified at {self.verified_at}"


class LoginThrottle(models.Model):
    """Failed Foreman logins per key (a login, or a login from one address) in a fixed window.

    Keys are stored hashed so the table holds no logins or addresses in clear.
    """

    ADDRESS, LOGIN = "address", "login"

    key = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=8, choices=[(ADDRESS, ADDRESS), (LOGIN, LOGIN)])
    window_start = models.DateTimeField()
    failures = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"{self.failures} failed {self.kind} logins since {self.window_start}"

    @staticmethod
    def _hashed(keys):
        return {sha256(key.encode()).hexdigest(): kind for kind, key in keys}

    @staticmethod
    def _limits():
        return {
            LoginThrottle.ADDRESS: settings.KATELLO_GATEWAY_THROTTLE_ADDRESS_FAILURES,
            LoginThrottle.LOGIN: settings.KATELLO_GATEWAY_THROTTLE_LOGIN_FAILURES,
        }

    @classmethod
    def retry_after(cls, keys):
        """Seconds until ``keys`` (``(kind, key)`` pairs) may try again; 0 when not throttled."""
        window = timedelta(seconds=settings.KATELLO_GATEWAY_THROTTLE_WINDOW)
        now = timezone.now()
        limits = cls._limits()
        waits = [
            (row.window_start + window - now).total_seconds()
            for row in cls.objects.filter(
                key__in=cls._hashed(keys), window_start__gt=now - window
            )
            if row.failures >= limits[row.kind]
        ]
        return max(1, math.ceil(max(waits))) if waits else 0

    @classmethod
    def throttled_counts(cls):
        """{kind: number of keys answered 429 right now}, for operators."""
        window = timedelta(seconds=settings.KATELLO_GATEWAY_THROTTLE_WINDOW)
        rows = cls.objects.filter(window_start__gt=timezone.now() - window)
        return {
            kind: rows.filter(kind=kind, failures__gte=limit).count()
            for kind, limit in cls._limits().items()
        }

    @classmethod
    def record_failure(cls, keys):
        """Count one failure for each key, starting a new window when the old one is over."""
        window = timedelta(seconds=settings.KATELLO_GATEWAY_THROTTLE_WINDOW)
        table = cls._meta.db_table
        with connection.cursor() as cursor:
            for key, kind in cls._hashed(keys).items():
                cursor.execute(
                    f"""
                    INSERT INTO {table} AS t (key, kind, window_start, failures)
                    VALUES (%s, %s, now(), 1)
                    ON CONFLICT (key) DO UPDATE SET
                        failures = CASE WHEN t.window_start > now() - %s
                                        THEN t.failures + 1 ELSE 1 END,
                        window_start = CASE WHEN t.window_start > now() - %s
                                            THEN t.window_start ELSE now() END
                    """,
                    [key, kind, window, window],
                )

    @classmethod
    def clear(cls, keys):
        cls.objects.filter(key__in=cls._hashed(keys)).delete()


class ForemanBackoff(models.Model):
    """Until when no API process asks Foreman, after it failed to answer in time (one row)."""

    SINGLETON = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON)
    until = models.DateTimeField()

    def __str__(self):
        return f"Foreman not asked until {self.until}"


class PushState(models.Model):
    """The last successful push of one Katello endpoint (``acl_state``)."""

    endpoint = models.CharField(max_length=64, unique=True)
    pushed_at = models.DateTimeField()
    body_bytes = models.BigIntegerField()
    entries = models.BigIntegerField()

    def __str__(self):
        return f"{self.endpoint} pushed at {self.pushed_at}"


class PullRecord(BaseModel):
    """Who pulled a manifest (``pulls``): one row per identity, repository and digest.

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
