"""What nginx and Apache httpd in front of Pulp have in common here: one process in its own
state directory serving ``https://127.0.0.1:<port>``, a configuration written from the shipped
snippets and checked before start, and a graceful stop of exactly that process group."""

import os
import signal
import subprocess
from pathlib import Path

from devtools.net import free_port, wait_for_port


class WebServer:
    """Subclasses say how to write their configuration and run their binary."""

    name = "web server"
    config_name = "server.conf"
    stop_signal = signal.SIGTERM

    def __init__(self, state_dir, port=None):
        self.state = Path(state_dir).resolve()
        self.port = port or free_port()
        self.process = None

    @property
    def url(self):
        return f"https://127.0.0.1:{self.port}"

    @property
    def registry(self):
        return f"127.0.0.1:{self.port}"

    @property
    def config_path(self):
        return self.state / self.config_name

    def write_config(self):
        raise NotImplementedError

    def command(self, *args):
        """The binary with this configuration, and ``args``."""
        raise NotImplementedError

    def config_test(self):
        """The server's own configuration test (``-t``) of the written file: the finished
        process."""
        return subprocess.run(self.command("-t"), capture_output=True, text=True)

    def start(self, timeout=20, *foreground):
        self.state.mkdir(parents=True, exist_ok=True)
        self.write_config()
        tested = self.config_test()
        if tested.returncode != 0:
            raise RuntimeError(f"{self.name} -t refused {self.config_path}:\n{tested.stderr}")
        log = open(self.state / f"{self.name}.out", "ab")
        self.process = subprocess.Popen(
            self.command(*foreground), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        wait_for_port("127.0.0.1", self.port, timeout)
        return self

    def stop(self, timeout=10):
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, self.stop_signal)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
