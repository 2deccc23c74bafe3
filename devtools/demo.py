"""The local demo: Pulp + this plugin + the Katello stand-in on loopback, with sample images.

Pulp is laid out as install.md says: pulpcore-api and pulpcore-content on Unix sockets only
nginx's workers may open, nginx in front on the API port (TLS, Pulp's locations, both snippets),
install.md's settings.

``python -m devtools.demo start`` (``make demo``) runs in the foreground until Ctrl-C or
``python -m devtools.demo stop`` (``make demo-stop``); both stop exactly the processes it started.
State lives in ``.demo/`` (override with ``DEMO_DIR``) and is reused by the next start.
Ports: ``DEMO_API_PORT`` (24817, nginx), ``DEMO_KATELLO_PORT`` (24818),
``DEMO_KATELLO_CONTROL_PORT`` (24819, the stand-in's control API).
Every ``PULP_*`` variable of the caller's environment reaches the Pulp services.
"""

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from devtools.clients import KATELLO_PUSH_PATH, Skopeo
from devtools.net import port_open, wait_for_port
from devtools.oci import build_image
from devtools.pg import Cluster
from devtools.stack import PulpStack, wait_pid_gone

ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = Path(os.environ.get("DEMO_DIR", ROOT / ".demo")).resolve()
PIDS = DEMO_DIR / "pids.json"
API_PORT = int(os.environ.get("DEMO_API_PORT", 24817))
KATELLO_PORT = int(os.environ.get("DEMO_KATELLO_PORT", 24818))
KATELLO_CONTROL_PORT = int(os.environ.get("DEMO_KATELLO_CONTROL_PORT", 24819))

# Katello's view of the world: who exists, which repositories need a login, who may pull what.
KATELLO_CONFIG = {
    "repositories": {
        "acme-production-web": {"auth_required": True},
        "acme-library-public": {"auth_required": False},
    },
    "users": {
        "alice": {"password": "alice-demo-password", "repositories": ["acme-production-web"]},
        "bob": {"password": "bob-demo-password", "pat": "bob-demo-personal-access-token",
                "repositories": []},
    },
    "hosts": {},
}


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not wait_pid_gone(pid, timeout=0)


def _running():
    if not PIDS.exists():
        return None
    pids = json.loads(PIDS.read_text())
    return pids if _alive(pids["demo"]) else None


