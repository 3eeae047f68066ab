"""What the real `flask worker` counts for Prometheus (multiprocess mode, one folder per machine): captures by
outcome and reason, seconds per width, browser recycles and the guard's refusals — read back through /metrics."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from heatmap_app.heatmaps import create_heatmap
from heatmap_app.models import User
from tests.support.workers import finish, reload
from tests.test_ops import sample

pytestmark = pytest.mark.browser


def test_the_worker_counts_captures_widths_recycles_and_refusals_where_metrics_finds_them(
    make_app, app: Flask, site, start_worker, user: User, tmp_path: Path
) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    captured = create_heatmap(user.current_project, user, {"url": site.url("internal-image.html"),
                                                           "widths": [375, 1024]})
    missing = create_heatmap(user.current_project, user, {"url": site.url("no-such-page.html"), "widths": [1024]})

    finish(start_worker(PROMETHEUS_MULTIPROC_DIR=str(folder), CAPTURE_BROWSER_RECYCLE_AFTER="1"))

    assert reload(captured.id).status == "completed" and reload(missing.id).status == "failed"
    scraper = make_app(PROMETHEUS_MULTIPROC_DIR=str(folder))
    text = scraper.test_client().get("/metrics").get_data(as_text=True)
    assert sample(text, "heatmap_captures_total", outcome="completed", reason="") == 1
    assert sample(text, "heatmap_captures_total", outcome="failed", reason="permanent") == 1
    for width in ("375", "1024"):
        assert sample(text, "heatmap_capture_seconds_count", width=width) == 1
        assert sample(text, "heatmap_capture_seconds_sum", width=width) > 0
    assert sample(text, "heatmap_guard_refusals_total") >= 1  # the image on 10.0.0.1, at each width's load
    assert sample(text, "heatmap_browser_recycles_total", reason="max_jobs") == 1  # after the one completed job
    assert sample(text, "heatmap_browser_recycles_total", reason="error") == 1  # the 404 ends its browser
