"""THE authorization decision: what may an identity do to a repository, what may it see.

Every registry answer (token, catalog, search, Flatpak index) asks this module; no view
re-implements a rule. Katello's rules, for repositories Katello pushed to us:

- pull is granted to anyone when the repository does not require authentication, and otherwise
  to a Foreman user or a host with a grant;
- Foreman users and hosts never push or delete, and get nothing on repositories Katello does not
  know (a forbidden repository looks exactly like a missing one);
- local Pulp users (``admin``, Katello's service user) and anonymous clients keep
  pulp_container's own rules on repositories Katello does not know, and on Katello repositories
  local users keep them too (the distribution's ``private`` flag mirrors ``auth_required``).
"""

from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser
from pulp_container.app.authorization import PermissionChecker

from pulp_katello_gateway.app.models import (
    HostRepositoryGrant,
    KatelloRepository,
    UserRepositoryGrant,
)

PULL, PUSH = "pull", "push"


@dataclass(frozen=True)
class Identity:
    """Who asks. ``user`` is the JWT subject; Foreman users and hosts carry their row id."""

    user: object = AnonymousUser()
    foreman_user_id: int | None = None
    host_id: int | None = None

    @property
    def from_katello(self):
        """True for identities whose rights come only from Katello's ACL."""
        return self.foreman_user_id is not None or self.host_id is not None

    @property
    def is_anonymous(self):
        return not self.from_katello and not self.user.is_authenticated

    def __str__(self):
        if self.host_id is not None:
            return f"host:{self.host_id}"
        if self.foreman_user_id is not None:
            return f"foreman:{self.user.username}"
        return self.user.username or "anonymous"


ANONYMOUS = Identity()


def _has_grant(identity, repository):
    if identity.foreman_user_id is not None:
        return UserRepositoryGrant.objects.filter(
            foreman_user_id=identity.foreman_user_id, repository=repository
        ).exists()
    return HostRepositoryGrant.objects.filter(
        host_id=identity.host_id, repository=repository
    ).exists()


def permitted_actions(identity, name, requested):
    """The subset of ``requested`` actions ``identity`` may perform on repository ``name``."""
    repository = KatelloRepository.objects.filter(name=name).first()
    if identity.from_katello:
        if repository is None or PULL not in requested:
            return set()
        if not repository.auth_required or _has_grant(identity, repository):
            return {PULL}
        return set()
    if repository is not None and identity.is_anonymous:
        return {PULL} & set(requested) if not repository.auth_required else set()
    return _pulp_container_actions(identity.user, name, requested)


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


def token_access(identity, scopes):
    """The JWT ``access`` claim: requested ∩ allowed, one entry per well-formed scope."""
    access = []
    for scope in scopes:
        parsed = parse_scope(scope)
        if parsed is None:
            continue
        typ, name, actions = parsed
        if typ == "repository":
            granted = permitted_actions(identity, name, set(actions))
        elif typ == "registry" and name == "catalog" and "*" in actions:
            granted = {"*"}  # every identity may list; the catalog shows only what it may pull
        else:
            granted = set()
        access.append({"type": typ, "name": name, "actions": sorted(granted)})
    return access
