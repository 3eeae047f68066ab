"""Template filters of the web UI."""

from __future__ import annotations

from datetime import datetime

from heatmap_app.models import SavedHeatmap
from heatmap_app.models.base import utcnow
from heatmap_app.web import web

TIME_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60))


@web.app_template_filter()
def timesince(moment: datetime) -> str:
    """'just now', '5 minutes ago', '2 days ago'; past a month, the date."""
    seconds = (utcnow() - moment).total_seconds()
    if seconds >= 30 * 86400:
        return moment.strftime("%-d %b %Y")
    for unit, size in TIME_UNITS:
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "just now"


HEADING_URL_LENGTH = 60


@web.app_template_filter()
def heading(heatmap: SavedHeatmap) -> str:
    """A heatmap's name, or its URL shortened for a heading: the host and the start of the path, with an ellipsis."""
    if heatmap.name:
        return heatmap.name
    url = heatmap.url.removeprefix("https://").removeprefix("http://")
    return url if len(url) <= HEADING_URL_LENGTH else url[:HEADING_URL_LENGTH - 1] + "…"


@web.app_template_filter()
def thousands(number: int) -> str:
    return f"{number:,}"
