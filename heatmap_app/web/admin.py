"""The admin's page of the capture queue: jobs waiting, workers, recent failures with a retry button."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from heatmap_app.admin import RetryError, queue_overview, retry_failed_job
from heatmap_app.web import web


def _require_admin() -> None:
    if not current_user.is_staff:
        abort(404)  # the page does not exist for anyone else


@web.get("/admin/queue")
@login_required
def admin_queue() -> str:
    _require_admin()
    return render_template("admin/queue.html", overview=queue_overview())


@web.post("/admin/queue/failed/<job_id>/retry")
@login_required
def admin_retry_job(job_id: str) -> Response:
    _require_admin()
    try:
        retry_failed_job(job_id)
    except RetryError:
        abort(404, "This job is not among the failed ones any more.")
    flash("The job is queued again.", "success")
    return redirect(url_for("web.admin_queue"))
