"""What the database holds of the plugin's (and the container distributions' private flag), for
checking that a refusal changed nothing: one snapshot for the unit tests (Django's connection)
and the functional ones (a connection to the stack's database)."""

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


def snapshot(connection):
    """Every row of ``TABLES``, sorted, by table; ``connection`` is psycopg's or Django's."""
    rows = {}
    with connection.cursor() as cursor:
        for table, columns in TABLES.items():
            cursor.execute(f"SELECT {columns} FROM {table}")
            rows[table] = sorted(map(tuple, cursor.fetchall()))
    return rows
