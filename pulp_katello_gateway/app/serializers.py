"""Serializers of the Pulp-native API (``viewsets.py``): Katello's data as Pulp resources."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from pulpcore.plugin.serializers import IdentityField, ModelSerializer, RelatedField
from rest_framework import serializers

from .models import ConsumerHost, ForemanUser, KatelloRepository, PullRecord, reserved_name_problem
from .names import NAME_MAX_LENGTH, fold_login, login_problem, name_problem


def valid_name(value):
    """Validator of every name a client gives the native API and explain/ (a repository, a
    login, a host's uuid): ``names.name_problem``, as Katello's push API checks them too."""
    problem = name_problem(value)
    if problem:
        raise DjangoValidationError(f"The value {problem}.")


class KatelloRepositorySerializer(ModelSerializer):
    pulp_href = IdentityField(view_name="katello_gateway/repositories-detail")
    name = serializers.CharField(
        read_only=True, help_text="Repository name; matches a container distribution's base_path."
    )
    auth_required = serializers.BooleanField(
        read_only=True,
        help_text="False when anyone may pull it (an unauthenticated-pull environment).",
    )

    class Meta:
        model = KatelloRepository
        fields = ModelSerializer.Meta.fields + ("name", "auth_required")


class ForemanUserSerializer(ModelSerializer):
    pulp_href = IdentityField(view_name="katello_gateway/users-detail")
    login = serializers.CharField(
        help_text="Foreman login; stored as Foreman folds it (its lower_login).",
        max_length=NAME_MAX_LENGTH,
        validators=[valid_name],
    )
    user = RelatedField(
        view_name="users-detail",
        read_only=True,
        help_text="The Pulp user standing for this login (the subject of its registry tokens).",
    )
    username = serializers.CharField(
        source="user.username", read_only=True, help_text="Username of that Pulp user."
    )
    verified_as = serializers.CharField(
        read_only=True,
        help_text="The spelling of the login Foreman last accepted (empty before a first login); "
        "Katello names the user so in its pushes.",
    )

    def validate_login(self, value):
        """One Foreman user per folded login; a local user holding its reserved name is a 400."""
        problem = login_problem(value)
        if problem:
            raise serializers.ValidationError(f"The value {problem}.")
        login = fold_login(value)
        if ForemanUser.objects.filter(login=login).exists():
            raise serializers.ValidationError(f"Foreman user {login!r} exists already.")
        problem = reserved_name_problem(login)
        if problem:
            raise serializers.ValidationError(problem)
        return login

    def create(self, validated_data):
        try:
            with transaction.atomic():
                return ForemanUser.objects.create_for_login(validated_data["login"])
        except IntegrityError:  # created by a login or another admin at the same moment
            raise serializers.ValidationError(
                {"login": [f"Foreman user {validated_data['login']!r} exists already."]}
            ) from None

    class Meta:
        model = ForemanUser
        fields = ModelSerializer.Meta.fields + ("login", "user", "username", "verified_as")


class ConsumerHostSerializer(ModelSerializer):
    pulp_href = IdentityField(view_name="katello_gateway/hosts-detail")
    uuid = serializers.CharField(
        read_only=True, help_text="Subscription-manager consumer uuid (its certificate's CN)."
    )

    class Meta:
        model = ConsumerHost
        fields = ModelSerializer.Meta.fields + ("uuid",)


class PullRecordSerializer(ModelSerializer):
    pulp_href = IdentityField(view_name="katello_gateway/pulls-detail")

    class Meta:
        model = PullRecord
        fields = ModelSerializer.Meta.fields + (
            "kind", "login", "host_uuid", "repository", "reference", "digest", "client_address",
            "first_pulled", "last_pulled", "count",
        )
        read_only_fields = fields
        extra_kwargs = {
            "kind": {"help_text": "foreman, host, pulp (a local Pulp user) or anonymous."},
            "login": {"help_text": "The Foreman login or Pulp username (empty otherwise)."},
            "host_uuid": {"help_text": "The host's consumer uuid (empty otherwise)."},
            "reference": {"help_text": "The tag or digest of the last pull."},
            "client_address": {"help_text": "Where the last pull came from."},
            "count": {"help_text": "Pulls of this digest by this identity."},
        }


class DroppedLoginsSerializer(serializers.Serializer):
    """The answer to dropping a Foreman user's cached logins (``drop_cached_logins``)."""

    login = serializers.CharField(help_text="The Foreman login whose cached logins were dropped.")
    dropped = serializers.IntegerField(help_text="How many cached logins were dropped.")
