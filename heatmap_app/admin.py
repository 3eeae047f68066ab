"""The capture queue as an operator sees it — jobs waiting, workers, recent failures — and the retry of a failed
job, on RQ's own API. The admin page (heatmap_app.web.admin) shows and calls these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from rq import Worker
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from sqlalchemy import update

from heatmap_app.extensions import db
from heatmap_app.models import SavedHeatmap
from heatmap_app.models.base import utcnow
from heatmap_app.queue import capture_queue

SHOWN_JOBS = 20
CAPTURE_FUNCTION = "jobs.capture.capture_heatmap"


@dataclass(frozen=True)
class JobRow:
    id: str
    description: str
    at: datetime | None  # enqueued (waiting jobs) or ended (failures), UTC
    error: str | None = None  # the last line of a failure's traceback


@dataclass(frozen=True)
class WorkerRow:
    name: str
    state: str
    current_job: str | None
    last_heartbeat: datetime | None
    successful: int
    failed: int


@dataclass(frozen=True)
class QueueOverview:
    depth: int
    oldest_age_seconds: float | None
    waiting: list[JobRow]
    workers: list[WorkerRow]
    failed_count: int
    failures: list[JobRow]


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _last_line(text: str | None) -> str | None:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else None


def queue_overview() -> QueueOverview:
    queue = capture_queue()
    waiting = [job for job in Job.fetch_many(queue.get_job_ids(0, SHOWN_JOBS), connection=queue.connection) if job]
    registry = queue.failed_job_registry
    # The registry is ordered by expiry, so its end holds the most recent failures.
    failed_ids = list(reversed(registry.get_job_ids(-SHOWN_JOBS, -1)))
    failed = [job for job in Job.fetch_many(failed_ids, connection=queue.connection) if job]
    oldest = _utc(waiting[0].enqueued_at) if waiting else None
    return QueueOverview(
        depth=queue.count,
        oldest_age_seconds=(utcnow() - oldest).total_seconds() if oldest else None,
        waiting=[JobRow(job.id, job.description or job.func_name, _utc(job.enqueued_at)) for job in waiting],
        workers=[
            WorkerRow(worker.name, str(worker.get_state()), worker.get_current_job_id(), _utc(worker.last_heartbeat),
                      worker.successful_job_count, worker.failed_job_count)
            for worker in sorted(Worker.all(queue=queue), key=lambda worker: worker.name)
        ],
        failed_count=registry.count,
        failures=[JobRow(job.id, job.description or job.func_name, _utc(job.ended_at),
                         _last_line(job.latest_result().exc_string if job.latest_result() else None))
                  for job in failed],
    )


class RetryError(LookupError):
    """The job is not among the failed ones (retried already, expired, or never there)."""


def retry_failed_job(job_id: str) -> None:
    """Queue a failed job again (rq's requeue). A capture of the heatmap's current generation that had failed
    is put back to `processing` first, or the job would find nothing to do."""
    queue = capture_queue()
    try:
        job = Job.fetch(job_id, connection=queue.connection)
    except NoSuchJobError:
        raise RetryError(job_id) from None
    if job_id not in queue.failed_job_registry:
        raise RetryError(job_id)
    if job.func_name == CAPTURE_FUNCTION and len(job.args) == 2:
        heatmap_id, generation = job.args
        db.session.execute(
            update(SavedHeatmap)
            .where(SavedHeatmap.id == heatmap_id, SavedHeatmap.capture_generation == generation,
                   SavedHeatmap.status == "failed", SavedHeatmap.deleted.is_(False))
            .values(status="processing", exception=None, capture_enqueued_at=utcnow(), updated_at=utcnow())
        )
        db.session.commit()
    try:
        queue.failed_job_registry.requeue(job_id)
    except InvalidJobOperation:
        raise RetryError(job_id) from None
