"""Check: every module of a built wheel imports only the standard library, what the wheel ships
and what it declares. A module that imports anything else works in a checkout and fails on an
admin's machine (the tests, which import devtools, were shipped that way).

Declared: the wheel's own ``Requires-Dist``, without the extras of the Makefile's virtualenv
(``test``, ``bench``). An import name is matched to the distributions installed here that provide
it. Exits 1 listing each offending import.

Usage: ``python -m devtools.check_wheel_imports dist/pulp_katello_gateway-*.whl``
"""

import ast
import sys
import zipfile
from email.parser import HeaderParser
from importlib.metadata import packages_distributions
from pathlib import PurePosixPath

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

DEVELOPMENT_EXTRAS = {"test", "bench"}


def declared(metadata):
    """Canonical names of the distributions ``metadata`` requires, itself or through the extras
    an admin installs (``pulp-katello-gateway[smart-proxy]``)."""
    extras = set(metadata.get_all("Provides-Extra") or []) - DEVELOPMENT_EXTRAS
    names = set()
    for line in metadata.get_all("Requires-Dist") or []:
        requirement = Requirement(line)
        marker = requirement.marker
        if marker is None or any(marker.evaluate({"extra": extra}) for extra in {"", *extras}):
            names.add(canonicalize_name(requirement.name))
    return names


def imports(source, path):
    """``{top-level name: first line}`` of the absolute imports in ``source``."""
    found = {}
    for node in ast.walk(ast.parse(source, path)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            found[top] = min(found.get(top, node.lineno), node.lineno)
    return found


def offences(wheel_path):
    with zipfile.ZipFile(wheel_path) as wheel:
        names = wheel.namelist()
        (metadata_path,) = [name for name in names if name.endswith(".dist-info/METADATA")]
        metadata = HeaderParser().parsestr(wheel.read(metadata_path).decode())
        modules = [name for name in names if name.endswith(".py")]
        shipped = {PurePosixPath(name).parts[0] for name in modules}
        allowed = declared(metadata)
        providers = packages_distributions()
        for module in modules:
            for top, line in imports(wheel.read(module), module).items():
                if top in sys.stdlib_module_names or top in shipped:
                    continue
                found = providers.get(top, [])
                if not allowed & {canonicalize_name(name) for name in found}:
                    by = f" (from {', '.join(found)})" if found else ""
                    yield f"{module}:{line}: imports {top}{by}, neither shipped nor declared"


def main(wheels):
    found = [offence for wheel in wheels for offence in offences(wheel)]
    for offence in found:
        print(offence)
    return 1 if found or not wheels else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
