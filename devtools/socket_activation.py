"""systemd's socket activation, for the tests and the demo: pulpcore-api and pulpcore-content on
Unix sockets made as install.md's socket units say.

``SocketUnit.from_text`` reads a ``.socket`` unit (``ListenStream``, ``SocketUser``,
``SocketMode``); ``listen()`` makes that socket, owned by that user (when run as root) with that
mode; ``command()`` wraps a server's command so that it gets the socket as systemd hands it over:
file descriptor 3, ``LISTEN_FDS=1`` and ``LISTEN_PID`` its own pid, which gunicorn takes instead
of its ``--bind``. Run as ``python devtools/socket_activation.py <fd> <command>...``, it is that
wrapper (by path: the server runs in its own directory, where ``devtools`` cannot be imported).
"""

import configparser
import os
import pwd
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

SD_LISTEN_FDS_START = 3


@dataclass
class SocketUnit:
    path: Path
    user: str | None = None
    mode: int = 0o666  # systemd's default SocketMode

    @classmethod
    def from_text(cls, text, path=None, user=None):
        """The unit in ``text``; ``path`` and ``user`` replace its ``ListenStream`` and
        ``SocketUser`` (a test's directory and user instead of /run and the web server's)."""
        unit = configparser.ConfigParser(strict=False, interpolation=None)
        unit.optionxform = str
        unit.read_string(text)
        section = unit["Socket"]
        return cls(
            Path(path or section["ListenStream"]),
            user or section.get("SocketUser"),
            int(section.get("SocketMode", "0666"), 8),
        )

    def listen(self):
        """The listening socket, at ``path``, owned by ``user`` if we may give it away."""
        self.path.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.path))
        if self.user and os.geteuid() == 0:
            os.chown(self.path, pwd.getpwnam(self.user).pw_uid, -1)
        os.chmod(self.path, self.mode)
        listener.listen(1024)
        return listener

    @staticmethod
    def command(listener, args):
        """``args`` run with ``listener`` handed over as systemd does (pass ``listener.fileno()``
        in ``pass_fds``)."""
        return [sys.executable, str(Path(__file__).resolve()), str(listener.fileno()), *args]


def main(fd, *args):
    os.dup2(int(fd), SD_LISTEN_FDS_START)
    if int(fd) != SD_LISTEN_FDS_START:
        os.close(int(fd))
    os.environ.update(LISTEN_FDS="1", LISTEN_PID=str(os.getpid()))
    os.execv(args[0], list(args))


if __name__ == "__main__":
    main(*sys.argv[1:])
