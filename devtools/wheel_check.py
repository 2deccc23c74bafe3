"""The built wheel as an admin installs it (install.md, step 1): into a clean virtualenv
with one Pulp line's pulpcore and pulp_container, then, with install.md's settings and a
throwaway PostgreSQL, ``migrate``, ``makemigrations --check`` and ``check --deploy --tag
katello_gateway``. A checkout hides what the wheel lacks (a module, a migration, a dependency);
this finds it. Exits non-zero when any step fails.

Usage: ``python -m devtools.wheel_check --line newest dist/pulp_katello_gateway-*.whl``
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from packaging.requirements import Requirement

from devtools import docs
from devtools.pg import Cluster
from devtools.pki import CertificateAuthority
from devtools.pulp_settings import write_settings

LINES = Path(__file__).resolve().parent / "pulp_lines"
PULP = ("pulpcore", "pulp-container")


def pulp_requirements(constraints):
    """The line's Pulp as an admin names it: ``pulpcore==3.123.*``, ``pulp-container==2.30.*``."""
    pins = {}
    for line in constraints.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and (requirement := Requirement(line)).name in PULP:
            (pin,) = requirement.specifier
            pins[requirement.name] = ".".join(pin.version.split(".")[:2])
    return [f"{name}=={pins[name]}.*" for name in PULP]


def missing_snippets(python, env):
    """The web-server snippets install.md names that the installed package lacks."""
    where = "import pathlib, pulp_katello_gateway as p; print(pathlib.Path(p.__file__).parent)"
    package = subprocess.run([python, "-c", where], capture_output=True, text=True, check=True,
                             env=env, cwd=python.parent).stdout.strip()
    snippets = Path(package) / "app" / "webserver_snippets"
    named = set(re.findall(r"webserver_snippets/([\w.-]+\.conf)", docs.INSTALL.read_text()))
    return sorted(name for name in named if not (snippets / name).is_file())


def install_settings(state, database):
    """Pulp's settings file of a new install: the base settings and keys, then install.md's
    step 3 as an admin adds it, with its files made here. ``katello_gateway.W006`` (no push
    from Katello yet) is silenced: install.md expects it until Katello's first push."""
    path = write_settings(state, database, api_origin="https://capsule.example.com",
                          content_origin="https://capsule.example.com")
    secrets = state / "secrets"  # where write_settings put the token keys, under install.md's names
    ca = CertificateAuthority(secrets, name="katello-ca", common_name="Katello CA")
    (secrets / "katello-ca.pem").write_bytes(ca.cert_path.read_bytes())
    api_socket = docs.socket_unit("pulpcore-api", state / "pulpcore-api.sock")
    api_socket.listen().close()  # the file stays, as systemd's socket unit leaves it
    step_3 = docs.block("python", "KATELLO_GATEWAY_FOREMAN_URL").replace(
        "/etc/pulp/certs/", f"{secrets}/"
    )
    with open(path, "a") as settings:
        settings.write(step_3)
        settings.write(docs.pulp_settings(KATELLO_GATEWAY_API_SOCKET=str(api_socket.path)))
        settings.write('SILENCED_SYSTEM_CHECKS = ["katello_gateway.W006"]\n')
    return path


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--line", default="newest", help="a file name in devtools/pulp_lines/")
    parser.add_argument("wheel", type=Path)
    args = parser.parse_args(argv)
    constraints = LINES / f"{args.line}.txt"
    # Only what the wheel installs and install.md sets: nothing from the caller's Pulp or checkout.
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("PULP_", "DJANGO_", "PYTHON"))}
    with tempfile.TemporaryDirectory(prefix="wheel-check-") as tmp:
        tmp = Path(tmp)
        tmp.chmod(0o755)  # the postgres user must reach the cluster directory inside
        venv = tmp / "venv"
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        # --no-compile: bytecode is not what is checked here, and compiling Pulp takes a while.
        pip = [venv / "bin" / "pip", "install", "--quiet", "--disable-pip-version-check",
               "--no-compile"]
        requirements = [args.wheel.resolve(), *pulp_requirements(constraints), "-c", constraints]
        subprocess.run([*pip, *requirements], check=True)
        if missing := missing_snippets(venv / "bin" / "python", env):
            print(f"install.md's snippets missing from the installed package: {missing}")
            return 1
        cluster = Cluster(tmp / "postgres")
        try:
            database = cluster.start()
            database.ensure()
            env["PULP_SETTINGS"] = str(install_settings(tmp / "pulp", database))
            for command in (
                ["migrate", "--noinput", "--verbosity", "0"],
                ["makemigrations", "katello_gateway", "--check", "--dry-run"],
                ["check", "--deploy", "--tag", "katello_gateway", "--fail-level", "WARNING"],
            ):
                print(f"pulpcore-manager {' '.join(command)}", flush=True)
                manager = [venv / "bin" / "pulpcore-manager", *command]
                result = subprocess.run(manager, env=env, cwd=tmp)
                if result.returncode:
                    return result.returncode
        finally:
            cluster.stop()
    print(f"{args.wheel.name} installs, migrates and passes check --deploy on {args.line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
