"""What docs/install.md tells an admin to type, for the tests that follow it literally."""

import re
from pathlib import Path

INSTALL = Path(__file__).resolve().parent.parent / "docs" / "install.md"
_FENCED = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def block(language, containing, path=INSTALL):
    """The one fenced ``language`` block of ``path`` that contains ``containing``."""
    found = [
        body for lang, body in _FENCED.findall(path.read_text())
        if lang == language and containing in body
    ]
    if len(found) != 1:
        raise LookupError(f"{len(found)} {language} blocks of {path} contain {containing!r}")
    return found[0]


def socket_unit(service, path):
    """install.md's systemd socket unit of ``service`` (``pulpcore-api``, ``pulpcore-content``),
    at ``path`` instead of /run."""
    from devtools.socket_activation import SocketUnit

    return SocketUnit.from_text(block("ini", f"ListenStream=/run/{service}.sock"), path=path)


def pulp_settings(**where):
    """install.md's settings for remote-user authentication and where Pulp is reached, as an
    admin appends them to Pulp's settings file; ``where`` replaces the examples' values of
    ``CONTENT_ORIGIN`` and ``KATELLO_GATEWAY_API_SOCKET``."""
    located = block("python", "KATELLO_GATEWAY_API_SOCKET")
    for name, value in where.items():
        located = "\n".join(f"{name} = {value!r}" if line.startswith(f"{name} =") else line
                            for line in located.splitlines())
    return block("python", "REMOTE_USER_ENVIRON_NAME") + "\n" + located + "\n"
