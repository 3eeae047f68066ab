"""The screenshot itself: GET heatmap_screenshots/<id>/content?width=N."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from heatmap_app import heatmaps, storage
from heatmap_app.api import project_route
from heatmap_app.api.auth import require_api_key
from heatmap_app.api.serializers import serialize_heatmap
from heatmap_app.errors import APIError
from heatmap_app.models import HeatmapSnapshot, Project
from heatmap_app.models.base import MAX_INTEGER, parse_id

DEFAULT_CONTENT_WIDTH = 1024
# Short, because the nearest width served for a URL changes as widths land; the ETag makes revalidation cheap.
CONTENT_MAX_AGE = 60
# The width of the snapshot served, which is the requested one only when that width was captured.
SERVED_WIDTH_HEADER = "X-Screenshot-Width"


def _requested_width() -> int:
    raw = request.args.get("width")
    if raw is None:
        return DEFAULT_CONTENT_WIDTH
    width = parse_id(raw)  # any width past a screen's is served as the nearest one: an id's bounds do
    if width is None:
        raise APIError(400, f"width must be a whole number from 1 to {MAX_INTEGER}.", attr="width")
    return width


def send_snapshot(snapshot: HeatmapSnapshot) -> Response:
    response = storage.send_jpeg(
        storage.snapshot_file_path(snapshot), snapshot, etag=snapshot.content_hash, max_age=CONTENT_MAX_AGE
    )
    response.headers["Content-Disposition"] = f'inline; filename="screenshot-{snapshot.heatmap_id}-{snapshot.width}.jpg"'
    response.headers[SERVED_WIDTH_HEADER] = str(snapshot.width)
    return response


@project_route("/heatmap_screenshots/<heatmap_id>/content", methods=["GET"])
@require_api_key("heatmap:read")
def screenshot_content(project: Project, heatmap_id: str) -> Response | tuple[dict[str, Any], int]:
    width = _requested_width()
    heatmap = heatmaps.get_heatmap_by_id(project, heatmap_id)
    snapshot = None if heatmaps.width_pending(heatmap, width) else heatmaps.pick_snapshot(heatmap, width)
    if snapshot is None:
        # Also when failed: clients read status and exception from this body to stop polling.
        return serialize_heatmap(heatmap), 202
    return send_snapshot(snapshot)
