"""Scheduled recaptures, run by RQ's own scheduler: each occurrence is one job queued for its time
(`Queue.enqueue_at`), and that job, when it runs, starts the capture and queues the next occurrence.

A change of schedule bumps the heatmap's schedule_version and queues a job for the new one; the job left for
the older version stays in RQ's scheduled registry until its time, then finds the version moved on and does
nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rq.job import Job

from heatmap_app.models import SavedHeatmap
from heatmap_app.queue import JOB_FAILURE_TTL, JOB_RESULT_TTL, capture_queue

RECAPTURE_JOB = "jobs.history.recapture_heatmap"


def next_recapture_at(frequency: str, hour: int, weekday: int, after: datetime) -> datetime | None:
    """The first moment strictly after `after` (aware, UTC) on the schedule, or None when it is off."""
    if frequency == "off":
        return None
    moment = after.replace(hour=hour, minute=0, second=0, microsecond=0)
    if frequency == "daily":
        return moment if moment > after else moment + timedelta(days=1)
    moment += timedelta(days=(weekday - moment.weekday()) % 7)
    return moment if moment > after else moment + timedelta(days=7)


def recapture_job_id(heatmap_id: str, version: int, when: datetime) -> str:
    return f"recapture-{heatmap_id}-{version}-{when:%Y%m%dT%H%M%S}"


def schedule_recapture(heatmap: SavedHeatmap, *, at: datetime | None = None) -> Job | None:
    """Queue the heatmap's next scheduled recapture, at its schedule's next time unless `at` says when; None when
    the schedule is off."""
    when = at or next_recapture_at(heatmap.recapture_frequency, heatmap.recapture_hour, heatmap.recapture_weekday,
                                   datetime.now(UTC))
    if when is None or heatmap.deleted:
        return None
    return capture_queue().enqueue_at(
        when,
        RECAPTURE_JOB,
        heatmap.id,
        heatmap.schedule_version,
        job_id=recapture_job_id(heatmap.id, heatmap.schedule_version, when),
        job_timeout=60,
        result_ttl=JOB_RESULT_TTL,
        failure_ttl=JOB_FAILURE_TTL,
        description=f"scheduled recapture of heatmap {heatmap.id}",
    )

