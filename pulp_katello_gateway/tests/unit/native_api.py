"""What the plugin's Pulp-native API promises (docs/push-api.md, "The Pulp-native API"): its
paths with their methods, each list's filters and what ``ordering`` may name. The tests hold the
served OpenAPI schema and the API's answers to this, written from the docs, not from the code."""

from devtools.clients import NATIVE_API_PATH

# Every path of the plugin's component, as ``?pk_path=1`` shows them, with its methods.
PATHS = {
    f"{NATIVE_API_PATH}{path}": methods
    for path, methods in {
        "repositories/": {"get"},
        "repositories/{pulp_id}/": {"get"},
        "users/": {"get", "post"},
        "users/{pulp_id}/": {"get", "delete"},
        "users/{pulp_id}/drop_cached_logins/": {"post"},
        "hosts/": {"get"},
        "hosts/{pulp_id}/": {"get", "delete"},
        "pulls/": {"get"},
        "pulls/{pulp_id}/": {"get"},
        "explain/": {"get"},
        "status/": {"get"},
    }.items()
}
# Each list's filters: ``name`` and ``login`` take pulpcore's name lookups.
LOOKUPS = ["", "__iexact", "__in", "__contains", "__icontains", "__startswith",
           "__istartswith", "__regex", "__iregex"]
FILTERS = {
    "repositories": [f"name{lookup}" for lookup in LOOKUPS]
    + ["auth_required", "granted_to_user", "granted_to_host"],
    "users": [f"login{lookup}" for lookup in LOOKUPS] + ["granted_repository"],
    "hosts": ["uuid", "uuid__in", "granted_repository"],
    "pulls": ["digest", "repository", "login", "kind", "host", "since", "until"],
}
# What ``ordering`` may name, per endpoint (the model's fields the API offers).
ORDERING = {
    "repositories": {"pk", "pulp_id", "pulp_created", "pulp_last_updated", "name",
                     "auth_required"},
    "users": {"pk", "pulp_id", "pulp_created", "pulp_last_updated", "login", "verified_as"},
    "hosts": {"pk", "pulp_id", "pulp_created", "pulp_last_updated", "uuid",
              "grants_refreshed_at", "refresh_requested_at"},
    "pulls": {"pk", "pulp_id", "pulp_created", "pulp_last_updated", "kind", "login", "host_uuid",
              "repository", "reference", "digest", "client_address", "first_pulled",
              "last_pulled", "count"},
}
