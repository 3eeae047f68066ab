"""The RQ job that captures a saved heatmap at every target width.

It takes ids only, stores each width as soon as it is captured, and settles the heatmap's status once:
`completed`, or `failed` with a readable reason — at once for permanent errors, after the last try for
transient ones. A job of an older generation (the heatmap was regenerated or edited since) writes nothing.

One job at a time captures a heatmap (queue.CaptureLock); a second job queued for it meanwhile ends without
capturing. No database transaction stays open while the browser loads a page, and every job ends with its
session removed, so a connection the database dropped (a restart, `idle_in_transaction_session_timeout`,
`pg_terminate_backend`) fails one try at most, never the jobs after it.

`flask worker` runs jobs in its own process (no fork per job), so the browser it keeps warm between
jobs survives from one job to the next; close_worker_capturer() ends it when the worker stops.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app, has_app_context
from rq import get_current_job
from rq.timeouts import JobTimeoutException
from sqlalchemy import update

from heatmap_app import capture_settings
from heatmap_app.capture import CaptureError, CaptureRequest, PermanentCaptureError, Shot
from heatmap_app.extensions import db
from heatmap_app.history.runs import prune_runs, settle_run
from heatmap_app.metrics import CAPTURE_SECONDS, CAPTURES
from heatmap_app.models import SavedHeatmap
from heatmap_app.models.base import utcnow
from heatmap_app.queue import CaptureLock, enqueue_run_comparison, redis_connection
from heatmap_app.screenshots import WarmCapturer
from heatmap_app.secretbox import UnreadableSecret
from heatmap_app.storage import MediaStoreFull, StaleCaptureError, store_snapshot
from heatmap_app.urlsafety import UnsafeURLError
from heatmap_app.worker import end_session

UNREADABLE_SECRETS = (
    "The saved headers, cookies or password of this heatmap cannot be decrypted (the server's keys changed). "
    "Enter them again in the capture settings."
)
UNEXPECTED_FAILURE = "The capture failed unexpectedly. Try regenerating it; if it keeps failing, tell your admin."


@contextmanager
def app_context() -> Iterator[None]:
    """Jobs run inside `flask worker`'s app context; a plain `rq worker` gets an app of its own."""
    if has_app_context():
        yield
        return
    from heatmap_app import create_app

    with create_app().app_context():
        yield


_capturer: WarmCapturer | None = None


def worker_capturer() -> WarmCapturer:
    global _capturer
    if _capturer is None:
        _capturer = WarmCapturer(current_app.config)
    return _capturer


def close_worker_capturer() -> None:
    global _capturer
    if _capturer is not None:
        _capturer.close()
        _capturer = None


def capture_heatmap(heatmap_id: str, generation: int) -> str:
    with app_context():
        lock = CaptureLock(redis_connection(), heatmap_id, generation)
        try:
            if not lock.acquire():
                CAPTURES.labels("skipped", "already_running").inc()
                return "already running"
            return _capture(heatmap_id, generation, lock)
        finally:
            lock.release()
            end_session()


def _current_heatmap(heatmap_id: str, generation: int) -> SavedHeatmap | None:
    db.session.expire_all()
    heatmap = db.session.get(SavedHeatmap, heatmap_id)
    if heatmap is None or heatmap.deleted or heatmap.capture_generation != generation:
        return None
    return heatmap


def capture_request(heatmap: SavedHeatmap) -> CaptureRequest:
    """What the engine is asked to capture, the saved secrets decrypted (they live in this process's memory only)."""
    return CaptureRequest(
        heatmap.url,
        heatmap.target_widths,
        block_consent_modals=heatmap.block_consent_modals,
        **capture_settings.request_options(heatmap.capture_settings),
    )


def _capture(heatmap_id: str, generation: int, lock: CaptureLock) -> str:
    heatmap = _current_heatmap(heatmap_id, generation)
    if heatmap is None or heatmap.status != "processing":
        CAPTURES.labels("superseded", "before_start").inc()
        return "superseded"
    try:
        request = capture_request(heatmap)
    except UnreadableSecret:
        settle(heatmap_id, generation, exception=UNREADABLE_SECRETS)
        return "failed"
    db.session.close()  # no transaction (nor connection) held through the page load
    last_shot_at = time.monotonic()

    def store(shot: Shot) -> None:
        nonlocal last_shot_at
        if lock.lost:
            raise StaleCaptureError(f"another job took over the capture of heatmap {heatmap_id}")
        current = _current_heatmap(heatmap_id, generation)
        if current is None:
            raise StaleCaptureError(f"heatmap {heatmap_id} moved past generation {generation}")
        store_snapshot(current, shot.width, shot.jpeg, shot.page_height, generation=generation)
        now = time.monotonic()
        CAPTURE_SECONDS.labels(str(shot.width)).observe(now - last_shot_at)
        last_shot_at = now

    try:
        worker_capturer().capture(request, on_shot=store)
    except StaleCaptureError:
        CAPTURES.labels("superseded", "during_capture").inc()
        return "superseded"
    except (UnsafeURLError, PermanentCaptureError, MediaStoreFull) as error:
        CAPTURES.labels("failed", _reason(error)).inc()
        settle(heatmap_id, generation, exception=str(error))
        return "failed"
    except JobTimeoutException as error:
        _count_transient(error)
        if _is_last_try():
            settle(heatmap_id, generation, exception="The page took too long to capture.")
        raise
    except Exception as error:
        _count_transient(error)
        if _is_last_try():
            settle(heatmap_id, generation, exception=_readable(error))
        raise
    CAPTURES.labels("completed", "").inc()
    settle(heatmap_id, generation, exception=None)
    return "completed"


def _reason(error: BaseException) -> str:
    """A short, bounded label for why a capture did not complete."""
    if isinstance(error, UnsafeURLError):
        return "blocked_url"
    if isinstance(error, MediaStoreFull):
        return "media_store_full"
    if isinstance(error, JobTimeoutException):
        return "timeout"
    if isinstance(error, PermanentCaptureError):
        return "permanent"
    return "transient" if isinstance(error, CaptureError) else "unexpected"


def _count_transient(error: BaseException) -> None:
    CAPTURES.labels("failed" if _is_last_try() else "retried", _reason(error)).inc()


def _is_last_try() -> bool:
    job = get_current_job()
    return job is None or not job.retries_left


def _readable(error: Exception) -> str:
    return str(error) if isinstance(error, CaptureError) else UNEXPECTED_FAILURE


def settle(heatmap_id: str, generation: int, *, exception: str | None) -> bool:
    """Mark the generation (and its run) completed (exception None) or failed; only a heatmap still processing it
    changes, so a late failure never overwrites `completed` and an old job never settles a newer generation.
    Then the runs past the kept number go, and a completed run is queued for comparison with the one before.

    Whatever failed before (a lost database connection, a failed commit) is rolled back first."""
    db.session.rollback()
    result = db.session.execute(
        update(SavedHeatmap)
        .where(
            SavedHeatmap.id == heatmap_id,
            SavedHeatmap.capture_generation == generation,
            SavedHeatmap.status == "processing",
        )
        .values(status="failed" if exception else "completed", exception=exception, updated_at=utcnow())
    )
    settled = result.rowcount == 1
    if settled:
        settle_run(heatmap_id, generation, exception=exception)
    db.session.commit()
    if settled:
        prune_runs(heatmap_id)
        if exception is None:
            enqueue_run_comparison(heatmap_id, generation)
    return settled
