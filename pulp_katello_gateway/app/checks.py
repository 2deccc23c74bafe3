"""System checks that turn a misconfiguration into a clear message at start-up."""

from pathlib import Path

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def token_endpoint_check(app_configs, **kwargs):
    """Without the override, pulp_container's stock token endpoint would ignore Katello's ACL."""
    from pulp_katello_gateway.app.middleware import override_problems

    return [
        Error(
            f"The Katello gateway's registry override is not in effect: {problem}.",
            hint="Keep pulp_katello_gateway's middleware in MIDDLEWARE (merge, don't replace, "
            "with 'dynaconf_merge' when you set MIDDLEWARE).",
            id="katello_gateway.E003",
        )
        for problem in override_problems()
    ]


@register(deploy=True)
def foreman_settings_check(app_configs, **kwargs):
    """Foreman logins need the Foreman URL; TLS files must be readable when given."""
    messages = []
    if not settings.KATELLO_GATEWAY_FOREMAN_URL:
        messages.append(
            Warning(
                "KATELLO_GATEWAY_FOREMAN_URL is not set: Foreman users cannot log in.",
                hint="Set it to Foreman's base URL, e.g. https://foreman.example.com.",
                id="katello_gateway.W001",
            )
        )
    for name in (
        "KATELLO_GATEWAY_FOREMAN_CA_FILE",
        "KATELLO_GATEWAY_FOREMAN_CLIENT_CERT",
        "KATELLO_GATEWAY_FOREMAN_CLIENT_KEY",
    ):
        value = getattr(settings, name)
        if value and not Path(value).is_file():
            messages.append(
                Error(f"{name} names {value!r}, which is not a readable file.",
                      id="katello_gateway.E001")
            )
    if bool(settings.KATELLO_GATEWAY_FOREMAN_CLIENT_CERT) != bool(
        settings.KATELLO_GATEWAY_FOREMAN_CLIENT_KEY
    ):
        messages.append(
            Error(
                "KATELLO_GATEWAY_FOREMAN_CLIENT_CERT and _CLIENT_KEY must be set together.",
                id="katello_gateway.E002",
            )
        )
    return messages
