"""The screenshot itself: GET heatmap_screenshots/<id>/content?width=N."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Response, request

from heatmap_app import heatmaps, storage
from heatmap_app.accounts import hash_api_key
from heatmap_app.api import project_route, recent
from heatmap_app.api.auth import bearer_key, require_api_key
from heatmap_app.api.saved import heatmap_json
from heatmap_app.errors import APIError
from heatmap_app.mediastores import MissingObject
from heatmap_app.models import HeatmapSnapshot, Project
from heatmap_app.models.base import MAX_INTEGER, parse_id

DEFAULT_CONTENT_WIDTH = 1024
# Short, because the nearest width served for a URL changes as widths land; the ETag makes revalidation cheap.
CONTENT_MAX_AGE = 60
# The width of the snapshot served, which is the requested one only when that width was captured.
SERVED_WIDTH_HEADER = "X-Screenshot-Width"


def requested_width() -> int:
    raw = request.args.get("width")
    if raw is None:
        return DEFAULT_CONTENT_WIDTH
    width = parse_id(raw)  # any width past a screen's is served as the nearest one: an id's bounds do
    if width is None:
        raise APIError(400, f"width must be a whole number from 1 to {MAX_INTEGER}.", attr="width")
    return width


@dataclass(frozen=True)
class ServedSnapshot:
    """What serving a snapshot needs, kept by `recent` without a database session."""

    key: str
    heatmap_id: str
    width: int
    content_hash: str
    created_at: datetime

    @classmethod
    def of(cls, snapshot: HeatmapSnapshot) -> ServedSnapshot:
        return cls(snapshot.file_path, snapshot.heatmap_id, snapshot.width, snapshot.content_hash, snapshot.created_at)

    def response(self) -> Response:
        """The JPEG; MissingObject when a newer capture has replaced it."""
        return storage.jpeg_response(
            self.key, self.created_at, etag=self.content_hash, max_age=CONTENT_MAX_AGE,
            headers={"Content-Disposition": f'inline; filename="screenshot-{self.heatmap_id}-{self.width}.jpg"',
                     SERVED_WIDTH_HEADER: str(self.width)},
        )


def send_snapshot(snapshot: HeatmapSnapshot) -> Response:
    return storage.send_jpeg(
        snapshot.file_path, snapshot, etag=snapshot.content_hash, max_age=CONTENT_MAX_AGE,
        headers={"Content-Disposition": f'inline; filename="screenshot-{snapshot.heatmap_id}-{snapshot.width}.jpg"',
                 SERVED_WIDTH_HEADER: str(snapshot.width)},
    )


@project_route("/heatmap_screenshots/<heatmap_id>/content", methods=["GET"])
def screenshot_content(project_id: str, heatmap_id: str) -> Response | tuple[dict[str, Any], int]:
    # A completed heatmap serves the same snapshot until it is edited, regenerated or deleted, and the key that
    # asked was valid for this project then: for API_KEY_CACHE_SECONDS this process answers the same request
    # from memory, as the key cache would, and looks again at once when the object was replaced.
    cache_key = (hash_api_key(bearer_key()), project_id, heatmap_id, request.args.get("width"))
    served: ServedSnapshot | None = recent.recall("content", cache_key)
    if served is not None:
        try:
            return served.response()
        except MissingObject:
            recent.forget("content", cache_key)
    return _resolve_content(project_id=project_id, heatmap_id=heatmap_id, cache_key=cache_key)


@require_api_key("heatmap:read")
def _resolve_content(project: Project, heatmap_id: str, cache_key: tuple[Any, ...]
                     ) -> Response | tuple[dict[str, Any], int]:
    width = requested_width()
    heatmap = heatmaps.get_heatmap_by_id(project, heatmap_id)
    snapshot = None if heatmaps.width_pending(heatmap, width) else heatmaps.pick_snapshot(heatmap, width)
    if snapshot is None:
        # Also when failed: clients read status and exception from this body to stop polling.
        return heatmap_json(heatmap), 202
    if heatmap.status == "completed":
        recent.remember("content", cache_key, ServedSnapshot.of(snapshot))
    return send_snapshot(snapshot)
