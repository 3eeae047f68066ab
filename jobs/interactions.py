"""The RQ job that drops heatmap data past its retention (heatmap_app.interactions.retention)."""

from __future__ import annotations

from flask import current_app

from heatmap_app.interactions.retention import purge_expired
from jobs.capture import app_context


def purge_expired_heatmap_data() -> dict[str, int]:
    with app_context():
        deleted = purge_expired(current_app.config)
        current_app.logger.info("Purged heatmap data past retention: %s", deleted)
        return deleted
