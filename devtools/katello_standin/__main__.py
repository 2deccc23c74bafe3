"""``python -m devtools.katello_standin``: the stand-in in a process of its own (the demo's)."""

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from devtools.katello_standin.server import CONTROL_PREFIX, KatelloStandin


def main():
    parser = argparse.ArgumentParser(
        prog="python -m devtools.katello_standin",
        description="Serve a Katello stand-in (registry token/catalog, control API /_standin/).",
    )
    parser.add_argument("--port", type=int, default=24818)
    parser.add_argument("--control-port", type=int, default=24819,
                        help="the control API's own port, up while the stand-in is 'down'")
    parser.add_argument("--config", type=Path, help="JSON state (users, repositories, hosts)")
    args = parser.parse_args()

    config = json.loads(args.config.read_text()) if args.config else None
    standin = KatelloStandin(args.port, config=config, verbose=True,
                             control_port=args.control_port)
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    standin.start()
    print(f"Katello stand-in listening on {standin.url} (control API {CONTROL_PREFIX}, also at "
          f"{standin.control_url}, which stays up while it is 'down')", flush=True)
    try:
        while not done.wait(1):
            pass
    finally:
        standin.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
