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
