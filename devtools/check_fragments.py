"""Lint: a product change since the last release comes with a changelog fragment in CHANGES/,
which towncrier renders into CHANGES.md at the next release (CHANGES/README.md).

The product is what an admin installs: ``pulp_katello_gateway/app/`` and its dependencies
(requirements.txt). The base is the last commit that changed a release heading of CHANGES.md
(the last release rendered), or the git ref in ``CHANGELOG_BASE``. The working tree is compared
with it, untracked files included. Exits 1 naming the changed product files when no fragment was
added; says it skipped in a shallow clone rather than fail a CI that clones shallowly.
"""

import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("pulp_katello_gateway/app/", "requirements.txt")
FRAGMENTS = "CHANGES/"


def git(*args):
    result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True)
    return result.stdout.splitlines()


def last_release():
    """The last release's commit; None in a shallow clone, whose history may not reach it."""
    if git("rev-parse", "--is-shallow-repository") == ["true"]:
        return None
    commits = git("log", "-1", "--format=%H", "-G", "^## [0-9]", "--", "CHANGES.md")
    if not commits:
        sys.exit("check_fragments: no release heading in CHANGES.md's history; set CHANGELOG_BASE "
                 "to the commit to compare with")
    return commits[0]


def fragment_types():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["towncrier"]
    return {kind["directory"] for kind in config["type"]}


def main():
    base = os.environ.get("CHANGELOG_BASE") or last_release()
    if base is None:
        print("check_fragments: skipped in a shallow clone (it may lack the last release): "
              "git fetch --unshallow, or set CHANGELOG_BASE to the last release's commit")
        return 0
    untracked = git("ls-files", "--others", "--exclude-standard")
    changed = git("diff", "--name-only", base, "--") + untracked
    added = git("diff", "--name-only", "--diff-filter=A", base, "--", FRAGMENTS) + untracked
    types = fragment_types()
    fragments = [
        path for path in added
        if path.startswith(FRAGMENTS) and types & set(Path(path).name.split(".")[1:])
    ]
    product = [path for path in changed if path.startswith(PRODUCT)]
    if product and not fragments:
        print(f"Changed since {base[:12]} without a fragment in {FRAGMENTS} (CHANGES/README.md):")
        for path in product:
            print(f"  {path}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
