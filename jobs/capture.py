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

from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app, has_app_context
from rq import get_current_job
from rq.timeouts import JobTimeoutException
from sqlalchemy import update

from heatmap_app import capture_settings
from heatmap_app.capture import CaptureError, CaptureRequest, PermanentCaptureError, Shot
from heatmap_app.extensions import db
from heatmap_app.models import SavedHeatmap
from heatmap_app.models.base import utcnow
from heatmap_app.queue import CaptureLock, redis_connection
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
def _app_context() -> Iterator[None]:
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
    with _app_context():
        lock = CaptureLock(redis_connection(), heatmap_id, generation)
        try:
            if not lock.acquire():
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
        return "superseded"
    try:
        request = capture_request(heatmap)
    except UnreadableSecret:
        settle(heatmap_id, generation, exception=UNREADABLE_SECRETS)
        return "failed"
    db.session.close()  # no transaction (nor connection) held through the page load

    def store(shot: Shot) -> None:
        if lock.lost:
            raise StaleCaptureError(f"another job took over the capture of heatmap {heatmap_id}")
        current = _current_heatmap(heatmap_id, generation)
        if current is None:
            raise StaleCaptureError(f"heatmap {heatmap_id} moved past generation {generation}")
        store_snapshot(current, shot.width, shot.jpeg, shot.page_height, generation=generation)

    try:
        worker_capturer().capture(request, on_shot=store)
    except StaleCaptureError:
        return "superseded"
    except (UnsafeURLError, PermanentCaptureError, MediaStoreFull) as error:
        settle(heatmap_id, generation, exception=str(error))
        return "failed"
    except JobTimeoutException:
        if _is_last_try():
            settle(heatmap_id, generation, exception="The page took too long to capture.")
        raise
    except Exception as error:
        if _is_last_try():
            settle(heatmap_id, generation, exception=_readable(error))
        raise
    settle(heatmap_id, generation, exception=None)
    return "completed"


def _is_last_try() -> bool:
    job = get_current_job()
    return job is None or not job.retries_left


def _readable(error: Exception) -> str:
    return str(error) if isinstance(error, CaptureError) else UNEXPECTED_FAILURE


def settle(heatmap_id: str, generation: int, *, exception: str | None) -> bool:
    """Mark the generation completed (exception None) or failed; only a heatmap still processing it changes,
    so a late failure never overwrites `completed` and an old job never settles a newer generation.

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
    db.session.commit()
    return result.rowcount == 1
