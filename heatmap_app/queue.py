"""Redis and the RQ queue the capture jobs go through, and the lock that lets one job at a time capture a heatmap."""

from __future__ import annotations

import math
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry

CAPTURE_QUEUE = "captures"
JOB_RESULT_TTL = 60 * 60  # seconds a finished job's record is kept
JOB_FAILURE_TTL = 7 * 24 * 60 * 60  # failed jobs stay visible a week for operators
JOB_QUEUED_TTL = 24 * 60 * 60  # a job nobody picked up in a day is dropped; the worker's reaper re-enqueues it
# A capture's lock outlives a job that stopped renewing it (its worker was killed or lost Redis) by at most this.
CAPTURE_LOCK_TTL = 60
CAPTURE_LOCK_RENEW_EVERY = 15
CAPTURE_LOCK_POLL = 0.5
# A job in one of these states will still run: its heatmap is not stuck, only waiting.
WAITING_JOB_STATES = (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED)

# Renew the lock while this token holds it, take it back if it lapsed unclaimed (Redis was away), else 0.
_RENEW_LOCK = """
local holder = redis.call('get', KEYS[1])
if holder == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
if not holder then redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0
"""
_RELEASE_LOCK = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


def redis_connection() -> Redis:
    """One connection pool per app; a Redis that does not answer fails a request in seconds, not minutes."""
    connection = current_app.extensions.get("heatmap_redis")
    if connection is None:
        # The worker raises socket_timeout above its blocking dequeue by itself (rq's Worker._set_connection).
        connection = Redis.from_url(current_app.config["REDIS_URL"], socket_connect_timeout=5, socket_timeout=10)
        current_app.extensions["heatmap_redis"] = connection
    return connection


def require_redis() -> None:
    """Raise redis' ConnectionError (answered 503) unless Redis answers now: asked before a write that needs it."""
    redis_connection().ping()


def capture_queue() -> Queue:
    return Queue(CAPTURE_QUEUE, connection=redis_connection(), default_timeout=current_app.config["CAPTURE_JOB_TIMEOUT"])


def capture_job_id(heatmap_id: str, generation: int) -> str:
    return f"capture-{heatmap_id}-{generation}"


def enqueue_capture(heatmap_id: str, generation: int) -> Job:
    """Queue the capture of one heatmap's generation; the job receives ids only.

    Three tries in all: each delay in CAPTURE_RETRY_DELAYS precedes one more try.
    """
    retry_delays = current_app.config["CAPTURE_RETRY_DELAYS"]
    return capture_queue().enqueue(
        "jobs.capture.capture_heatmap",
        heatmap_id,
        generation,
        job_id=capture_job_id(heatmap_id, generation),
        job_timeout=current_app.config["CAPTURE_JOB_TIMEOUT"],
        result_ttl=JOB_RESULT_TTL,
        failure_ttl=JOB_FAILURE_TTL,
        ttl=JOB_QUEUED_TTL,
        retry=Retry(max=len(retry_delays), interval=retry_delays) if retry_delays else None,
        description=f"capture heatmap {heatmap_id} (generation {generation})",
    )


@dataclass(frozen=True)
class CaptureAttempt:
    """Which try of a capture runs or waits (1-based, of `tries`), and when a waiting retry starts."""

    number: int
    tries: int
    next_try_in: int | None  # seconds; None while the try runs or waits in the queue


def capture_attempt(heatmap_id: str, generation: int) -> CaptureAttempt | None:
    """The try the generation's job is at, for the UI; None without a job or while Redis does not answer."""
    try:
        job = Job.fetch_many([capture_job_id(heatmap_id, generation)], connection=redis_connection())[0]
        if job is None or job.retries_left is None:
            return None
        tries = len(current_app.config["CAPTURE_RETRY_DELAYS"]) + 1
        next_try_in = None
        if job.get_status(refresh=False) == JobStatus.SCHEDULED:
            starts = ScheduledJobRegistry(queue=capture_queue()).get_scheduled_time(job)
            next_try_in = max(0, math.ceil((starts - datetime.now(UTC)).total_seconds()))
    except (RedisError, NoSuchJobError):
        return None
    return CaptureAttempt(number=max(1, tries - job.retries_left), tries=tries, next_try_in=next_try_in)


