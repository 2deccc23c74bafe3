"""Operators' questions over REST, next to the Pulp-native API: why may (or may not) an identity
pull a repository (``explain/``), and how fresh is the ACL (``status/``).

Both read what the ACL endpoints read, so they carry the same permission: Pulp admins and the
``katello_gateway.katello`` role.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from pulp_katello_gateway.app import access, ownership
from pulp_katello_gateway.app.acl import state
from pulp_katello_gateway.app.identities import ANONYMOUS, Identity, login_candidates
from pulp_katello_gateway.app.models import ConsumerHost
from pulp_katello_gateway.app.policies import every_action
from pulp_katello_gateway.app.serializers import valid_name

_READ_ACL = every_action("katello_gateway.view_katellorepository")
# Both answer a JSON object; said in the schema, since clients such as pulp-glue read a JSON
# answer only where the schema declares one.
_JSON_OBJECT = {200: OpenApiTypes.OBJECT}


class ExplainQuerySerializer(serializers.Serializer):
    repository = serializers.CharField(validators=[valid_name])
    login = serializers.CharField(required=False, validators=[valid_name])
    host = serializers.CharField(required=False, validators=[valid_name])
    action = serializers.ChoiceField([access.PULL, access.PUSH], default=access.PULL)

    def validate(self, data):
        if "login" in data and "host" in data:
            raise serializers.ValidationError("Give login or host (or neither, for anonymous).")
        return data


class ExplainView(APIView):
    """What an identity may do on a repository, and the rule that decided: the token
    endpoint's own decision (``access.explain``), for the identity the token endpoint would
    take. A login that is both a local Pulp user and a Foreman user is the local user with its
    Pulp password and the Foreman user with any other secret Foreman accepts: the answer is the
    first, and ``other_candidates`` holds the second (``identities.login_candidates``)."""

    DEFAULT_ACCESS_POLICY = _READ_ACL

    @extend_schema(
        summary="Explain a registry decision",
        operation_id="katello_gateway_explain",
        parameters=[ExplainQuerySerializer],
        responses=_JSON_OBJECT,
    )
    def get(self, request):
        query = ExplainQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        (identity, secret), *others = self._candidates(data)

        def decision(identity, secret):
            actions, rule = access.explain(identity, data["repository"], [data["action"]])
            return {"identity": identity.kind, "with": secret, "actions": sorted(actions),
                    "rule": rule}

        return Response({
            "repository": data["repository"],
            "login": data.get("login"),
            "host": data.get("host"),
            "action": data["action"],
            **decision(identity, secret),
            "other_candidates": [decision(*other) for other in others],
        })

    def _candidates(self, data):
        """``(identity, secret)`` pairs, in the token endpoint's order."""
        if "host" in data:
            host = ConsumerHost.objects.filter(uuid=data["host"]).first()
            if host is None:
                raise NotFound(f"No host {data['host']!r}: Katello has not pushed it.")
            return [(Identity.of_host(host.pk, host.uuid), "its consumer certificate")]
        if "login" in data:
            candidates = login_candidates(data["login"]).in_order()
            if not candidates:
                raise NotFound(
                    f"No login {data['login']!r}: neither a Foreman user that has logged in here "
                    "nor a local Pulp user."
                )
            return candidates
        return [(ANONYMOUS, "no credentials")]


class StatusView(APIView):
    """Per push endpoint: the last successful push (time, bytes, entries) and a fingerprint and
    count of what it holds now; ``stale`` when no push came within
    ``KATELLO_GATEWAY_PUSH_MAX_AGE``; and names local Pulp users hold that are Katello's or
    Foreman's."""

    DEFAULT_ACCESS_POLICY = _READ_ACL

    @extend_schema(summary="ACL state", operation_id="katello_gateway_status",
                   responses=_JSON_OBJECT)
    def get(self, request):
        return Response({
            **state.state(),
            # What check --deploy warns about (W009, W007): Katello names whose distribution a
            # local user or group holds, and local users holding Foreman users' names.
            "katello_names_held_locally": ownership.taken_names(),
            "reserved_usernames_held_locally": sorted(
                ownership.reserved_name_holders().values_list("username", flat=True)
            ),
        })
