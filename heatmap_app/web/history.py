"""A saved heatmap's history pages: its runs, the comparison of two runs at a width (side by side, slider, diff),
the schedule form, and the images those pages load. The work is in heatmap_app.history, which the API calls too."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import login_required

from heatmap_app import heatmaps, storage
from heatmap_app.history.runs import (
    RunNotFound, diff_picture_response, get_run, list_runs, measure_runs, run_snapshot,
)
from heatmap_app.models import CaptureRun, SavedHeatmap
from heatmap_app.web import web
from heatmap_app.web.forms import ScheduleForm
from heatmap_app.web.heatmaps import IMAGE_MAX_AGE, heatmap_or_404

COMPARE_VIEWS = ("side", "slider", "diff")


def _run_or_404(heatmap: SavedHeatmap, generation: int) -> CaptureRun:
    try:
        return get_run(heatmap, generation)
    except RunNotFound:
        abort(404, "This capture is not in the heatmap's history (only the newest runs are kept).")


def _schedule_form(heatmap: SavedHeatmap, formdata: Any = None) -> ScheduleForm:
    return ScheduleForm(formdata=formdata, frequency=heatmap.recapture_frequency, hour=str(heatmap.recapture_hour),
                        weekday=str(heatmap.recapture_weekday), change_webhook_url=heatmap.change_webhook_url)


def _history_page(heatmap: SavedHeatmap, form: ScheduleForm, status: int = 200) -> tuple[str, int]:
    runs = list_runs(heatmap)
    completed = [run for run in runs if run.status == "completed"]
    return render_template("heatmaps/history.html", heatmap=heatmap, runs=runs, completed=completed,
                           schedule_form=form), status


@web.get("/heatmaps/<short_id>/history")
@login_required
def heatmap_history(short_id: str) -> tuple[str, int]:
    heatmap = heatmap_or_404(short_id)
    return _history_page(heatmap, _schedule_form(heatmap))


@web.post("/heatmaps/<short_id>/schedule")
@login_required
def heatmap_schedule(short_id: str) -> Response | tuple[str, int]:
    heatmap = heatmap_or_404(short_id)
    form = _schedule_form(heatmap, formdata=request.form)
    if form.validate():
        try:
            heatmaps.update_heatmap(heatmap, {
                "recapture": {"frequency": form.frequency.data, "hour": int(form.hour.data),
                              "weekday": int(form.weekday.data)},
                "change_webhook_url": form.change_webhook_url.data or None,
            })
        except heatmaps.HeatmapInputError as error:
            field = {"recapture": form.frequency, "change_webhook_url": form.change_webhook_url}.get(error.field or "")
            (field.errors if field is not None else form.form_errors).append(error.message)
        else:
            flash("Schedule saved.", "success")
            return redirect(url_for("web.heatmap_history", short_id=short_id))
    return _history_page(heatmap, form, 400)


@web.get("/heatmaps/<short_id>/runs/<int:generation>/<int:width>.jpg")
@login_required
def run_image(short_id: str, generation: int, width: int) -> Response:
    try:
        snapshot = run_snapshot(_run_or_404(heatmap_or_404(short_id), generation), width)
    except RunNotFound:
        abort(404, "That capture has no screenshot at this width.")
    if request.args.get("thumbnail"):
        return storage.send_jpeg(snapshot.thumbnail_path, snapshot,
                                 etag=f"thumb-{snapshot.content_hash}", max_age=IMAGE_MAX_AGE)
    return storage.send_jpeg(snapshot.file_path, snapshot, etag=snapshot.content_hash,
                             max_age=IMAGE_MAX_AGE)


def _common_widths(before: CaptureRun, after: CaptureRun) -> list[int]:
    def widths(run: CaptureRun) -> set[int]:
        return {snapshot.width for snapshot in run.snapshots if snapshot.has_content}

    return sorted(widths(before) & widths(after))


def _compared_runs(heatmap: SavedHeatmap) -> tuple[CaptureRun, CaptureRun, int]:
    """Runs `a` and `b` of the query string and the width to compare them at (the widest both have by default)."""
    before = _run_or_404(heatmap, request.args.get("a", type=int) or 0)
    after = _run_or_404(heatmap, request.args.get("b", type=int) or 0)
    common = _common_widths(before, after)
    if not common:
        abort(404, "These two captures have no width in common.")
    width = request.args.get("width", type=int)
    return before, after, width if width in common else common[-1]


@web.get("/heatmaps/<short_id>/compare")
@login_required
def heatmap_compare(short_id: str) -> str:
    heatmap = heatmap_or_404(short_id)
    before, after, width = _compared_runs(heatmap)
    view = request.args.get("view") if request.args.get("view") in COMPARE_VIEWS else "side"
    figure = measure_runs(before, after, width) if view == "diff" else None
    return render_template("heatmaps/compare.html", heatmap=heatmap, before=before, after=after, width=width,
                           widths=_common_widths(before, after), view=view, views=COMPARE_VIEWS, figure=figure,
                           before_shot=run_snapshot(before, width), after_shot=run_snapshot(after, width))


@web.get("/heatmaps/<short_id>/compare/diff.jpg")
@login_required
def heatmap_compare_picture(short_id: str) -> Response:
    heatmap = heatmap_or_404(short_id)
    return diff_picture_response(*_compared_runs(heatmap))
