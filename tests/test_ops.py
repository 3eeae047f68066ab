"""The operator's endpoints through real HTTP (gunicorn): /healthz, /readyz naming what is down, and /metrics
adding up the counts of several gunicorn workers (prometheus_client's multiprocess mode)."""

from __future__ import annotations

import gzip
import json
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from flask import Flask

from heatmap_app.models import User
from heatmap_app.queue import capture_queue, enqueue_capture
from tests.conftest import TEST_REDIS_URL
from tests.support.gunicorn import Served, app_environment, serve_with_gunicorn
from tests.support.redis_server import redis_server
from tests.support.s3_server import s3_server


def sample(metrics_text: str, name: str, **labels: str) -> float:
    """The value of one sample of a Prometheus text exposition (0 when it is absent)."""
    for line in metrics_text.splitlines():
        match = re.fullmatch(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
        if found == labels:
            return float(match.group(3))
    return 0.0


@pytest.fixture
def environment(app: Flask, tmp_path: Path) -> dict[str, str]:
    return app_environment(database_url=app.config["SQLALCHEMY_DATABASE_URI"], redis_url=TEST_REDIS_URL,
                           media_root=app.config["MEDIA_ROOT"], secret_key=app.config["SECRET_KEY"])


def test_healthz_answers_while_readyz_names_the_redis_and_the_media_store_that_went_away(
    environment: dict[str, str]
) -> None:
    with redis_server() as redis, s3_server() as s3:
        settings = {name: str(value) for name, value in s3.settings("ready").items()}
        with serve_with_gunicorn({**environment, **settings, "REDIS_URL": redis.url}, workers=1) as served:
            ready = requests.get(f"{served.base_url}/readyz", timeout=10)
            assert ready.status_code == 200
            assert ready.json() == {"status": "ready",
                                    "checks": {"database": "ok", "redis": "ok", "media_store": "ok"}}

            redis.stop()
            s3.stop()

            alive = requests.get(f"{served.base_url}/healthz", timeout=10)
            unready = requests.get(f"{served.base_url}/readyz", timeout=30)
    assert alive.status_code == 200 and alive.json() == {"status": "ok"}
    assert unready.status_code == 503
    body = unready.json()
    assert body["status"] == "unavailable" and body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("unavailable") and body["checks"]["media_store"].startswith("unavailable")


@pytest.fixture
def multiprocess_server(environment: dict[str, str], tmp_path: Path) -> Iterator[tuple[Served, Path]]:
    folder = tmp_path / "metrics"
    folder.mkdir()
    with serve_with_gunicorn({**environment, "PROMETHEUS_MULTIPROC_DIR": str(folder)}, workers=3) as served:
        yield served, folder


def test_metrics_add_up_every_gunicorn_worker_and_read_the_queue_from_redis(
    app: Flask, user: User, multiprocess_server: tuple[Served, Path]
) -> None:
    served, folder = multiprocess_server
    for _ in range(30):
        with requests.Session() as fresh:  # a new connection each time: any worker may answer
            assert fresh.get(f"{served.base_url}/healthz", timeout=10).status_code == 200
    batch = {"api_key": user.current_project.api_token, "sent_at": datetime.now(UTC).isoformat(), "batch": [{
        "uuid": str(uuid.uuid4()), "event": "$$heatmap", "timestamp": datetime.now(UTC).isoformat(),
        "properties": {"distinct_id": "visitor-1", "$viewport_width": 1280, "$viewport_height": 800,
                       "$session_id": "s1", "$current_url": "https://shop.example/",
                       "$heatmap_data": {"https://shop.example/": [
                           {"x": 10 * n, "y": 20, "target_fixed": False, "type": "click"} for n in range(1, 4)]}},
    }]}
    ingested = requests.post(f"{served.base_url}/i/v0/e/", data=gzip.compress(json.dumps(batch).encode()),
                             headers={"Content-Type": "text/plain"}, timeout=10)
    assert ingested.status_code == 200, ingested.text
    waiting_before = capture_queue().count  # the ingestion queued its hourly purge
    enqueue_capture(str(uuid.uuid4()), 1)
    enqueue_capture(str(uuid.uuid4()), 1)
    time.sleep(1.2)

    scrapes = [requests.get(f"{served.base_url}/metrics", timeout=10) for _ in range(6)]

    writers = {path.name.rsplit("_", 1)[1] for path in folder.glob("counter_*.db")}
    assert len(writers) >= 2, "the requests should have been spread over several gunicorn workers"
    for scrape in scrapes:
        assert scrape.status_code == 200 and scrape.headers["Content-Type"].startswith("text/plain")
        text = scrape.text
        assert sample(text, "heatmap_http_requests_total", method="GET", endpoint="ops.healthz", status="200") == 30
        assert sample(text, "heatmap_data_points_ingested_total") == 3
        assert sample(text, "heatmap_queue_depth", queue="captures") == waiting_before + 2
        assert sample(text, "heatmap_queue_oldest_job_age_seconds", queue="captures") >= 1
