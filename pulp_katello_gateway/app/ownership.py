"""Names that belong to Foreman and Katello, whatever a local Pulp user may otherwise do.

- A Foreman user's Django username (``foreman:<login>``, ``names``) is never a local Pulp user's:
  pulpcore's user API checks only length and uniqueness, and a local ``foreman:carol`` would
  block Foreman user carol for good.
- A name in Katello's repository list is Katello's: only a Pulp superuser (Katello's own Pulp
  user is one) may push to it (``access``), save a distribution at it, or add a version to a
  repository a distribution serves there (pulp_container's namespace roles would let a local
  user change the content of every repository in "her" namespace). A distribution that a local
  user or group may change (roles on it or on its namespace), at a name Katello lists later, is
  reported here and not served to Katello's users (``access``) until an admin resolves it.
"""

from django.contrib.auth import get_user_model
from django.db.models import Q
from pulpcore.plugin.models import Distribution
from pulpcore.plugin.util import get_current_authenticated_user
from rest_framework.exceptions import ValidationError

from pulp_katello_gateway.app.models import ForemanUser, KatelloRepository
from pulp_katello_gateway.app.names import RESERVED_PREFIXES, is_reserved_username
from pulp_katello_gateway.app.pulp_internals import (
    ContainerDistribution,
    distribution_role_holders,
)


def refuse_reserved_usernames(sender, instance, raw=False, **kwargs):
    """``pre_save`` of Django users: no local Pulp user takes a Foreman user's username."""
    if raw or not is_reserved_username(instance.username):
        return
    if getattr(instance, "katello_shadow", False):  # ForemanUser.objects.create_for_login
        return
    if instance.pk is not None and ForemanUser.objects.filter(user_id=instance.pk).exists():
        return
    raise ValidationError({"username": [
        f"Usernames starting with {' or '.join(map(repr, RESERVED_PREFIXES))} are reserved for "
        f"Foreman users (pulp_katello_gateway); {instance.username!r} cannot be a local Pulp user."
    ]})


def reserved_name_holders():
    """Local Pulp users whose usernames are reserved for Foreman users (made before the plugin
    refused them): each blocks the Foreman login it names."""
    reserved = Q()
    for prefix in RESERVED_PREFIXES:
        reserved |= Q(username__startswith=prefix)
    return get_user_model().objects.filter(reserved, katello_foreman_user__isnull=True)


def refuse_local_distribution(sender, instance, raw=False, **kwargs):
    """``pre_save`` of every model: only a superuser saves a distribution, of any type, at a
    Katello repository's name or overlapping one (``acme`` or ``acme/web/x`` for ``acme/web``:
    pulpcore refuses overlapping base paths, so such a one would keep Katello's own distribution
    out). Saves without a user (Pulp's own, migrations) are let through."""
    if raw or not isinstance(instance, Distribution):
        return
    user = get_current_authenticated_user()
    if user is None or user.is_superuser:
        return
    base_path = instance.base_path.strip("/")
    segments = base_path.split("/")
    above = ["/".join(segments[:n]) for n in range(1, len(segments))]
    overlapping = KatelloRepository.objects.filter(
        Q(name=base_path) | Q(name__in=above) | Q(name__startswith=f"{base_path}/")
    )
    name = overlapping.values_list("name", flat=True).first()
    if name is not None:
        raise ValidationError({"base_path": [
            f"{instance.base_path!r} is or overlaps Katello repository {name!r}: only a Pulp "
            "superuser may create or change a distribution there (pulp_katello_gateway)."
        ]})


def refuse_local_content(sender, instance, raw=False, **kwargs):
    """``pre_save`` of repository versions: only a superuser adds a version to a repository that
    a distribution serves at a Katello repository's name. Saves without a user (Pulp's own)
    are let through."""
    if raw or not instance._state.adding:
        return
    user = get_current_authenticated_user()
    if user is None or user.is_superuser:
        return
    served = ContainerDistribution.objects.filter(
        Q(repository_id=instance.repository_id)
        | Q(repository_version__repository_id=instance.repository_id),
        base_path__in=KatelloRepository.objects.values("name"),
    )
    if served.exists():
        raise ValidationError(
            "This repository is served at a Katello repository's name: only a Pulp superuser "
            "may change its content (pulp_katello_gateway)."
        )


def taken_names():
    """``{Katello repository name: holders}``: distributions at Katello's names that local Pulp
    users or groups may change (``katello_gateway.W009``); not served to Katello's users."""
    return distribution_role_holders(KatelloRepository.objects.values("name"))
