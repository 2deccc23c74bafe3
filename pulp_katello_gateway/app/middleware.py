import logging

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import request_started
from django.urls import Resolver404, resolve

REGISTRY_URLCONF = "pulp_katello_gateway.app.registry.urls"
MIDDLEWARE_PATH = "pulp_katello_gateway.app.middleware.RegistryUrlconfMiddleware"


def refuse_every_request(reason):
    """Make every request fail with ``reason`` (logged now and with each request's 500)."""
    logging.getLogger(__name__).error(reason)

    def refuse(**kwargs):
        raise ImproperlyConfigured(reason)

    request_started.connect(refuse, weak=False, dispatch_uid="katello_gateway_misconfigured")


def override_problems():
    """What keeps the plugin's request handling from being in effect: its middleware missing or
    out of place, paths of the registry override that do not resolve to its views."""
    from pulp_katello_gateway.app.dynaconf_hooks import TRUST_BOUNDARY
    from pulp_katello_gateway.app.registry.urls import OVERRIDDEN

    problems = []
    if MIDDLEWARE_PATH not in settings.MIDDLEWARE:
        problems.append(f"{MIDDLEWARE_PATH} is missing from MIDDLEWARE")
    if list(settings.MIDDLEWARE[:1]) != [TRUST_BOUNDARY]:
        problems.append(f"{TRUST_BOUNDARY} is not first in MIDDLEWARE")
    for url, view in OVERRIDDEN.items():
        try:
            match = resolve(url, urlconf=REGISTRY_URLCONF)
        except Resolver404:
            match = None
        # Django views carry their class as ``view_class``, DRF viewsets as ``cls``.
        func = match.func if match else None
        found = getattr(func, "view_class", None) or getattr(func, "cls", None)
        if found is not view:
            problems.append(f"{url} does not resolve to {view.__name__}")
    return problems


class RegistryUrlconfMiddleware:
    """Route every request through ``REGISTRY_URLCONF`` so our registry views take precedence.

    Refuses to start (ImproperlyConfigured) when the override would not be in effect: the
    stock token endpoint would otherwise hand out tokens without Katello's rules.
    """

    def __init__(self, get_response):
        problems = override_problems()
        if problems:
            raise ImproperlyConfigured("Katello gateway token endpoint: " + "; ".join(problems))
        self.get_response = get_response

    def __call__(self, request):
        request.urlconf = REGISTRY_URLCONF
        return self.get_response(request)
