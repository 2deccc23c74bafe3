"""Access policies of the plugin's REST endpoints (pulpcore's access-policy statements).

Pulp admins may do everything; others need one model permission, which the
``katello_gateway.katello`` role (``viewsets.py``) grants to Katello's service user.
"""


def _holders_of(permission, actions):
    return {
        "action": actions,
        "principal": "authenticated",
        "effect": "allow",
        "condition": f"has_model_perms:{permission}",
    }


_ADMIN = {"action": "*", "principal": "admin", "effect": "allow"}


def every_action(permission):
    """Admins, and users with ``permission``, for every action (fixed endpoints: no
    access-policy row an admin could loosen)."""
    return {"statements": [_ADMIN, _holders_of(permission, "*")]}


def read_only(permission):
    """Users with ``permission`` may list and retrieve; admins may do everything."""
    return {"statements": [_holders_of(permission, ["list", "retrieve"]), _ADMIN]}
