"""What the stack's database holds, for checking that a refusal changed nothing."""

# What a refusal must leave untouched (failed-login counters and the Foreman backoff may move).
TABLES = {
    "katello_gateway_katellorepository": "pulp_id, name, auth_required",
    "katello_gateway_foremanuser": "pulp_id, login, user_id",
    "katello_gateway_userrepositorygrant": "id, foreman_user_id, repository_id",
    "katello_gateway_consumerhost": "pulp_id, uuid",
    "katello_gateway_hostrepositorygrant": "id, host_id, repository_id",
    "katello_gateway_cachedlogin": "id, digest, verified_at",
    "container_containerdistribution": "distribution_ptr_id, private",
}


def snapshot(pulp_db):
    return {
        table: sorted(map(tuple, pulp_db.execute(f"SELECT {columns} FROM {table}").fetchall()))
        for table, columns in TABLES.items()
    }
