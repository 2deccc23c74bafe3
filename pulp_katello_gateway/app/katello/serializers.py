"""Validation of push payloads (Rack-decoded forms and JSON alike) into plain mappings.

A list can hold a million entries, so each is checked by a tight loop inside a DRF field rather
than by a nested serializer per entry (which would take minutes). The first problem found is
reported with its position in Rack key syntax, e.g.
``{"users": ["users[0][bob][7][repository] may not be blank."]}``.

Strict where Katello never deviates (shapes, types, names, duplicates), lenient where the Ruby
gateway was and Katello relies on it: nil or blank host uuids are skipped, entries with
``auth_required`` false carry no grant, ``auth_required`` is "true"/"false" in any case or a
JSON boolean.
"""

from collections.abc import Mapping

from rest_framework import serializers
from rest_framework.fields import empty

from pulp_katello_gateway.app.names import name_problem

_FLAGS = {"true": True, "false": False}


def _invalid(where, problem):
    return serializers.ValidationError(f"{where} {problem}.")


def _check_name(value, where, valid):
    """Raise unless ``value`` is a valid name; ``valid`` remembers names already accepted."""
    if type(value) is str and value in valid:
        return
    problem = name_problem(value)
    if problem:
        raise _invalid(where, problem)
    valid.add(value)


def _list(value, where):
    if value is None:
        return []
    if type(value) is not list:
        raise _invalid(where, "must be a list")
    return value


def _hash(value, where):
    if type(value) is not dict:
        raise _invalid(where, "must be a hash")
    return value


def _repositories(value, where, valid):
    """``[{repository, auth_required}, …]`` (nil = empty) as ``{name: auth_required}``.

    The loop runs once per pushed pair, so positions are spelled out only on failure.
    """
    result = {}
    for index, entry in enumerate(_list(value, where)):
        try:
            name, flag = entry["repository"], entry["auth_required"]
        except (KeyError, TypeError):
            _hash(entry, f"{where}[{index}]")
            missing = "repository" if "repository" not in entry else "auth_required"
            raise _invalid(f"{where}[{index}][{missing}]", "is required") from None
        if not (type(name) is str and name in valid):
            _check_name(name, f"{where}[{index}][repository]", valid)
        if name in result:
            raise _invalid(f"{where}[{index}][repository]", f"repeats {name!r}")
        if type(flag) is not bool:
            flag = _FLAGS.get(flag.lower()) if type(flag) is str else None
            if flag is None:
                raise _invalid(f"{where}[{index}][auth_required]", "must be true or false")
        result[name] = flag
    return result


def repository_list(value, where):
    """The ``repositories`` of ``PUT repository_list``: ``{name: auth_required}``."""
    return _repositories(value, where, set())


def host_list(value, where):
    """The ``hosts`` of ``PUT update_hosts``: uuids, skipping entries without a usable one."""
    uuids, valid = {}, set()
    for index, entry in enumerate(_list(value, where)):
        uuid = _hash(entry, f"{where}[{index}]").get("uuid")
        if uuid is None or (type(uuid) is str and not uuid.strip()):
            continue
        _check_name(uuid, f"{where}[{index}][uuid]", valid)
        if uuid in uuids:
            raise _invalid(f"{where}[{index}][uuid]", f"repeats {uuid!r}")
        uuids[uuid] = None
    return list(uuids)


def _grants(value, where, skip_blank):
    """``[{principal: [{repository, auth_required}, …]}, …]`` as ``{principal: [protected]}``.

    Rack merges every principal into the last hash of the list while JSON usually has one hash
    per principal; both are accepted, a principal may appear only once.
    """
    grants, valid_principals, valid_names = {}, set(), set()
    for index, element in enumerate(_list(value, where)):
        for principal, entries in _hash(element, f"{where}[{index}]").items():
            if skip_blank and not principal.strip():
                continue
            _check_name(principal, f"{where}[{index}] key {principal!r}", valid_principals)
            if principal in grants:
                raise _invalid(f"{where}[{index}][{principal}]", "repeats an earlier entry")
            repositories = _repositories(entries, f"{where}[{index}][{principal}]", valid_names)
            grants[principal] = [name for name, protected in repositories.items() if protected]
    return grants


def user_grants(value, where):
    """The ``users`` of ``PUT user_repository_mapping``: ``{login: [protected names]}``."""
    return _grants(value, where, skip_blank=False)


def host_grants(value, where):
    """The ``hosts`` of the host mapping endpoints: ``{uuid: [protected names]}``."""
    return _grants(value, where, skip_blank=True)


class KatelloListField(serializers.Field):
    """A top-level list of a push; RestClient sends an empty list as a bare key, i.e. nil."""

    def __init__(self, convert, **kwargs):
        self.convert = convert
        super().__init__(**kwargs)

    def validate_empty_values(self, data):
        body = self.parent.initial_data
        if data is empty and isinstance(body, Mapping) and body:
            # Usually a key whose brackets went wrong (``repositories[=x``): name it.
            others = ", ".join(repr(key) for key in list(body)[:5])
            raise serializers.ValidationError(
                f"{self.field_name} is missing; the body has {others} instead (check the "
                "brackets of that key)."
            )
        return super().validate_empty_values([] if data is None else data)

    def to_internal_value(self, data):
        return self.convert(data, self.field_name)


class RepositoryListSerializer(serializers.Serializer):
    repositories = KatelloListField(
        repository_list,
        help_text="[{repository, auth_required}, …]: every repository Katello serves",
    )


class UserGrantsSerializer(serializers.Serializer):
    users = KatelloListField(
        user_grants, help_text="[{<login>: [{repository, auth_required}, …]}, …]"
    )


class HostListSerializer(serializers.Serializer):
    hosts = KatelloListField(host_list, help_text="[{uuid}, …]: every host using this capsule")


class HostGrantsSerializer(serializers.Serializer):
    hosts = KatelloListField(
        host_grants, help_text="[{<consumer uuid>: [{repository, auth_required}, …]}, …]"
    )