def start():
    if _running():
        print(f"The demo is already running; its settings are in {DEMO_DIR / 'env'}:\n")
        print((DEMO_DIR / "env").read_text())
        return 0
    stop(quiet=True)  # leftovers of a demo that did not shut down cleanly
    for port in (API_PORT, KATELLO_PORT, KATELLO_CONTROL_PORT):
        if port_open("127.0.0.1", port):
            print(f"Port {port} is in use by another program; set DEMO_*_PORT to move the demo.")
            return 1
    DEMO_DIR.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(DEMO_DIR / "postgres")
    children = {}
    stack = None
    stopping = []

    def on_signal(signum, frame):
        stopping.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        print("Starting PostgreSQL ...", flush=True)
        database = cluster.start().renamed("pulp")
        _write_pids(cluster, children, stack)
        config = DEMO_DIR / "katello.json"
        config.write_text(json.dumps(KATELLO_CONFIG, indent=2))
        katello_log = open(DEMO_DIR / "katello-standin.log", "ab")
        children["katello"] = subprocess.Popen(
            [sys.executable, "-m", "devtools.katello_standin", "--port", str(KATELLO_PORT),
             "--control-port", str(KATELLO_CONTROL_PORT), "--config", str(config)],
            cwd=ROOT, stdout=katello_log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        wait_for_port("127.0.0.1", KATELLO_PORT, timeout=20)
        katello_url = f"http://127.0.0.1:{KATELLO_PORT}"
        stack = PulpStack(
            DEMO_DIR / "pulp",
            database,
            api_port=API_PORT,
            settings={"KATELLO_GATEWAY_FOREMAN_URL": katello_url},
            behind_web_server=True,
        )
        print("Migrating the database (first run takes ~20 s) ...", flush=True)
        stack.prepare()
        print("Starting pulpcore-api and pulpcore-content on Unix sockets, pulpcore-worker, and "
              "nginx in front ...", flush=True)
        stack.start()
        _write_pids(cluster, children, stack)
        print("Pushing the sample image ...", flush=True)
        layout = DEMO_DIR / "sample-image"
        digest = build_image(layout, text="hello from the pulp_katello_gateway demo\n")
        skopeo = Skopeo(stack.certs_dir, DEMO_DIR)
        for repo in KATELLO_CONFIG["repositories"]:
            skopeo.copy(f"oci:{layout}:latest", f"docker://{stack.registry}/{repo}:latest",
                        dest_creds=stack.admin_auth)
        print("Pushing Katello's repositories and access lists (a capsule sync) ...", flush=True)
        user, password = stack.admin_auth
        pushed = requests.post(
            f"{katello_url}/_standin/push",
            json={"url": stack.api_url + KATELLO_PUSH_PATH, "user": user, "password": password,
                  "ca": str(stack.ca_file)},
            timeout=60,
        ).json()
        for method, path, status in pushed["results"]:
            print(f"  {method} {path} -> {status}")
        env = _write_env(stack, katello_url)
        _print_instructions(stack, env, digest)
        while True:
            for name, proc in {**children, **stack.processes}.items():
                if proc.poll() is not None:
                    print(f"{name} exited with {proc.returncode}; stopping the demo "
                          f"(logs in {stack.logs}).")
                    raise KeyboardInterrupt
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nStopping the demo ...", flush=True)
        return 0
    finally:
        if stack is not None:
            stack.stop()
        for proc in children.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(10)
        cluster.stop()
        PIDS.unlink(missing_ok=True)
        print("Demo stopped.")


def _write_pids(cluster, children, stack):
    pids = {"demo": os.getpid(), "postgres_data": str(cluster.data)}
    pids.update({name: proc.pid for name, proc in children.items()})
    if stack is not None:
        pids.update(stack.pids())
    PIDS.write_text(json.dumps(pids))


def _write_env(stack, katello_url):
    user, password = stack.admin_auth
    env = {
        "DEMO_REGISTRY": stack.registry,
        "DEMO_API_URL": stack.api_url,
        "DEMO_CONTENT_URL": stack.content_url,
        "DEMO_KATELLO_URL": katello_url,
        "DEMO_KATELLO_CONTROL": f"http://127.0.0.1:{KATELLO_CONTROL_PORT}/_standin/",
        "DEMO_SMART_PROXY_URL": f"{stack.api_url}/pulp/api/v3/smart_proxy",
        "DEMO_CA": str(stack.ca_file),
        "DEMO_CERTS_DIR": str(stack.certs_dir),
        "DEMO_ADMIN_USER": user,
        "DEMO_ADMIN_PASSWORD": password,
        "DEMO_USER": "alice",
        "DEMO_PASSWORD": KATELLO_CONFIG["users"]["alice"]["password"],
        "DEMO_PAT_USER": "bob",
        "DEMO_PAT": KATELLO_CONFIG["users"]["bob"]["pat"],
        "DEMO_SETTINGS": str(stack.settings_path),
        "DEMO_API_SOCKET": str(stack.api_socket),
        "DEMO_PYTHON": sys.executable,
        "DEMO_PULP": str(Path(sys.executable).with_name("pulp")),  # pulp-cli, with our plugin
    }
    (DEMO_DIR / "env").write_text(
        "".join(f"export {key}={shlex.quote(value)}\n" for key, value in env.items())
    )
    return env


def _print_instructions(stack, env, digest):
    print(
        f"""
The demo is running (Ctrl-C or `make demo-stop` stops it).
  Pulp API, registry and content app, through nginx: {stack.api_url}
  pulpcore-api's socket, which only nginx's workers may open: {env['DEMO_API_SOCKET']}
  Katello stand-in:      {env['DEMO_KATELLO_URL']}
  Settings for your shell: source {DEMO_DIR / 'env'}

Katello says: acme-library-public is open to everyone; acme-production-web needs a login and
alice (password) may pull it; bob (personal access token) may not. Try, in another shell:

  source {DEMO_DIR / 'env'}
  curl --cacert $DEMO_CA $DEMO_API_URL/pulp/api/v3/status/

  # around nginx, nobody: another local user cannot open Pulp's socket (as root: runuser)
  runuser -u nobody -- curl --unix-socket $DEMO_API_SOCKET http://localhost/pulp/api/v3/status/

  # anyone: the public repository yes, the protected one no
  skopeo inspect --cert-dir $DEMO_CERTS_DIR --no-creds docker://$DEMO_REGISTRY/acme-library-public
  skopeo inspect --cert-dir $DEMO_CERTS_DIR --no-creds docker://$DEMO_REGISTRY/acme-production-web

  # alice logs in with her Foreman password (Foreman is asked once, then the login is cached)
  podman login --cert-dir $DEMO_CERTS_DIR -u "$DEMO_USER" -p "$DEMO_PASSWORD" $DEMO_REGISTRY
  skopeo copy --src-cert-dir $DEMO_CERTS_DIR --src-creds "$DEMO_USER:$DEMO_PASSWORD" \\
      docker://$DEMO_REGISTRY/acme-production-web:latest oci:/tmp/demo-pull:latest
  podman search --tls-verify=false $DEMO_REGISTRY/acme

  # pulp-cli (docs/admin/guides/cli.md): why alice may pull it, who pulled the sample image
  export REQUESTS_CA_BUNDLE=$DEMO_CA
  $DEMO_PULP --base-url $DEMO_API_URL --username "$DEMO_ADMIN_USER" \\
      --password "$DEMO_ADMIN_PASSWORD" katello-gateway explain \\
      --repository acme-production-web --login alice
  $DEMO_PULP --base-url $DEMO_API_URL --username "$DEMO_ADMIN_USER" \\
      --password "$DEMO_ADMIN_PASSWORD" katello-gateway pulls --digest {digest}

  # bob logs in with a personal access token, but has no grant for the protected repository
  skopeo inspect --cert-dir $DEMO_CERTS_DIR --creds "$DEMO_PAT_USER:$DEMO_PAT" \\
      docker://$DEMO_REGISTRY/acme-production-web

  # the Pulp admin can push; Foreman users cannot
  skopeo copy --dest-cert-dir $DEMO_CERTS_DIR \\
      --dest-creds "$DEMO_ADMIN_USER:$DEMO_ADMIN_PASSWORD" \\
      oci:{DEMO_DIR / 'sample-image'}:latest docker://$DEMO_REGISTRY/acme-new:latest

  # what Katello pushed, through the Pulp API
  curl --cacert $DEMO_CA -u "$DEMO_ADMIN_USER:$DEMO_ADMIN_PASSWORD" \\
      $DEMO_API_URL/pulp/api/v3/katello_gateway/repositories/

  # Pulp as Foreman's smart proxy (pulp-smart-proxy): Foreman sees the Container_Gateway feature
  curl --cacert $DEMO_CA -u "$DEMO_ADMIN_USER:$DEMO_ADMIN_PASSWORD" \\
      $DEMO_SMART_PROXY_URL/v2/features

  # a capsule sync as Katello sends it, with Foreman's HTTP client (Ruby RestClient), to the
  # smart proxy's URL (a capsule uses Foreman's certificate: --cert/--key instead of a user)
  (cd {ROOT} && $DEMO_PYTHON -m devtools.restclient --standin $DEMO_KATELLO_CONTROL \\
      --ca $DEMO_CA \\
      --user "$DEMO_ADMIN_USER" --password "$DEMO_ADMIN_PASSWORD" $DEMO_SMART_PROXY_URL)
""",
        flush=True,
    )


def stop(quiet=False):
    """Stop the running demo (or what a crashed one left behind), by the PIDs it recorded."""
    if not PIDS.exists():
        if not quiet:
            print("The demo is not running.")
        return 0
    pids = json.loads(PIDS.read_text())
    demo = pids.pop("demo")
    data = pids.pop("postgres_data")
    if _alive(demo):
        os.kill(demo, signal.SIGTERM)
        if wait_pid_gone(demo, timeout=60):
            return 0
    for pid in pids.values():
        if _alive(pid):
            os.killpg(pid, signal.SIGTERM)
            wait_pid_gone(pid)
    cluster = Cluster(Path(data).parent)
    cluster.stop()
    PIDS.unlink(missing_ok=True)
    if not quiet:
        print("Demo stopped.")
    return 0


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "start"
    if command not in ("start", "stop"):
        sys.exit("usage: python -m devtools.demo [start|stop]")
    sys.exit(start() if command == "start" else stop())
