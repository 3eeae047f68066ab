"""Dropping heatmap data past its retention: daily counts after HEATMAP_DATA_RETENTION_DAYS, raw points after
HEATMAP_POINTS_RETENTION_DAYS, and pages that sent nothing since.

Run by the worker (jobs.interactions, queued at most once an hour while batches arrive) and by
`flask --app wsgi purge-heatmap-data` (for cron). Queries already ignore expired rows, so a late purge
only costs disk.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete

from heatmap_app.extensions import db
from heatmap_app.models import (
    InteractionDailyCount,
    InteractionDailyViewport,
    InteractionDailyVisitor,
    InteractionPage,
    InteractionPoint,
)
from heatmap_app.queue import capture_queue, redis_connection

PURGE_INTERVAL = 60 * 60  # seconds between two purges queued by ingestion
PURGE_CHECK_INTERVAL = 60.0
PURGE_KEY = "heatmap-ingest:purge-queued"
PURGE_TIMEOUT = 30 * 60


def purge_expired(config: Mapping[str, Any], now: datetime | None = None) -> dict[str, int]:
    """Delete what is past retention; the number of rows deleted per table."""
    moment = now or datetime.now(UTC)
    data_cutoff = moment - timedelta(days=config["HEATMAP_DATA_RETENTION_DAYS"])
    points_cutoff = moment - timedelta(days=config["HEATMAP_POINTS_RETENTION_DAYS"])
    deleted = {}
    for model in (InteractionDailyCount, InteractionDailyVisitor, InteractionDailyViewport):
        deleted[model.__tablename__] = db.session.execute(
            delete(model).where(model.day < data_cutoff.date())).rowcount
    deleted[InteractionPoint.__tablename__] = db.session.execute(
        delete(InteractionPoint).where(InteractionPoint.timestamp < points_cutoff)).rowcount
    # A page seen last before the cutoff has no data left: every point of it is older than its last visit.
    deleted[InteractionPage.__tablename__] = db.session.execute(
        delete(InteractionPage).where(InteractionPage.last_seen_at < data_cutoff)).rowcount
    db.session.commit()
    return deleted


def queue_purge_hourly() -> None:
    """Queue the purge job unless one was queued in the last hour (any process); Redis trouble only skips it.

    Each process asks Redis at most once a minute, so a batch costs no round trip for this.
    """
    checked = current_app.extensions.get("interaction_purge_checked", 0.0)
    if time.monotonic() - checked < PURGE_CHECK_INTERVAL:
        return
    current_app.extensions["interaction_purge_checked"] = time.monotonic()
    try:
        if redis_connection().set(PURGE_KEY, "1", nx=True, ex=PURGE_INTERVAL):
            capture_queue().enqueue("jobs.interactions.purge_expired_heatmap_data", job_timeout=PURGE_TIMEOUT,
                                    result_ttl=PURGE_INTERVAL, failure_ttl=7 * 24 * 60 * 60,
                                    description="purge heatmap data past retention")
    except OSError:
        current_app.logger.warning("Could not queue the heatmap data purge", exc_info=True)
