"""Lint: only ``app/pulp_internals.py`` imports Pulp's internals (as Pulp's plugin_template checks
that plugins import pulpcore only through ``pulpcore.plugin``).

Internals: pulp_container, pulp-smart-proxy, pulpcore outside ``pulpcore.plugin``, and the parts
of ``pulpcore.plugin`` the oldest supported line lacks. Migrations are history, written once by
``makemigrations``, and are not checked. Exits 1 listing each offending import.
"""

import ast
import sys
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "pulp_katello_gateway" / "app"
BOUNDARY = APP / "pulp_internals.py"
MISSING_ON_OLDEST = ("pulpcore.plugin.find_url",)  # pulpcore 3.85


def internal(module):
    if module.startswith(MISSING_ON_OLDEST):
        return True
    top = module.split(".")[0]
    if top in ("pulp_container", "pulp_smart_proxy"):
        return True
    return top == "pulpcore" and module.split(".")[:2] != ["pulpcore", "plugin"]


def offences(path):
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        else:
            continue
        for module in modules:
            if internal(module):
                yield f"{path.relative_to(APP.parent.parent)}:{node.lineno}: imports {module}"


def main():
    found = [
        offence
        for path in sorted(APP.rglob("*.py"))
        if path != BOUNDARY and "migrations" not in path.parts
        for offence in offences(path)
    ]
    for offence in found:
        print(f"{offence}; import it through pulp_katello_gateway/app/pulp_internals.py")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
