"""The teams service: invitations mailed through a real SMTP conversation when SMTP_HOST is set."""

from __future__ import annotations

import socket
from email import message_from_bytes

import pytest
from flask import Flask

from heatmap_app import teams
from heatmap_app.models import User
from tests.support.mail import OneMailServer, mail_server  # noqa: F401  (a fixture)


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
