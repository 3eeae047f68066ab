"""One fault, then recovery: the real `flask worker` against a real Chrome, real Redis and the real database,
each test breaking one thing the worker depends on and showing that the work still gets done."""

from __future__ import annotations

import os
import signal
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue
from rq.job import Job
from sqlalchemy import update
from sqlalchemy.engine import make_url

from heatmap_app.extensions import db
from heatmap_app.heatmaps import STUCK_AFTER, create_heatmap, regenerate_heatmap
from heatmap_app.models import SavedHeatmap, User
from heatmap_app.models.base import utcnow
from heatmap_app.queue import CAPTURE_QUEUE, capture_job_id, capture_lock_key, enqueue_capture, redis_connection
from tests.support.filesystems import small_filesystem
from tests.support.redis_server import redis_server
from tests.support.site import Site
from tests.support.workers import finish, processes_started_by, reload, wait_for

pytestmark = pytest.mark.browser

HELD_PAGE = "gated/hero-100vh.html"  # its first request is answered at once, later ones once site.gate is set


def age_past_stuck_after(heatmap: SavedHeatmap) -> None:
    """Move the heatmap's enqueue time back past STUCK_AFTER, as if that much time had passed."""
    db.session.execute(update(SavedHeatmap).where(SavedHeatmap.id == heatmap.id)
                       .values(capture_enqueued_at=utcnow() - STUCK_AFTER - timedelta(seconds=1)))
    db.session.commit()


def latest_result(heatmap: SavedHeatmap, generation: int) -> Any:
    job = Job.fetch(capture_job_id(heatmap.id, generation), connection=redis_connection())
    return job.latest_result().return_value


# --- the database -----------------------------------------------------------------------------------------------


def test_a_database_connection_lost_mid_capture_fails_neither_that_capture_nor_the_next(
    app: Flask, site: Site, start_worker, user: User, database_url: str
) -> None:
    if make_url(database_url).get_backend_name() != "postgresql":
        pytest.skip("terminating the worker's database connection needs PostgreSQL; SQLite has no connection to lose")
    interrupted = create_heatmap(user.current_project, user, {"url": site.url(HELD_PAGE), "widths": [1024]})
    following = create_heatmap(user.current_project, user, {"url": site.url("hero-100vh.html"), "widths": [1024]})
    urlopen(site.url(HELD_PAGE)).read()  # so the worker's load of the page is its second request: held at the gate
    application_name = f"heatmap-worker-{uuid.uuid4().hex[:12]}"
    worker = start_worker(DATABASE_URL=f"{database_url}?application_name={application_name}")

    wait_for(lambda: site.paths.count(f"/{HELD_PAGE}") == 2, what="the worker to load the page")
    admin = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        sessions = "FROM pg_stat_activity WHERE application_name = %s"
        states_during_the_load = [state for (state,) in
                                  connection.execute(f"SELECT state {sessions}", [application_name])]
        terminated = connection.execute(f"SELECT pg_terminate_backend(pid) {sessions}", [application_name]).fetchall()
    site.gate.set()
    finish(worker)

    assert terminated, "the worker kept no database connection to terminate"
    assert (reload(interrupted.id).status, reload(following.id).status) == ("completed", "completed")
    assert "idle in transaction" not in states_during_the_load  # no transaction held open through the page load


# --- Redis ------------------------------------------------------------------------------------------------------


def test_the_worker_waits_out_a_redis_outage_and_captures_again_what_redis_lost(
    make_app: Any, app_config: dict[str, Any], site: Site, start_worker, user: User
) -> None:
    with redis_server() as redis, make_app(**app_config, REDIS_URL=redis.url).app_context():
        owner = db.session.get_one(User, user.id)
        held = create_heatmap(owner.current_project, owner, {"url": site.url(HELD_PAGE), "widths": [375, 1024]})
        worker = start_worker(burst=False, REDIS_URL=redis.url)
        wait_for(lambda: reload(held.id).snapshots, what="the first width")  # the desktop load is now held
        lost = create_heatmap(owner.current_project, owner, {"url": site.url("hero-100vh.html"), "widths": [1024]})

        redis.stop()  # Redis goes away mid-capture, and the queued job of `lost` with it
        site.gate.set()
        wait_for(lambda: reload(held.id).status == "completed", what="the capture under way to finish")
        redis.start()  # back, and empty
        age_past_stuck_after(lost)
        wait_for(lambda: reload(lost.id).status == "completed", what="the sweep to capture the lost heatmap again")
        after = create_heatmap(owner.current_project, owner, {"url": site.url("hero-100vh.html"), "widths": [1024]})
        wait_for(lambda: reload(after.id).status == "completed", what="a heatmap created after the outage")

        output = finish(worker, stop=True)
    assert output.count(f"started with PID {worker.pid}") == 2  # the same process worked before and after


