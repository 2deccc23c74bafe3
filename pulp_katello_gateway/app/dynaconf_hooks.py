from dynaconf import ValidationError


def post(settings):
    """Refuse to start without pulp_container, which this plugin extends."""
    enabled_plugins = settings.get("ENABLED_PLUGINS")
    if enabled_plugins and "pulp_container" not in enabled_plugins:
        raise ValidationError("pulp_katello_gateway requires pulp_container to be enabled")
    return {"dynaconf_merge": True}
