"""Mail, sent only when SMTP_HOST is set: invitation links, and "page changed" alerts."""

from __future__ import annotations

import smtplib
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any

from flask import current_app


def mail_enabled() -> bool:
    return bool(current_app.config.get("SMTP_HOST"))


def send_mail(to: str, subject: str, body: str) -> bool:
    """Whether the mail went out. A mail server that fails is logged, not raised: every mail is a courtesy, what it
    says is on the app's own pages too."""
    config: Mapping[str, Any] = current_app.config
    if not mail_enabled():
        return False
    message = EmailMessage()
    message["From"] = config["SMTP_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    try:
        with smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"], timeout=10) as smtp:
            if config.get("SMTP_STARTTLS"):
                smtp.starttls()
            if config.get("SMTP_USERNAME"):
                smtp.login(config["SMTP_USERNAME"], config["SMTP_PASSWORD"])
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        current_app.logger.warning("Mail to %s not sent: %s", to, error)
        return False
    return True
