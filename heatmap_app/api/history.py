"""A saved heatmap's capture history (our extension, not in PostHog): its runs, a run's screenshot at a width, and
the difference of two runs at a width."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from heatmap_app import heatmaps, storage
from heatmap_app.api import api, project_route
from heatmap_app.api.auth import require_api_key
from heatmap_app.api.content import requested_width
from heatmap_app.errors import APIError, api_error_response
from heatmap_app.history.runs import (
    RunNotFound, diff_picture_response, get_run, list_runs, measure_runs, run_snapshot,
)
from heatmap_app.history.schemas import CaptureRunList, CaptureRunResponse, RunDiffResponse
from heatmap_app.models import Project
from heatmap_app.models.base import parse_id

READ = "heatmap:read"


@api.errorhandler(RunNotFound)
def _run_not_found(error: RunNotFound) -> Response:
    return api_error_response(404, "Not found.", code="not_found")


def _run_number(name: str) -> int:
    number = parse_id(request.args.get(name, ""))
    if number is None:
        raise APIError(400, f"{name} must be a run number.", attr=name)
    return number


@project_route("/saved/<short_id>/runs/", methods=["GET"])
@require_api_key(READ)
def list_saved_runs(project: Project, short_id: str) -> dict[str, Any]:
    runs = [CaptureRunResponse.of(run) for run in list_runs(heatmaps.get_heatmap(project, short_id))]
    return CaptureRunList(count=len(runs), results=runs).model_dump(mode="json")


@project_route("/saved/<short_id>/runs/<int:number>/content", methods=["GET"])
@require_api_key(READ)
def saved_run_content(project: Project, short_id: str, number: int) -> Response:
    snapshot = run_snapshot(get_run(heatmaps.get_heatmap(project, short_id), number), requested_width())
    return storage.send_jpeg(
        snapshot.file_path, snapshot, etag=snapshot.content_hash, max_age=3600,
        headers={"Content-Disposition": f'inline; filename="screenshot-{short_id}-{number}-{snapshot.width}.jpg"'},
    )


@project_route("/saved/<short_id>/runs/diff", methods=["GET"])
@require_api_key(READ)
def saved_runs_diff(project: Project, short_id: str) -> Response | dict[str, Any]:
    """The highlight JPEG (figures in X-Heatmap-* headers), or with format=json the figures alone."""
    heatmap = heatmaps.get_heatmap(project, short_id)
    before, after = get_run(heatmap, _run_number("a")), get_run(heatmap, _run_number("b"))
    width = requested_width()
    if request.args.get("format") == "json":
        figure = measure_runs(before, after, width)
        return RunDiffResponse(before=before.generation, after=after.generation, width=width,
                               changed_share=round(figure.changed_share, 4), height_before=figure.height_before,
                               height_after=figure.height_after, height_change=figure.height_change
                               ).model_dump(mode="json")
    return diff_picture_response(before, after, width)
