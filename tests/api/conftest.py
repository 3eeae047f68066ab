"""Fixtures for the saved-heatmap API: heatmaps in a chosen state, real JPEG snapshots, the real capture queue."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from PIL import Image
from redis import Redis
from rq import Queue

from heatmap_app import storage
from heatmap_app.extensions import db
from heatmap_app.models import HeatmapSnapshot, Project, SavedHeatmap, User
from heatmap_app.models.base import utcnow
from heatmap_app.queue import CAPTURE_QUEUE
from tests.support.served import gunicorn  # noqa: F401  (a fixture)

# A public address written as an IP literal: safe for check_url and needs no DNS (the test machine has none).
PAGE_URL = "https://93.184.216.34/pricing"


def jpeg_bytes(width: int, height: int = 600, color: str = "steelblue") -> bytes:
    output = io.BytesIO()
    Image.new("RGB", (width, height), color).save(output, format="JPEG", quality=80)
    return output.getvalue()


@pytest.fixture
def project(user: User) -> Project:
    return user.current_project


@pytest.fixture
def read_headers(bearer: Any) -> dict[str, str]:
    return bearer("heatmap:read")


@pytest.fixture
def write_headers(bearer: Any) -> dict[str, str]:
    return bearer("heatmap:write")


@pytest.fixture
def saved_url(project: Project) -> Callable[[str], str]:
    """saved_url("abc/regenerate/") -> /api/projects/<id>/saved/abc/regenerate/"""
    return lambda rest="": f"/api/projects/{project.id}/saved/{rest}"


@pytest.fixture
def make_heatmap(user: User, project: Project) -> Callable[..., SavedHeatmap]:
    """A heatmap row in any state, written straight to the database (no capture, no rate limit)."""
    counter = iter(range(1, 1_000_000))

    def factory(
        *, owner: User | None = None, in_project: Project | None = None, age: timedelta = timedelta(0), **fields: Any
    ) -> SavedHeatmap:
        number = next(counter)
        created_at = utcnow() - age
        values: dict[str, Any] = {
            "short_id": f"hm{number:06d}",
            "name": f"Heatmap {number}",
            "url": PAGE_URL,
            "data_url": PAGE_URL,
            "target_widths": [320, 1024],
            "type": "screenshot",
            "status": "completed",
            "capture_generation": 1,
            "created_at": created_at,
            "updated_at": created_at,
            "capture_enqueued_at": created_at,
            **fields,
        }
        heatmap = SavedHeatmap(project=in_project or project, created_by=owner or user, **values)
        db.session.add(heatmap)
        db.session.commit()
        return heatmap

    return factory


@pytest.fixture
def add_snapshot() -> Callable[..., HeatmapSnapshot]:
    """Store a real JPEG for a heatmap at a width, the way the capture worker does."""

    def factory(heatmap: SavedHeatmap, width: int, color: str = "steelblue") -> HeatmapSnapshot:
        return storage.store_snapshot(heatmap, width, jpeg_bytes(width, color=color), page_height=600)

    return factory


@pytest.fixture
def capture_queue(redis_conn: Redis) -> Queue:
    return Queue(CAPTURE_QUEUE, connection=redis_conn)


def queued_captures(queue: Queue) -> list[tuple[Any, ...]]:
    """(function name, *args) of every job waiting in the real capture queue for a heatmap of this test.

    Jobs of heatmaps unknown to this test's database are another test run's sharing the Redis database.
    """
    return [
        (job.func_name, *job.args)
        for job in queue.get_jobs()
        if job.args and db.session.get(SavedHeatmap, job.args[0]) is not None
    ]
