from dynaconf import ValidationError

TRUST_BOUNDARY = "pulp_katello_gateway.app.trust_boundary.TrustBoundaryMiddleware"


def post(settings):
    """Refuse to start without pulp_container, which this plugin extends; put the trust
    boundary first in MIDDLEWARE, before any middleware that could read an identity header (a
    settings file can only append to pulpcore's list)."""
    enabled_plugins = settings.get("ENABLED_PLUGINS")
    if enabled_plugins and "pulp_container" not in enabled_plugins:
        raise ValidationError("pulp_katello_gateway requires pulp_container to be enabled")
    others = [entry for entry in settings.get("MIDDLEWARE", []) if entry != TRUST_BOUNDARY]
    return {"MIDDLEWARE": [TRUST_BOUNDARY, *others]}
