"""Loopback port and socket helpers shared by the test stack, the demo and the benchmarks."""

import http.client
import socket
import time


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(host, port):
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_for_port(host, port, timeout):
    deadline = time.monotonic() + timeout
    while not port_open(host, port):
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")
        time.sleep(0.1)


def wait_until(predicate, timeout, interval=0.2, what="condition"):
    """Poll ``predicate`` until it returns a truthy value or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def unix_http_status(path, request_path, timeout=5):
    """The status of a GET of ``request_path`` from the HTTP server on the Unix socket ``path``,
    or None while it does not answer (as when the server behind a socket unit is starting)."""
    connection = http.client.HTTPConnection("localhost", timeout=timeout)
    connection.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.sock.settimeout(timeout)
    try:
        connection.sock.connect(str(path))
        connection.request("GET", request_path)
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()
