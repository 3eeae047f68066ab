"""A loopback SMTP server for the tests of mail the app sends: it takes one conversation and keeps the message."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest


class OneMailServer:
    """A loopback SMTP server that takes one conversation and keeps the message it was given."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.message = b""
        self.recipients: list[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        connection, _ = self.listener.accept()
        with connection, connection.makefile("rb") as lines:
            connection.sendall(b"220 test ESMTP\r\n")
            for line in lines:
                command = line.strip().upper()
                if command.startswith((b"EHLO", b"HELO")):
                    connection.sendall(b"250 test\r\n")
                elif command.startswith(b"RCPT TO:"):
                    self.recipients.append(line.strip()[8:].strip(b"<> ").decode())
                    connection.sendall(b"250 ok\r\n")
                elif command == b"DATA":
                    connection.sendall(b"354 go on\r\n")
                    for body_line in lines:
                        if body_line == b".\r\n":
                            break
                        self.message += body_line
                    connection.sendall(b"250 queued\r\n")
                elif command == b"QUIT":
                    connection.sendall(b"221 bye\r\n")
                    return
                else:
                    connection.sendall(b"250 ok\r\n")


@pytest.fixture
def mail_server() -> Iterator[OneMailServer]:
    server = OneMailServer()
    yield server
    server.listener.close()
