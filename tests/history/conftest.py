"""Fixtures of the history tests: the loopback site allowed through the URL guard, and heatmaps whose runs are
written the way the capture job writes them."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image

from heatmap_app import heatmaps, storage
from heatmap_app.models import SavedHeatmap, User
from jobs.capture import settle
from tests.support.site import Site


@pytest.fixture
def app_config(site: Site) -> dict[str, Any]:
    return {"CAPTURE_ALLOW_HOSTS": site.host, "HEATMAP_CREATE_RATE_LIMIT": "100/minute", "HEATMAP_RUNS_KEPT": 3}


def jpeg(width: int, color: str, height: int = 800) -> bytes:
    output = io.BytesIO()
    Image.new("RGB", (width, height), color).save(output, format="JPEG", quality=80)
    return output.getvalue()


@pytest.fixture
def captured_run(site: Site, user: User) -> Callable[..., SavedHeatmap]:
    """captured_run(heatmap=None, color=...) -> the heatmap after one more run, completed with a screenshot of that
    colour at each width, as the capture job stores and settles it (a new heatmap the first time)."""

    def run(heatmap: SavedHeatmap | None = None, *, color: str = "steelblue", widths: tuple[int, ...] = (320, 1024)
            ) -> SavedHeatmap:
        if heatmap is None:
            heatmap = heatmaps.create_heatmap(user.current_project, user,
                                              {"url": site.url("tall.html"), "widths": list(widths)})
        else:
            heatmaps.regenerate_heatmap(heatmap)
        for width in widths:
            storage.store_snapshot(heatmap, width, jpeg(width, color), 800, generation=heatmap.capture_generation)
        settle(heatmap.id, heatmap.capture_generation, exception=None)
        return heatmap

    return run
