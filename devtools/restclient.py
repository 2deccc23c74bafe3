"""Katello's capsule-sync push through Foreman's real HTTP client (Ruby RestClient 2.1).

``devtools/katello_push.rb`` does what ``ProxyAPI::Resource`` does; this feeds it the stand-in's
state as Katello's payloads and reads back what it sent.
"""

import json
import subprocess
from pathlib import Path

from devtools.katello_standin import PushStep

SCRIPT = Path(__file__).resolve().parent / "katello_push.rb"


def sync_container_gateway(katello, proxy_url, *, ca, cert=None, key=None, timeout=300):
    """Push ``katello``'s state to the smart proxy at ``proxy_url``; the ``PushStep`` list sent
    (``status`` is None where no HTTP answer came)."""
    plan = {
        "url": proxy_url.rstrip("/"),
        "ca": str(ca),
        "cert": cert and str(cert),
        "key": key and str(key),
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
