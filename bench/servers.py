"""The servers a benchmark starts for itself (gunicorn, nginx): a free loopback port, the wait until one listens,
and the stop, for bench/content.py and bench/heatmap_data.py alike."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from contextlib import ExitStack

START_SECONDS = 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def listening(stack: ExitStack, server: subprocess.Popen[bytes], port: int, name: str,
              why_it_exited: Callable[[], str] = lambda: "") -> int:
    """`port` once `server` (stopped when `stack` closes) accepts connections on it; RuntimeError if it exits or
    does not listen within START_SECONDS."""
    stack.callback(stop, server)
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return port
        except OSError:
            if server.poll() is not None:
                raise RuntimeError(f"{name} exited with {server.returncode}{why_it_exited()}") from None
            time.sleep(0.2)
    raise RuntimeError(f"{name} did not start")
