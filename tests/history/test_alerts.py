"""What a run that changed the page sets off: the creator's mail (when SMTP is set) and the signed webhook's job."""

from __future__ import annotations

from email import message_from_bytes

from flask import Flask
from rq import Queue

from heatmap_app.models import User
from heatmap_app.queue import CAPTURE_QUEUE, redis_connection
from jobs.history import compare_run
from tests.support.mail import OneMailServer, mail_server  # noqa: F401  (a fixture)


def test_a_changed_run_mails_the_creator_and_queues_the_webhook(
    app: Flask, user: User, captured_run, mail_server: OneMailServer, site
) -> None:
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=mail_server.port, SMTP_STARTTLS=False)
    heatmap = captured_run(color="steelblue")
    captured_run(heatmap, color="orange")
    heatmap.change_webhook_url, heatmap.change_webhook_secret = site.url("hook"), "secret"
    heatmap_id, url, email = heatmap.id, heatmap.url, user.email

    assert compare_run(heatmap_id, 2) == "changed"

    mail_server.thread.join(timeout=10)
    mail = message_from_bytes(mail_server.message)
    assert mail_server.recipients == [email]
    assert "changed" in mail["Subject"] and url in mail.get_payload(decode=True).decode()
    queued = Queue(CAPTURE_QUEUE, connection=redis_connection()).jobs
    assert [(job.func_name, job.args) for job in queued if job.func_name.endswith("webhook")] == [
        ("jobs.history.send_change_webhook", (heatmap_id, 2))]


def test_an_unchanged_run_sends_nothing(app: Flask, captured_run, mail_server: OneMailServer) -> None:
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=mail_server.port, SMTP_STARTTLS=False)
    heatmap = captured_run(color="steelblue")
    captured_run(heatmap, color="steelblue")

    assert compare_run(heatmap.id, 2) == "unchanged"
    assert mail_server.recipients == []
