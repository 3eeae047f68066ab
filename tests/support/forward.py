"""A TCP relay from an address other network namespaces reach to a service that listens on loopback only
(this machine's PostgreSQL): the same server, reached as another machine would reach it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, target):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@contextmanager
def tcp_forward(listen_address: str, target: tuple[str, int]) -> Iterator[int]:
    """Relay connections to `listen_address:<port>` (the port is yielded) to `target` until the block ends."""
    listener = socket.create_server((listen_address, 0))
    stop = threading.Event()
    connections: list[socket.socket] = []

    def accept() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(target)
            connections.extend((client, upstream))
            threading.Thread(target=_pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        try:
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accept()
        except OSError:
            pass
        listener.close()
        for connection in connections:
            connection.close()
