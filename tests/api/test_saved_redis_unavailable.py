"""The saved-heatmap API while Redis (queue and rate-limit counters) is down or refuses writes: 503 in the
API's error shape for what needs it, nothing written half-way, and reads still answered."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue
from sqlalchemy import update

from heatmap_app.errors import REDIS_UNAVAILABLE
from heatmap_app.extensions import db
from heatmap_app.heatmaps import STUCK_AFTER, requeue_stuck_captures
from heatmap_app.models import SavedHeatmap
from heatmap_app.models.base import utcnow
from heatmap_app.queue import CAPTURE_QUEUE
from tests.api.conftest import PAGE_URL, queued_captures
from tests.support.redis_server import RedisServer, redis_server


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    """The app's own Redis, for the test to take down."""
    with redis_server() as server:
        yield server


@pytest.fixture
def app_config(redis: RedisServer) -> dict[str, Any]:
    return {"REDIS_URL": redis.url}


def fresh(heatmap: SavedHeatmap) -> SavedHeatmap:
    db.session.expire_all()
    return db.session.get_one(SavedHeatmap, heatmap.id)


def assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.get_json() == {"type": "server_error", "code": "service_unavailable",
                                   "detail": REDIS_UNAVAILABLE, "attr": None}
    assert int(response.headers["Retry-After"]) > 0


@pytest.mark.parametrize("rate_limited", [True, False], ids=["with the create limit", "without it"])
def test_create_answers_503_and_saves_nothing(
    app: Flask, client: FlaskClient, write_headers, saved_url, redis: RedisServer, rate_limited: bool
) -> None:
    app.config["RATELIMIT_ENABLED"] = rate_limited
    redis.stop()

    response = client.post(saved_url(), json={"url": PAGE_URL, "widths": [1024]}, headers=write_headers)

    assert_unavailable(response)
    assert db.session.query(SavedHeatmap).count() == 0


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "{short_id}/regenerate/", None),
        ("patch", "{short_id}/", {"url": "https://93.184.216.34/new", "name": "New"}),
    ],
    ids=["regenerate", "a change that regenerates"],
)
def test_regenerating_answers_503_and_changes_nothing(
    client: FlaskClient, write_headers, saved_url, make_heatmap, add_snapshot, redis: RedisServer, method, path, body
) -> None:
    heatmap = make_heatmap(status="failed", exception="Timed out", name="Old")
    snapshot = add_snapshot(heatmap, 1024)
    redis.stop()

    url = saved_url(path.format(short_id=heatmap.short_id))
    response = getattr(client, method)(url, json=body, headers=write_headers)

    assert_unavailable(response)
    unchanged = fresh(heatmap)
    assert (unchanged.status, unchanged.exception, unchanged.capture_generation) == ("failed", "Timed out", 1)
    assert (unchanged.url, unchanged.name) == (PAGE_URL, "Old")
    assert [s.id for s in unchanged.snapshots] == [snapshot.id]


def test_reads_and_renames_need_no_redis(
    client: FlaskClient, read_headers, write_headers, saved_url, make_heatmap, redis: RedisServer
) -> None:
    stuck = make_heatmap(status="processing", age=timedelta(hours=1))  # a read would re-enqueue it if it could
    redis.stop()

    assert client.get(saved_url(f"{stuck.short_id}/"), headers=read_headers).get_json()["status"] == "processing"
    assert client.get(saved_url(), headers=read_headers).get_json()["count"] == 1
    renamed = client.patch(saved_url(f"{stuck.short_id}/"), json={"name": "Renamed"}, headers=write_headers)
    assert renamed.status_code == 200 and renamed.get_json()["name"] == "Renamed"


def test_a_job_redis_refuses_leaves_the_heatmap_processing_until_the_sweep_queues_it(
    client: FlaskClient, write_headers, saved_url, make_heatmap, redis: RedisServer
) -> None:
    heatmap = make_heatmap()
    connection = redis.client()
    connection.config_set("maxmemory", 1)  # full: Redis still answers, but refuses every write

    response = client.post(saved_url(f"{heatmap.short_id}/regenerate/"), headers=write_headers)

    assert response.status_code == 200 and response.get_json()["status"] == "processing"
    assert Queue(CAPTURE_QUEUE, connection=connection).count == 0
    connection.config_set("maxmemory", 0)
    db.session.execute(update(SavedHeatmap).where(SavedHeatmap.id == heatmap.id)
                       .values(capture_enqueued_at=utcnow() - STUCK_AFTER - timedelta(seconds=1)))
    db.session.commit()
    assert requeue_stuck_captures() == 1
    assert queued_captures(Queue(CAPTURE_QUEUE, connection=connection)) == [
        ("jobs.capture.capture_heatmap", heatmap.id, 2)
    ]
