"""Prometheus metrics (prometheus_client): what the web processes and the capture workers count, and the scrape.

Several processes count at once (gunicorn's workers, `flask worker`s), so with PROMETHEUS_MULTIPROC_DIR set —
one folder per machine, emptied before its processes start — each process writes its counts there and a scrape
adds them up (prometheus_client's multiprocess mode). gunicorn.conf.py and `flask worker` mark a process that
ended as dead. The queue's depth and the age of its oldest job are read from Redis at scrape time, so every
scrape of any web process tells the same.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from flask import Flask, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from redis.exceptions import RedisError
from rq.job import Job
from werkzeug.wrappers import Response

from heatmap_app.queue import CAPTURE_QUEUE, capture_queue

REQUESTS = Counter("heatmap_http_requests", "HTTP requests answered, by endpoint and status.",
                   ["method", "endpoint", "status"])
CAPTURES = Counter("heatmap_captures", "Capture jobs ended, by outcome and reason.", ["outcome", "reason"])
CAPTURE_SECONDS = Histogram("heatmap_capture_seconds", "Seconds from the start of a capture (or its previous width) "
                            "to a width's stored screenshot.", ["width"],
                            buckets=(0.5, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144))
BROWSER_RECYCLES = Counter("heatmap_browser_recycles", "Warm capture browsers replaced, by reason.", ["reason"])
GUARD_REFUSALS = Counter("heatmap_guard_refusals", "Requests of a capture browser the URL guard refused.")
POINTS_INGESTED = Counter("heatmap_data_points_ingested", "Heatmap data points stored from live sites.")


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
    if folder:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=folder)
    else:
        registry = CollectorRegistry()
        registry.register(_ProcessCounts())
    registry.register(QueueCollector(app))
    return registry


class _ProcessCounts(Collector):
    """This one process's counts, for an install without multiprocess mode (one process, or the tests)."""

    def collect(self) -> Iterator[Any]:
        yield from REGISTRY.collect()


def process_ended(folder: str | None, pid: int) -> None:
    """Tell multiprocess mode that `pid` ended: its live gauges go, its counts stay in the sums."""
    if folder:
        mark_process_dead(pid, folder)


def metrics_response() -> Response:
    registry = current_app.extensions.get("heatmap_metrics_registry")
    if registry is None:
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        registry = current_app.extensions["heatmap_metrics_registry"] = scrape_registry(app)
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def count_requests(app: Flask) -> None:
    @app.after_request
    def count(response: Response) -> Response:
        REQUESTS.labels(request.method, request.endpoint or "unmatched", str(response.status_code)).inc()
        return response
