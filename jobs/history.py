"""RQ jobs of the capture history: compare a completed run with the one before it, send the "page changed"
webhook, and start a scheduled recapture. Each takes ids, runs in the worker's app context, and ends with its
database session removed."""

from __future__ import annotations

from flask import current_app

from heatmap_app import heatmaps
from heatmap_app.extensions import db
from heatmap_app.mail import mail_enabled, send_mail
from heatmap_app.history.runs import record_change
from heatmap_app.history.schedule import schedule_recapture
from heatmap_app.history.schemas import ChangeWebhookPayload
from heatmap_app.history.webhooks import send_webhook
from heatmap_app.models import CaptureRun, SavedHeatmap
from heatmap_app.queue import enqueue_change_webhook
from heatmap_app.urlsafety import UnsafeURLError, parse_allow_hosts
from heatmap_app.worker import end_session
from jobs.capture import app_context


def _run(heatmap_id: str, generation: int) -> CaptureRun | None:
    db.session.expire_all()
    return db.session.query(CaptureRun).filter_by(heatmap_id=heatmap_id, generation=generation).one_or_none()


def compare_run(heatmap_id: str, generation: int) -> str:
    with app_context():
        try:
            run = _run(heatmap_id, generation)
            if run is None or run.status != "completed":
                return "gone"
            if not record_change(run):
                return "unchanged"
            if run.heatmap.change_webhook_url:
                enqueue_change_webhook(heatmap_id, generation)
            mail_change(run)
            return "changed"
        finally:
            end_session()


def mail_change(run: CaptureRun) -> bool:
    """Tell the heatmap's creator by mail, when SMTP_HOST is set; whether a mail went out."""
    heatmap = run.heatmap
    if heatmap.created_by is None or not mail_enabled():
        return False
    return send_mail(
        heatmap.created_by.email,
        f"The page changed: {heatmap.name or heatmap.url}",
        f"Capture #{run.generation} of {heatmap.url} differs from capture #{run.compared_with_generation} "
        f"on {run.changed_share * 100:.1f}% of the page (height {run.height_change:+d} px).\n\n"
        "Compare the two on the heatmap's History page.",
    )


def send_change_webhook(heatmap_id: str, generation: int) -> str:
    """Raises WebhookFailed for RQ to try again later; a URL that may not be called is given up at once."""
    with app_context():
        try:
            run = _run(heatmap_id, generation)
            heatmap = run.heatmap if run is not None else None
            if heatmap is None or heatmap.deleted or not heatmap.change_webhook_url:
                return "gone"
            allow_hosts = parse_allow_hosts(current_app.config["CAPTURE_ALLOW_HOSTS"])
            try:
                payload = ChangeWebhookPayload.of(run).model_dump(mode="json")
                send_webhook(heatmap.change_webhook_url, payload, heatmap.change_webhook_secret, allow_hosts)
            except UnsafeURLError as error:
                current_app.logger.warning("Change webhook of heatmap %s not sent: %s", heatmap_id, error)
                return "refused"
            return "sent"
        finally:
            end_session()


def recapture_heatmap(heatmap_id: str, schedule_version: int) -> str:
    """A scheduled occurrence: capture the heatmap again (a run triggered by "schedule") and queue the next one."""
    with app_context():
        try:
            db.session.expire_all()
            heatmap = db.session.get(SavedHeatmap, heatmap_id)
            if heatmap is None or heatmap.deleted or heatmap.schedule_version != schedule_version:
                return "superseded"
            if heatmap.recapture_frequency == "off" or heatmap.type != "screenshot":
                return "off"
            heatmaps.regenerate_heatmap(heatmap, trigger="schedule")
            schedule_recapture(heatmap)
            return "started"
        finally:
            end_session()
