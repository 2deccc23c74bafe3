"""More pulpcore-api nodes over the functional stack's database and settings (conftest's
``api_nodes``): for tests of what one node does and another sees."""

from devtools.net import free_port, wait_until
from devtools.stack import PulpStack


class ApiNodes:
    def __init__(self, pulp):
        self.pulp = pulp
        self.stacks = {}

    def start(self, name, *, env=None, workers=2, timeout=90):
        port = free_port()
        # A stack object of its own over the same state (settings, keys, TLS, logs, database),
        # so that this node may run another number of workers.
        node = PulpStack(self.pulp.state, self.pulp.database, api_port=port,
                         api_workers=workers)
        node.start_api(name, port, env=env)
        self.stacks[name] = node
        session = self.pulp.session(auth=None)

        def ready():
            if node.processes[name].poll() is not None:
                raise RuntimeError(f"{name} exited: see {node.logs / (name + '.log')}")
            try:
                return session.get(f"{node.api_url}/pulp/api/v3/status/", timeout=5).ok
            except OSError:
                return False

        wait_until(ready, timeout, interval=0.3, what=f"API node {name}")
        return node.api_url

    def stop(self, name):
        node = self.stacks.pop(name, None)
        if node is not None:
            node.stop_process(name)

    def stop_all(self):
        for name in list(self.stacks):
            self.stop(name)
