"""The teams service: invitations mailed through a real SMTP conversation when SMTP_HOST is set."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes

import pytest
from flask import Flask

from heatmap_app import teams
from heatmap_app.models import User


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


def test_an_invitation_is_mailed_when_smtp_is_set(app: Flask, user: User, mail_server: OneMailServer) -> None:
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=mail_server.port, SMTP_STARTTLS=False,
                      SMTP_FROM="heatmaps@example.com")
    record, raw = teams.invite(user.current_project.organization, user, "dan@example.com")

    sent = teams.send_invite_mail(record, f"http://heatmaps.example/invitations/{raw}")

    mail_server.thread.join(timeout=10)
    mail = message_from_bytes(mail_server.message)
    assert sent and record.emailed
    assert mail_server.recipients == ["dan@example.com"]
    assert mail["To"] == "dan@example.com" and "Analytical" in mail["Subject"]
    assert f"/invitations/{raw}" in mail.get_payload(decode=True).decode()


def test_a_mail_server_that_is_down_leaves_the_link_on_screen(app: Flask, user: User) -> None:
    with socket.socket() as held:  # bound, not listening: connections are refused
        held.bind(("127.0.0.1", 0))
        app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=held.getsockname()[1], SMTP_STARTTLS=False)
        record, raw = teams.invite(user.current_project.organization, user, "dan@example.com")

        assert teams.send_invite_mail(record, f"http://heatmaps.example/invitations/{raw}") is False
    assert record.emailed is False and teams.usable_invite(raw) == record


def test_without_smtp_nothing_is_mailed(app: Flask, user: User) -> None:
    record, raw = teams.invite(user.current_project.organization, user, "dan@example.com")

    assert teams.send_invite_mail(record, f"http://x/invitations/{raw}") is False
