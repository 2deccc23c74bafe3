"""What install.md tells an admin to type, for the tests that follow it literally."""

import re
from pathlib import Path

import pulp_container

import pulp_katello_gateway
from devtools.socket_activation import SocketUnit

INSTALL = Path(__file__).resolve().parent.parent / "docs" / "admin" / "guides" / "install.md"
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


def on_loopback(language, containing, **replacements):
    """install.md's ``language`` block that contains ``containing``, moved to this machine:
    each ``replacements`` key (a text of the block, or ``"<pulp_container>"`` and
    ``"<pulp_katello_gateway>"``, which it gives by default) replaced by its value. A text the
    block no longer has is an error: the docs changed, and the tests must follow them."""
    text = block(language, containing)
    replacements = {
        "<pulp_container>": str(Path(pulp_container.__file__).parent),
        "<pulp_katello_gateway>": str(Path(pulp_katello_gateway.__file__).parent),
        **replacements,
    }
    for old, new in replacements.items():
        if old not in text:
            raise LookupError(f"install.md's {language} block with {containing!r} has no {old!r}")
        text = text.replace(old, new)
    return text


def socket_unit(service, path):
    """install.md's systemd socket unit of ``service`` (``pulpcore-api``, ``pulpcore-content``),
    at ``path`` instead of /run."""
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
