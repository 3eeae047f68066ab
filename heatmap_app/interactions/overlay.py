"""What a saved heatmap's screenshot is painted with: the heatmap data of its data_url near one width.

The detail page's overlay (static/js/overlay.js), its PNG export and the API's PNG all start here, from
the same queries as `heatmaps/`.
"""

from __future__ import annotations

import math

from heatmap_app import heatmaps
from heatmap_app.interactions.query import fold_summary, heatmap_points, scroll_depth
from heatmap_app.interactions.schemas import HeatmapQuery, OverlayData, OverlayQuery, glob_to_pattern
from heatmap_app.models import HeatmapSnapshot, SavedHeatmap

DEFAULT_OVERLAY_WIDTH = 1024  # as the content endpoint


class NoScreenshot(LookupError):
    """The heatmap has no screenshot yet to paint over."""


def data_filter(heatmap: SavedHeatmap) -> dict[str, str]:
    """The url_exact or url_pattern that selects a saved heatmap's data: its data_url, `*` as a wildcard."""
    data_url = heatmap.data_url or heatmap.url
    return {"url_pattern": glob_to_pattern(data_url)} if "*" in data_url else {"url_exact": data_url}


def viewport_range(width: int, tolerance_percent: int) -> tuple[int, int]:
    return math.floor(width * (100 - tolerance_percent) / 100), math.ceil(width * (100 + tolerance_percent) / 100)


def overlay_data(heatmap: SavedHeatmap, request: OverlayQuery) -> tuple[OverlayData, HeatmapSnapshot]:
    """The data to paint over the screenshot nearest `request.width`, and that screenshot."""
    snapshot = heatmaps.pick_snapshot(heatmap, request.width or DEFAULT_OVERLAY_WIDTH)
    if snapshot is None:
        raise NoScreenshot(heatmap.id)
    narrowest, widest = viewport_range(snapshot.width, request.width_tolerance)
    query = HeatmapQuery(
        type=request.type, date_from=request.date_from, date_to=request.date_to, aggregation=request.aggregation,
        viewport_width_min=narrowest, viewport_width_max=widest, limit=0,
        # A visit that never scrolled has its depth at (0, 0): it still counts for the fold line.
        hide_zero_coordinates=request.type != "scrolldepth", **data_filter(heatmap),
    )
    if request.type == "scrolldepth":
        buckets = scroll_depth(heatmap.project, query).results
        points, fold = [], fold_summary(heatmap.project, query)
        total = buckets[0].cumulative_count if buckets else 0
        max_count = max((bucket.bucket_count for bucket in buckets), default=0)
    else:
        result = heatmap_points(heatmap.project, query)
        buckets, points, fold = [], result.results, result.fold
        total = sum(point.count for point in points)
        max_count = max((point.count for point in points), default=0)
    data = OverlayData(
        type=request.type, aggregation=request.aggregation, snapshot_width=snapshot.width,
        snapshot_height=snapshot.height, viewport_width_min=narrowest, viewport_width_max=widest,
        date_from=query.date_from, date_to=query.date_to, data_url=heatmap.data_url or heatmap.url,
        points=points, scroll_depth=buckets, fold=fold, total=total, max_count=max_count,
    )
    return data, snapshot
