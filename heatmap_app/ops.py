"""The operator's endpoints: /healthz (the process answers), /readyz (its database, Redis and media store answer)
and /metrics (Prometheus). No login: keep them off the public side of the proxy (deploy/nginx).

A scrape adds up every process's counts (heatmap_app.metrics) and reads the queue's depth and the age of its
oldest job from Redis at scrape time, so every scrape of any web process tells the same.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, current_app
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from redis.exceptions import RedisError
from rq.job import Job
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from heatmap_app.extensions import db
from heatmap_app.mediastores import STORE_ERRORS
from heatmap_app.queue import CAPTURE_QUEUE, capture_queue, redis_connection
from heatmap_app.storage import media_store

ops = Blueprint("ops", __name__)


@ops.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _check_database() -> None:
    db.session.execute(text("SELECT 1"))
    db.session.rollback()


def _check_redis() -> None:
    redis_connection().ping()


CHECKS = {"database": (_check_database, SQLAlchemyError), "redis": (_check_redis, RedisError),
          "media_store": (lambda: media_store().check(), STORE_ERRORS)}


@ops.get("/readyz")
def readyz() -> tuple[dict[str, Any], int]:
    results: dict[str, str] = {}
    for name, (check, errors) in CHECKS.items():
        try:
            check()
        except errors as error:  # type: ignore[misc]
            results[name] = f"unavailable: {type(error).__name__}"
        else:
            results[name] = "ok"
    ready = all(result == "ok" for result in results.values())
    return {"status": "ready" if ready else "unavailable", "checks": results}, 200 if ready else 503


@ops.get("/metrics")
def metrics() -> Response:
    registry = current_app.extensions.get("heatmap_metrics_registry")
    if registry is None:
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        registry = current_app.extensions["heatmap_metrics_registry"] = scrape_registry(app)
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


class QueueCollector(Collector):
    """The capture queue as Redis has it now: jobs waiting, the age of the oldest, failed jobs kept."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self.app.app_context():
            try:
                queue = capture_queue()
                depth = queue.count
                oldest_ids = queue.get_job_ids(0, 1)
                oldest = Job.fetch_many(oldest_ids, connection=queue.connection)[0] if oldest_ids else None
                failed = queue.failed_job_registry.count
            except RedisError:
                return  # no queue numbers while Redis is away; /readyz says so
        enqueued_at = oldest.enqueued_at if oldest is not None else None
        age = max(0.0, time.time() - enqueued_at.timestamp()) if enqueued_at is not None else 0.0
        yield _gauge("heatmap_queue_depth", "Capture jobs waiting in the queue.", depth)
        yield _gauge("heatmap_queue_oldest_job_age_seconds", "Seconds the oldest waiting capture job has waited.", age)
        yield _gauge("heatmap_queue_failed_jobs", "Failed capture jobs kept for operators.", failed)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=["queue"])
    family.add_metric([CAPTURE_QUEUE], value)
    return family


def scrape_registry(app: Flask) -> CollectorRegistry:
    """What /metrics (and `flask metrics`) answers: every process of this machine's counts, and the queue."""
    folder = app.config["PROMETHEUS_MULTIPROC_DIR"]
    registry = CollectorRegistry()
    if folder:
        MultiProcessCollector(registry, path=folder)
    else:
        registry.register(_ProcessCounts())
    registry.register(QueueCollector(app))
    return registry


class _ProcessCounts(Collector):
    """This one process's counts, for an install without multiprocess mode (one process, or the tests)."""

    def collect(self) -> Iterator[Any]:
        yield from REGISTRY.collect()

