"""A throwaway redis-server of a test's own, on a free loopback port, to stop and start again (an outage)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

from redis import Redis
from redis.exceptions import RedisError


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """`redis-server` without persistence: a restart comes back empty, as Redis does after losing its data."""

    def __init__(self, address: str = "127.0.0.1") -> None:
        self.address = address
        self.port = free_port()
        self.url = f"redis://{address}:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def client(self) -> Redis:
        return Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=5)

    def start(self) -> None:
        executable = shutil.which("redis-server")
        assert executable, "redis-server is not installed"
        self._process = subprocess.Popen(
            [executable, "--bind", self.address, "--port", str(self.port), "--save", "", "--appendonly", "no",
             # Clients from other network namespaces come from a non-loopback address: let them in.
             "--protected-mode", "no" if self.address != "127.0.0.1" else "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                self.client().ping()
                return
            except RedisError:
                time.sleep(0.05)
        raise AssertionError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        """The outage: the server is killed outright, its data lost."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=10)
        self._process = None


@contextmanager
def redis_server(address: str = "127.0.0.1") -> Iterator[RedisServer]:
    server = RedisServer(address)
    server.start()
    try:
        yield server
    finally:
        server.stop()
