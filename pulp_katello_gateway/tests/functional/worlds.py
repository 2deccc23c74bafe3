"""What a functional test module works on: repositories with an image, Foreman users and hosts,
under a prefix of its own (made by conftest's ``make_world``)."""

import uuid
from dataclasses import dataclass, field
from pathlib import Path

from devtools.katello_standin.server import KatelloStandin


@dataclass
class World:
    """What one test module (or test) works on, under a ``prefix`` no other one uses.

    ``repos``: kind -> repository name (``<prefix>/<kind>``); ``digest`` and ``layout``: the image
    they hold; ``users``: who -> a Foreman user's credentials (``new_user()``'s dict); ``hosts``:
    who -> consumer UUID, ``host_certs``: who -> a ``certs.d`` directory with Pulp's CA and the
    host's consumer certificate; ``workdir``: a directory of the world's own.
    """

    prefix: str
    repos: dict
    digest: str
    layout: Path
    workdir: Path
    katello: KatelloStandin = field(repr=False)
    secrets: object = field(repr=False)
    users: dict = field(default_factory=dict)
    hosts: dict = field(default_factory=dict)
    host_certs: dict = field(default_factory=dict)

    def host_cert(self, who="host"):
        """(certificate, key) paths of the host ``who``'s consumer certificate."""
        directory = self.host_certs[who]
        return str(directory / "client.cert"), str(directory / "client.key")

    def new_user(self, *, repositories=None, tag="u", password=None):
        """A fresh Foreman user with a password and a personal access token, granted
        ``repositories`` (names; default: the world's ``granted`` one), not logged in yet; its
        secrets are registered for the leak check."""
        login = f"{self.prefix}-{tag}-{uuid.uuid4().hex[:8]}"
        password = password or f"pw-{uuid.uuid4().hex}"
        pat = f"pat-{uuid.uuid4().hex}"
        if repositories is None:
            repositories = [self.repos["granted"]]
        self.katello.add_user(login, password, pat=pat, repositories=repositories)
        self.secrets.add(password, pat)
        return {"login": login, "password": password, "pat": pat, "auth": (login, password),
                "pat_auth": (login, pat)}
