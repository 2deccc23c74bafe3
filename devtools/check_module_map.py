"""Lint: docs/admin/learn/architecture.md's module map names every module of
``pulp_katello_gateway/app`` and nothing else, so a newcomer's map matches the tree. Exits 1
listing the differences.

Rows name a module (``access.py``), a package directory (``migrations/``) or two modules at once
(``viewsets.py``, ``serializers.py``).
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "pulp_katello_gateway" / "app"
DOC = ROOT / "docs" / "admin" / "learn" / "architecture.md"
# Directories listed as one row: their files are data or generated, not modules to describe.
WHOLE = ("management/commands", "migrations", "webserver_snippets")


def in_tree():
    names = set()
    for path in APP.rglob("*.py"):
        relative = path.relative_to(APP).as_posix()
        whole = next((prefix for prefix in WHOLE if relative.startswith(prefix + "/")), None)
        if whole:
            names.add(whole + "/")
        elif not (relative.endswith("/__init__.py") or relative.startswith("management/")):
            names.add(relative)
    return names


def in_map():
    names = set()
    for line in DOC.read_text().splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            names.update(re.findall(r"`([^`]+)`", first_cell))
    return names


def main():
    tree, documented = in_tree(), in_map()
    doc = DOC.relative_to(ROOT)
    problems = [f"{name}: in the tree, not in {doc}'s module map"
                for name in sorted(tree - documented)]
    problems += [f"{name}: in {doc}'s module map, not in the tree"
                 for name in sorted(documented - tree)]
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