def enqueue_run_comparison(heatmap_id: str, generation: int) -> Job:
    """Queue the comparison of a completed run with the run before it (and the change alerts it may send)."""
    return capture_queue().enqueue(
        "jobs.history.compare_run",
        heatmap_id,
        generation,
        job_id=f"compare-{heatmap_id}-{generation}",
        job_timeout=120,
        result_ttl=JOB_RESULT_TTL,
        failure_ttl=JOB_FAILURE_TTL,
        ttl=JOB_QUEUED_TTL,
        description=f"compare run {generation} of heatmap {heatmap_id} with the one before",
    )


def enqueue_change_webhook(heatmap_id: str, generation: int) -> Job:
    """Queue the "page changed" webhook of a run; a receiver that fails is tried again after each of
    CHANGE_WEBHOOK_RETRY_DELAYS."""
    retry_delays = current_app.config["CHANGE_WEBHOOK_RETRY_DELAYS"]
    return capture_queue().enqueue(
        "jobs.history.send_change_webhook",
        heatmap_id,
        generation,
        job_id=f"webhook-{heatmap_id}-{generation}",
        job_timeout=60,
        result_ttl=JOB_RESULT_TTL,
        failure_ttl=JOB_FAILURE_TTL,
        ttl=JOB_QUEUED_TTL,
        retry=Retry(max=len(retry_delays), interval=retry_delays) if retry_delays else None,
        description=f"change webhook of run {generation} of heatmap {heatmap_id}",
    )


def capture_lock_key(heatmap_id: str) -> str:
    return f"heatmap:capture-lock:{heatmap_id}"


def capture_is_alive(heatmap_id: str, generation: int) -> bool:
    """Whether a job captures this heatmap now (it holds the lock) or the generation's job is still to run."""
    connection = redis_connection()
    if connection.exists(capture_lock_key(heatmap_id)):
        return True
    job = Job.fetch_many([capture_job_id(heatmap_id, generation)], connection=connection)[0]
    return job is not None and job.get_status(refresh=False) in WAITING_JOB_STATES


class CaptureLock:
    """The right to capture one heatmap, held by one job at a time whatever queued it twice (a re-enqueue, rq's
    retry of a job it thought abandoned, two generations on two workers).

    The holder renews it from a thread every CAPTURE_LOCK_RENEW_EVERY seconds; a killed holder's lock lapses after
    CAPTURE_LOCK_TTL. `lost` turns true when another job took it over meanwhile: the holder must stop writing.
    """

    def __init__(self, connection: Redis, heatmap_id: str, generation: int) -> None:
        self._connection = connection
        self._key = capture_lock_key(heatmap_id)
        self._generation = generation
        self._token = f"{generation}:{secrets.token_hex(8)}"
        self._released = threading.Event()
        self._renewer: threading.Thread | None = None
        self.lost = False

    def acquire(self) -> bool:
        """Take the lock, waiting while a capture of an older generation holds it (it stops at its next width).

        False when a capture of the same or a newer generation holds it: that one does this job's work.
        """
        while not self._connection.set(self._key, self._token, nx=True, px=CAPTURE_LOCK_TTL * 1000):
            holder = self._connection.get(self._key)
            if holder is not None and int(holder.split(b":", 1)[0]) >= self._generation:
                return False
            time.sleep(CAPTURE_LOCK_POLL)
        self._renewer = threading.Thread(target=self._renew_until_released, name=f"renew {self._key}", daemon=True)
        self._renewer.start()
        return True

    def _renew_until_released(self) -> None:
        renew = self._connection.register_script(_RENEW_LOCK)
        while not self._released.wait(CAPTURE_LOCK_RENEW_EVERY):
            try:
                if not renew(keys=[self._key], args=[self._token, CAPTURE_LOCK_TTL * 1000]):
                    self.lost = True
                    return
            except RedisError:
                continue  # Redis is away: try again at the next beat

    def release(self) -> None:
        self._released.set()
        if self._renewer is not None:
            self._renewer.join()
        try:
            self._connection.eval(_RELEASE_LOCK, 1, self._key, self._token)
        except RedisError:
            pass  # the lock lapses by itself after CAPTURE_LOCK_TTL
