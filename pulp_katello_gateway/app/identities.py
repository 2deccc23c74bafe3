"""Who asks: the identity a registry decision is made for, and who a login could be.

An identity is anonymous, a local Pulp user (``admin``, Katello's service user), a Foreman user
(its Django user is the registry token's subject) or a registered host. A login may name both a
local Pulp user and a Foreman user (``admin`` exists in both on every capsule);
``login_candidates`` says which the token endpoint takes for which secret, and explain/ and
``katello-gateway-access`` say it the same way.
"""

import uuid
from dataclasses import dataclass, field
from functools import cached_property

from django.contrib.auth.models import AnonymousUser

from pulp_katello_gateway.app.models import ForemanUser, local_user


@dataclass(frozen=True)
class Identity:
    """Who asks. ``user`` is the JWT subject; Foreman users and hosts carry their row's pk and
    ``name``, how Katello names them (the folded login, the consumer uuid), read with the pk so
    that nobody has to look the row up again (the token's host claim, the pull record).

    The last two fields are not who asks but what identifying found out of date, for
    ``grant_refresh.catch_up``: a Foreman user whose grants were not loaded since Foreman
    confirmed this login, a verified host certificate of a host Katello has not pushed (that
    identity is anonymous until it is looked up).
    """

    user: object = AnonymousUser()
    foreman_user_id: uuid.UUID | None = None
    host_id: uuid.UUID | None = None
    name: str | None = field(default=None, compare=False)
    grants_due: bool = field(default=False, compare=False)
    unregistered_host: str | None = field(default=None, compare=False)

    @classmethod
    def of_foreman_user(cls, foreman_user, *, grants_due=False):
        return cls(user=foreman_user.user, foreman_user_id=foreman_user.pk,
                   name=foreman_user.login, grants_due=grants_due)

    @classmethod
    def of_host(cls, host_id, uuid):
        return cls(host_id=host_id, name=uuid)

    @property
    def from_katello(self):
        """True for identities whose rights come only from Katello's ACL."""
        return self.foreman_user_id is not None or self.host_id is not None

    @property
    def is_anonymous(self):
        return not self.from_katello and not self.user.is_authenticated

    @property
    def kind(self):
        """``host``, ``foreman``, ``pulp`` (a local Pulp user) or ``anonymous``."""
        if self.host_id is not None:
            return "host"
        if self.foreman_user_id is not None:
            return "foreman"
        return "anonymous" if self.is_anonymous else "pulp"

    def __str__(self):
        if self.host_id is not None:
            return f"host:{self.host_id}"
        if self.foreman_user_id is not None:
            return f"foreman:{self.user.username}"
        return self.user.username or "anonymous"


ANONYMOUS = Identity()


class LoginCandidates:
    """Who a login could be: the local Pulp user of that name (``local``) and the Foreman user
    it names (``foreman``, looked up only when asked), either or both None."""

    def __init__(self, login):
        self.login = login
        self.local = local_user(login)

    @cached_property
    def foreman(self):
        return ForemanUser.objects.for_login(self.login)

    @property
    def asks_foreman(self):
        """Whether a secret that is not the local user's password is Foreman's to judge: always
        without a local user (Foreman may know the login yet), with one only when an admin
        declared the Foreman user here too, so that a mistyped local password never leaves
        Pulp."""
        return self.local is None or self.foreman is not None

    def in_order(self):
        """``(identity, secret)`` for each candidate, in the order the token endpoint tries
        them: the secret says what the client must send for the endpoint to take that one."""
        ordered = []
        if self.local is not None:
            ordered.append((Identity(user=self.local), "its Pulp password"))
        if self.foreman is not None:
            other = " other than that Pulp password" if self.local is not None else ""
            ordered.append((Identity.of_foreman_user(self.foreman),
                            f"a password or personal access token Foreman accepts{other}"))
        return ordered


def login_candidates(login):
    """Who ``login`` could be, as the token endpoint sees it (logins.md)."""
    return LoginCandidates(login)
