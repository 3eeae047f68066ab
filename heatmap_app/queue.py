"""Redis and the RQ queue the capture jobs go through."""

from __future__ import annotations

from flask import current_app
from redis import Redis
from rq import Queue, Retry
from rq.job import Job

CAPTURE_QUEUE = "captures"
JOB_RESULT_TTL = 60 * 60  # seconds a finished job's record is kept
JOB_FAILURE_TTL = 7 * 24 * 60 * 60  # failed jobs stay visible a week for operators
JOB_QUEUED_TTL = 24 * 60 * 60  # a job nobody picked up in a day is dropped; retrieve re-enqueues it


def redis_connection() -> Redis:
    """One connection pool per app."""
    connection = current_app.extensions.get("heatmap_redis")
    if connection is None:
        connection = Redis.from_url(current_app.config["REDIS_URL"])
        current_app.extensions["heatmap_redis"] = connection
    return connection


def capture_queue() -> Queue:
    return Queue(CAPTURE_QUEUE, connection=redis_connection(), default_timeout=current_app.config["CAPTURE_JOB_TIMEOUT"])


def enqueue_capture(heatmap_id: str, generation: int) -> Job:
    """Queue the capture of one heatmap's generation; the job receives ids only.

    Three tries in all: each delay in CAPTURE_RETRY_DELAYS precedes one more try.
    """
    retry_delays = current_app.config["CAPTURE_RETRY_DELAYS"]
    return capture_queue().enqueue(
        "jobs.capture.capture_heatmap",
        heatmap_id,
        generation,
        job_id=f"capture-{heatmap_id}-{generation}",
        job_timeout=current_app.config["CAPTURE_JOB_TIMEOUT"],
        result_ttl=JOB_RESULT_TTL,
        failure_ttl=JOB_FAILURE_TTL,
        ttl=JOB_QUEUED_TTL,
        retry=Retry(max=len(retry_delays), interval=retry_delays) if retry_delays else None,
        description=f"capture heatmap {heatmap_id} (generation {generation})",
    )
