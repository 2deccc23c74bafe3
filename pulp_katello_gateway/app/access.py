"""THE authorization decision: what may an identity do to a repository, what may it see.

Every registry answer (token, catalog, search, Flatpak index) asks this module; no view
re-implements a rule. Katello's rules, for repositories Katello pushed to us:

- pull is granted to anyone when the repository does not require authentication, and otherwise
  to a Foreman user or a host with a grant;
- Foreman users and hosts never push or delete, and get nothing on repositories Katello does not
  know (a forbidden repository looks exactly like a missing one);
- local Pulp users (``admin``, Katello's service user) and anonymous clients keep
  pulp_container's own rules on repositories Katello does not know, and on Katello repositories
  local users keep them too (the distribution's ``private`` flag mirrors ``auth_required``),
  except that only a superuser may push to a name Katello lists (``ownership``);
- a Katello repository whose distribution a local user or group may change (owner or
  collaborator roles on it or its namespace) is served to nobody but local users until an admin
  resolves it (``ownership.taken_names``): its content may not be Katello's.
"""

from dataclasses import dataclass

from django.db.models import Exists, F, OuterRef, Q

from pulp_katello_gateway.app import metrics
from pulp_katello_gateway.app.models import (
    HostRepositoryGrant,
    KatelloRepository,
    UserRepositoryGrant,
)
from pulp_katello_gateway.app.names import has_control_characters
from pulp_katello_gateway.app.pulp_internals import (
    CatalogView,
    ContainerDistribution,
    PermissionChecker,
    distribution_role_holders,
)

PULL, PUSH = "pull", "push"


def _grants(identity):
    """The grants of an identity from Katello (a Foreman user or a host)."""
    if identity.foreman_user_id is not None:
        return UserRepositoryGrant.objects.filter(foreman_user_id=identity.foreman_user_id)
    return HostRepositoryGrant.objects.filter(host_id=identity.host_id)


def permitted_actions(identity, name, requested):
    """The subset of ``requested`` actions ``identity`` may perform on repository ``name``."""
    return _decide(identity, name, requested)[0]


def explain(identity, name, requested=(PULL, PUSH)):
    """``(actions, rule)``: what ``permitted_actions`` grants and the rule that decided it.

    For operators asking why someone may or may not pull; the same code path as every token.
    """
    return _decide(identity, name, set(requested))


def _decide(identity, name, requested):
    if has_control_characters(name):
        # No repository is named so (and PostgreSQL cannot even compare a NUL).
        return set(), "no repository can have this name (control characters)"
    repositories = KatelloRepository.objects.filter(name=name)
    if identity.from_katello:  # its grant read in the same statement
        repositories = repositories.annotate(
            granted=Exists(_grants(identity).filter(repository=OuterRef("pk")))
        )
    repository = repositories.first()
    if (
        repository is not None
        and (identity.from_katello or identity.is_anonymous)
        and distribution_role_holders([name])
    ):
        return set(), (
            "the distribution at this Katello name is held by a local Pulp user or group "
            "(katello_gateway.W009): not served to Katello's users until an admin resolves it"
        )
    if identity.from_katello:
        if repository is None:
            return set(), (
                "unknown repository: Katello has not pushed it, and Foreman users and hosts "
                "get nothing on repositories Katello does not know"
            )
        if PULL not in requested:
            return set(), "Foreman users and hosts may only pull"
        if not repository.auth_required:
            return {PULL}, "public repository (auth_required false); Foreman users never push"
        if repository.granted:
            return {PULL}, "grant from Katello (pushed, or loaded from Foreman at login)"
        return set(), "no grant: the repository requires authentication and has no grant"
    if repository is not None and identity.is_anonymous:
        if not repository.auth_required:
            return {PULL} & set(requested), "public repository (auth_required false)"
        return set(), "the repository requires authentication; anonymous clients get nothing"
    if repository is not None and PUSH in requested and not identity.user.is_superuser:
        pulls = _pulp_container_actions(identity.user, name, requested - {PUSH})
        return pulls, (
            "a Katello repository's name: only a Pulp superuser may push to it; pull by "
            "pulp_container's own rules (RBAC roles, the distribution's private flag)"
        )
    return _pulp_container_actions(identity.user, name, requested), (
        "pulp_container's own rules (RBAC roles, the distribution's private flag): "
        + ("local Pulp user" if not identity.is_anonymous else "not a Katello repository")
    )


