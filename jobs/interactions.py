"""The RQ job that drops heatmap data past its retention (heatmap_app.interactions.retention)."""

from __future__ import annotations

from flask import current_app

from heatmap_app.interactions.retention import purge_expired
from jobs.capture import _app_context


def purge_expired_heatmap_data() -> dict[str, int]:
    with _app_context():
        deleted = purge_expired(current_app.config)
        current_app.logger.info("Purged heatmap data past retention: %s", deleted)
        return deleted
