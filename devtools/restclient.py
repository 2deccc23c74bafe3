"""Katello's capsule-sync push through Foreman's real HTTP client (Ruby RestClient 2.1).

``devtools/katello_push.rb`` does what ``ProxyAPI::Resource`` does; this feeds it the stand-in's
state as Katello's payloads and reads back what it sent. As a command (the demo prints one):
``python -m devtools.restclient --standin <control API URL> --ca CA [--cert C --key K | --user U
--password P] <smart proxy URL>``.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import requests

from devtools.katello_standin.model import Katello
from devtools.katello_standin.push import PushStep

SCRIPT = Path(__file__).resolve().parent / "katello_push.rb"


def sync_container_gateway(katello, proxy_url, *, ca, cert=None, key=None, user=None,
                           password=None, timeout=300):
    """Push ``katello``'s state to the smart proxy at ``proxy_url``; the ``PushStep`` list sent
    (``status`` is None where no HTTP answer came)."""
    plan = {
        "url": proxy_url.rstrip("/"),
        "ca": str(ca),
        "cert": cert and str(cert),
        "key": key and str(key),
        "user": user,
        "password": password,
        "repository_list": katello.repository_list_payload(),
        "users": katello.user_mapping_payload(list(katello.users))["users"],
        "hosts": katello.hosts_payload()["hosts"],
        "host_repositories": katello.host_mapping_payload()["hosts"],
    }
    result = subprocess.run(["ruby", str(SCRIPT)], input=json.dumps(plan), capture_output=True,
                            text=True, timeout=timeout, check=True)
    steps = []
    for line in result.stdout.splitlines():
        method, path, outcome = line.split(" ", 2)
        steps.append(PushStep(method, path, int(outcome) if outcome.isdigit() else None))
    return steps


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m devtools.restclient", description=__doc__)
    parser.add_argument("url", help="the smart proxy's URL, e.g. https://host/pulp/api/v3/smart_proxy")
    parser.add_argument("--standin", required=True, help="the stand-in's control API URL")
    parser.add_argument("--ca", required=True, help="CA bundle verifying the smart proxy")
    parser.add_argument("--cert", help="Foreman's client certificate (PEM)")
    parser.add_argument("--key", help="its key")
    parser.add_argument("--user", help="a Pulp user, where no certificate is mapped")
    parser.add_argument("--password")
    args = parser.parse_args(argv)
    katello = Katello(requests.get(args.standin.rstrip("/") + "/state", timeout=30).json())
    for step in sync_container_gateway(katello, args.url, ca=args.ca, cert=args.cert,
                                       key=args.key, user=args.user, password=args.password):
        print(f"{step.method} {step.path} -> {step.status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