# --- one capture per heatmap at a time --------------------------------------------------------------------------


def test_a_second_job_for_a_heatmap_under_capture_ends_without_capturing_it_again(
    app: Flask, client: FlaskClient, site: Site, start_worker, user: User, bearer, redis_conn
) -> None:
    heatmap = create_heatmap(user.current_project, user, {"url": site.url(HELD_PAGE), "widths": [375, 1024]})
    first = start_worker(burst=False)
    wait_for(lambda: reload(heatmap.id).snapshots, what="the first width")  # the desktop load is now held

    # Long after it was queued (a backlog), someone reads the heatmap: its capture runs, so it is not stuck.
    db.session.execute(update(SavedHeatmap).where(SavedHeatmap.id == heatmap.id)
                       .values(capture_enqueued_at=utcnow() - timedelta(minutes=30)))
    db.session.commit()
    read = client.get(f"/api/projects/@current/saved/{heatmap.short_id}/", headers=bearer("heatmap:read"))
    assert read.status_code == 200 and read.get_json()["status"] == "processing"
    assert Queue(CAPTURE_QUEUE, connection=redis_conn).count == 0
    # rq's retry of a job it took for abandoned puts the same job on the queue again; a second worker takes it.
    enqueue_capture(heatmap.id, heatmap.capture_generation)
    finish(start_worker())
    assert latest_result(heatmap, heatmap.capture_generation) == "already running"

    site.gate.set()
    wait_for(lambda: reload(heatmap.id).status == "completed", what="the first capture to finish")
    finish(first, stop=True)
    assert site.paths.count(f"/{HELD_PAGE}") == 2  # one capture: the phone load and the desktop load


def test_a_regenerated_heatmap_is_captured_once_the_older_capture_has_stopped(
    app: Flask, site: Site, start_worker, user: User, redis_conn
) -> None:
    heatmap = create_heatmap(user.current_project, user, {"url": site.url(HELD_PAGE), "widths": [375, 1024]})
    first = start_worker(burst=False)
    wait_for(lambda: reload(heatmap.id).snapshots, what="the first width")  # generation 1's desktop load is held

    regenerate_heatmap(reload(heatmap.id))
    second = start_worker()
    newer_job = Job.fetch(capture_job_id(heatmap.id, 2), connection=redis_conn)
    wait_for(lambda: newer_job.get_status() == "started", what="the second worker to take generation 2")
    assert redis_conn.get(capture_lock_key(heatmap.id)).startswith(b"1:")  # generation 2 waits for generation 1
    site.gate.set()
    gate_opened_at = time.monotonic()
    finish(second)
    finish(first, stop=True)

    captured = reload(heatmap.id)
    assert (captured.status, captured.capture_generation) == ("completed", 2)
    assert latest_result(heatmap, 1) == "superseded" and latest_result(heatmap, 2) == "completed"
    generation_2_loads = site.times_served(HELD_PAGE)[2:]
    assert generation_2_loads and min(generation_2_loads) > gate_opened_at


# --- the scheduler ----------------------------------------------------------------------------------------------


def test_a_killed_workers_scheduler_ends_with_it_and_gives_up_the_scheduler_lock(
    app: Flask, start_worker, redis_conn
) -> None:
    scheduler_lock = f"rq:scheduler-lock:{CAPTURE_QUEUE}"
    worker = start_worker(burst=False)
    wait_for(lambda: redis_conn.get(scheduler_lock), what="the scheduler to take its lock")
    wait_for(lambda: len(processes_started_by(worker)) == 2, what="the scheduler process")

    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()

    wait_for(lambda: processes_started_by(worker) == [], timeout=15, what="the scheduler to end with its worker")
    assert redis_conn.get(scheduler_lock) is None


# --- the media store --------------------------------------------------------------------------------------------


def test_a_full_media_store_fails_the_capture_once_with_the_reason(
    app: Flask, site: Site, start_worker, user: User
) -> None:
    heatmap = create_heatmap(user.current_project, user, {"url": site.url("hero-100vh.html"), "widths": [1024]})

    with small_filesystem(Path(app.config["MEDIA_ROOT"]), 4096) as media_root:
        finish(start_worker())
        assert [path for path in media_root.rglob("*") if path.is_file()] == []

    failed = reload(heatmap.id)
    assert failed.status == "failed" and "the media store is full" in failed.exception
    assert site.paths.count("/hero-100vh.html") == 1  # permanent: not tried again
    assert Job.fetch(capture_job_id(heatmap.id, 1), connection=redis_connection()).retries_left == 2
