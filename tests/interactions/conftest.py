"""Fixtures of the heatmap-data tests: posthog-js-shaped batches sent over the real HTTP path, saved heatmaps
with real screenshots, and pixel helpers for the painted PNGs."""

from __future__ import annotations

import gzip
import io
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from heatmap_app import storage
from heatmap_app.extensions import db
from heatmap_app.models import Project, SavedHeatmap, User
from heatmap_app.models.base import utcnow
from tests.web.conftest import LiveServer, browser, live_server, shared_chrome  # noqa: F401  (real browser, real port)

PAGE = "https://shop.example/pricing"
SHOT_COLOUR = (128, 128, 128)


def heatmap_event(
    items: list[dict[str, Any]] | None = None,
    *,
    url: str = PAGE,
    distinct_id: str = "visitor-1",
    width: int = 1440,
    height: int = 900,
    session_id: str = "session-1",
    timestamp: datetime | None = None,
    event: str = "$$heatmap",
    **properties: Any,
) -> dict[str, Any]:
    """An event as posthog-js sends it: `$heatmap_data` maps the page URL to its items."""
    props: dict[str, Any] = {
        "distinct_id": distinct_id, "$viewport_width": width, "$viewport_height": height, "$session_id": session_id,
        "$current_url": url, **properties,
    }
    if items is not None:
        props["$heatmap_data"] = {url: items}
    return {"uuid": str(uuid.uuid4()), "event": event, "properties": props,
            "timestamp": (timestamp or datetime.now(UTC)).isoformat()}


def click(x: float, y: float, *, fixed: bool = False, kind: str = "click") -> dict[str, Any]:
    return {"x": x, "y": y, "target_fixed": fixed, "type": kind}


@pytest.fixture
def project(user: User) -> Project:
    return user.current_project


@pytest.fixture
def send(client: FlaskClient, project: Project) -> Callable[..., Any]:
    """send(events) posts a batch to /i/v0/e/ as posthog-js does (gzip, text/plain); returns the response."""

    def post(events: list[dict[str, Any]], *, token: str | None = None, path: str = "/i/v0/e/",
             compress: bool = True) -> Any:
        body = json.dumps({"api_key": token or project.api_token, "batch": events,
                           "sent_at": datetime.now(UTC).isoformat()}).encode()
        if compress:
            return client.post(path, data=gzip.compress(body), content_type="text/plain")
        return client.post(path, data=body, content_type="application/json")

    return post


@pytest.fixture
def api_get(client: FlaskClient, bearer: Any, project: Project) -> Callable[..., Any]:
    """api_get("heatmaps/", type="click") -> the response of GET /api/projects/<id>/heatmaps/?type=click."""
    headers = bearer("heatmap:read")

    def get(path: str, **params: Any) -> Any:
        return client.get(f"/api/projects/{project.id}/{path}", query_string=params, headers=headers)

    return get


def jpeg(width: int, height: int) -> bytes:
    output = io.BytesIO()
    Image.new("RGB", (width, height), SHOT_COLOUR).save(output, format="JPEG", quality=95)
    return output.getvalue()


@pytest.fixture
def saved_heatmap(app: Flask, user: User, project: Project) -> Callable[..., SavedHeatmap]:
    """saved_heatmap(url, widths) -> a completed screenshot heatmap with a plain grey screenshot per width."""

    def make(url: str = PAGE, widths: tuple[int, ...] = (1440,), height: int = 2000, data_url: str | None = None,
             short_id: str = "pricing1") -> SavedHeatmap:
        heatmap = SavedHeatmap(project=project, created_by=user, short_id=short_id, name="Pricing", url=url,
                               data_url=data_url or url, target_widths=list(widths), status="completed",
                               capture_generation=1, capture_enqueued_at=utcnow())
        db.session.add(heatmap)
        db.session.commit()
        for width in widths:
            storage.store_snapshot(heatmap, width, jpeg(width, height), page_height=height, generation=1)
        return heatmap

    return make


def png_pixels(data: bytes) -> Image.Image:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return Image.open(io.BytesIO(data)).convert("RGB")


def distance(colour: tuple[int, ...], other: tuple[int, ...] = SHOT_COLOUR) -> int:
    return max(abs(a - b) for a, b in zip(colour, other, strict=False))


def poll(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Wait until condition() is truthy (reading the database afresh each time); its value."""
    deadline = time.monotonic() + timeout
    while True:
        db.session.rollback()
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)
