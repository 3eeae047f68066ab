"""Heatmap data: PostHog's `heatmaps/` and `heatmaps/events/`, and our PNG export of a painted screenshot."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request

from heatmap_app import heatmaps, storage
from heatmap_app.api import api, project_route
from heatmap_app.api.auth import require_api_key
from heatmap_app.errors import api_error_response
from heatmap_app.interactions.overlay import NoScreenshot, overlay_data
from heatmap_app.interactions.query import heatmap, heatmap_events
from heatmap_app.interactions.render import png_response, render_png
from heatmap_app.interactions.schemas import (
    HeatmapEventsQuery,
    HeatmapQuery,
    InvalidQuery,
    OverlayQuery,
    validate_query,
)
from heatmap_app.models import Project

READ = "heatmap:read"
QUERY_MAX_AGE = 30  # PostHog's Cache-Control for heatmap queries


@api.errorhandler(InvalidQuery)
def _invalid_query(error: InvalidQuery) -> Response:
    return api_error_response(400, error.message, code="invalid_input", attr=error.field)


@api.errorhandler(NoScreenshot)
def _no_screenshot(error: NoScreenshot) -> Response:
    return api_error_response(404, "This heatmap has no screenshot yet.", code="not_found")


def _cached(body: dict[str, Any]) -> Response:
    response = current_app.json.response(body)
    response.headers["Cache-Control"] = f"max-age={QUERY_MAX_AGE}"
    response.vary.add("Authorization")
    return response


@project_route("/heatmaps/", methods=["GET"])
@require_api_key(READ)
def list_heatmap_data(project: Project) -> Response:
    query = validate_query(HeatmapQuery, request.args.to_dict())
    return _cached(heatmap(project, query).model_dump(mode="json"))


@project_route("/heatmaps/events/", methods=["GET"])
@require_api_key(READ)
def list_heatmap_events(project: Project) -> Response:
    query = validate_query(HeatmapEventsQuery, request.args.to_dict())
    return _cached(heatmap_events(project, query).model_dump(mode="json"))


@project_route("/heatmap_screenshots/<heatmap_id>/overlay", methods=["GET"])
@require_api_key(READ)
def screenshot_overlay(project: Project, heatmap_id: str) -> Response:
    """The screenshot painted with its heatmap data, as PNG (our extension to PostHog's API)."""
    query = validate_query(OverlayQuery, request.args.to_dict())
    saved = heatmaps.get_heatmap_by_id(project, heatmap_id)
    data, snapshot = overlay_data(saved, query)
    return png_response(saved, snapshot, render_png(storage.read_snapshot(snapshot), data, query.opacity), query)