def _pulp_container_actions(user, name, requested):
    """pulp_container's own rules (RBAC, private flag), as its token server applies them."""
    checker = PermissionChecker(user)
    granted = set()
    if PUSH in requested and checker.has_push_permissions(name):
        granted |= {PUSH, PULL}
    if PULL in requested and PULL not in granted and checker.has_pull_permissions(name):
        granted.add(PULL)
    return granted


def parse_scope(scope):
    """``type:name:actions`` -> (type, name, actions) or None.

    The type is split off the left and the actions off the right, so names carrying a registry
    ``host:port`` still parse (pulp_container would drop the whole request's access instead).
    """
    typ, sep, rest = scope.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not (sep and sep2 and typ and name):
        return None
    return typ, name, [action for action in actions.split(",") if action]


def requested_resources(scopes):
    """``{(type, name): actions}`` the well-formed ``scopes`` ask for: a resource asked for in
    several scopes once, with all the actions asked."""
    requested = {}
    for scope in scopes:
        parsed = parse_scope(scope)
        if parsed is not None:
            typ, name, actions = parsed
            requested.setdefault((typ, name), set()).update(actions)
    return requested


def token_access(identity, scopes):
    """The JWT ``access`` claim: requested ∩ allowed, one entry per resource the well-formed
    scopes name, each decided once."""
    access = []
    for (typ, name), actions in requested_resources(scopes).items():
        if typ == "repository":
            granted = permitted_actions(identity, name, actions)
        elif typ == "registry" and name == "catalog" and "*" in actions:
            granted = {"*"}  # every identity may list; the catalog shows only what it may pull
        else:
            granted = set()
        if not granted.issuperset(actions):
            metrics.refused_scope(identity, granted)
        access.append({"type": typ, "name": name, "actions": sorted(granted)})
    return access


def _katello_visible(identity):
    """Katello repositories ``identity`` may pull: the public ones plus its grants, less those
    held locally (``ownership``).

    ``pk IN (grants)`` under an OR becomes a hashed subplan, so a walk along the name index
    tests each row in constant time however many grants the identity has.
    """
    public = Q(auth_required=False)
    served = KatelloRepository.objects.exclude(name__in=list(distribution_role_holders()))
    if not identity.from_katello:
        return served.filter(public)
    granted = _grants(identity).values("repository_id")
    return served.filter(public | Q(pk__in=granted))


def _pulp_container_catalog(user):
    """pulp_container's own catalog rule for a local Pulp user, reused rather than restated."""
    return CatalogView(request=_UserOnly(user)).get_queryset()


@dataclass(frozen=True)
class _UserOnly:
    """All of a request that ``CatalogView.get_queryset`` reads."""

    user: object


def _listing_sources(identity):
    """Querysets, each naming repositories as ``listed``, whose union ``identity`` may see."""
    if identity.from_katello or identity.is_anonymous:
        sources = [(_katello_visible(identity), "name")]
    elif identity.user.is_superuser:
        sources = [
            (KatelloRepository.objects.all(), "name"),
            (ContainerDistribution.objects.all(), "base_path"),
        ]
    else:
        sources = [(_pulp_container_catalog(identity.user), "full_path")]
    return [queryset.annotate(listed=F(column)) for queryset, column in sources]


def visible_repositories(identity, *, after="", contains="", limit=None):
    """Sorted names of the repositories ``identity`` may pull: what its listings show.

    Anonymous clients see Katello's public repositories; Foreman users and hosts those plus
    their grants; a Pulp superuser every distribution and every Katello repository; other local
    Pulp users what pulp_container's own catalog shows them. Only names after ``after`` and
    containing ``contains`` (case-insensitively, wildcards taken literally), at most ``limit``.
    Filter, order and limit all run in SQL along the name indexes (keyset pagination), so a page
    costs the same whatever its position in a catalog of any size.
    """
    pages = []
    for names in _listing_sources(identity):
        if after:
            names = names.filter(listed__gt=after)
        if contains:
            names = names.filter(listed__icontains=contains)
        names = names.order_by("listed").values_list("listed", flat=True)
        pages.append(names if limit is None else names[:limit])
    names = pages[0].union(*pages[1:]).order_by("listed") if len(pages) > 1 else pages[0]
    return list(names if limit is None else names[:limit])


def pullable_distributions(identity, distributions):
    """The subset of the ``distributions`` queryset ``identity`` may pull (same rule as above)."""
    if identity.from_katello or identity.is_anonymous:
        return distributions.filter(base_path__in=_katello_visible(identity).values("name"))
    if identity.user.is_superuser:
        return distributions
    return distributions.filter(pk__in=_pulp_container_catalog(identity.user).values("pk"))
