"""Prometheus metrics (prometheus_client): what the web processes and the capture workers count.

Several processes count at once (gunicorn's workers, `flask worker`s), so with PROMETHEUS_MULTIPROC_DIR set —
one folder per machine, emptied before its processes start — each process writes its counts there and a scrape
adds them up (prometheus_client's multiprocess mode; the scrape is heatmap_app.ops's). gunicorn.conf.py and
`flask worker` mark a process that ended as dead.
"""

from __future__ import annotations

from flask import Flask, request
from prometheus_client import Counter, Histogram
from prometheus_client.multiprocess import mark_process_dead
from werkzeug.wrappers import Response

REQUESTS = Counter("heatmap_http_requests", "HTTP requests answered, by endpoint and status.",
                   ["method", "endpoint", "status"])
CAPTURES = Counter("heatmap_captures", "Capture jobs ended, by outcome and reason.", ["outcome", "reason"])
CAPTURE_SECONDS = Histogram("heatmap_capture_seconds", "Seconds from the start of a capture (or its previous width) "
                            "to a width's stored screenshot.", ["width"],
                            buckets=(0.5, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144))
BROWSER_RECYCLES = Counter("heatmap_browser_recycles", "Warm capture browsers replaced, by reason.", ["reason"])
GUARD_REFUSALS = Counter("heatmap_guard_refusals", "Requests of a capture browser the URL guard refused.")
POINTS_INGESTED = Counter("heatmap_data_points_ingested", "Heatmap data points stored from live sites.")


def process_ended(folder: str | None, pid: int) -> None:
    """Tell multiprocess mode that `pid` ended: its live gauges go, its counts stay in the sums."""
    if folder:
        mark_process_dead(pid, folder)


def count_requests(app: Flask) -> None:
    @app.after_request
    def count(response: Response) -> Response:
        REQUESTS.labels(request.method, request.endpoint or "unmatched", str(response.status_code)).inc()
        return response
