"""The capture job, run by the real `flask worker` against a real Chrome and a loopback site."""

from __future__ import annotations

import io
import os
import signal
import time
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from rq import Queue
from rq.job import Job
from sqlalchemy import update

from heatmap_app.extensions import db
from heatmap_app.heatmaps import STUCK_AFTER, create_heatmap, regenerate_heatmap
from heatmap_app.models import SavedHeatmap, User
from heatmap_app.models.base import utcnow
from heatmap_app.queue import CAPTURE_LOCK_TTL, CAPTURE_QUEUE, capture_lock_key, redis_connection
from jobs.capture import settle
from tests.support.workers import finish, processes_started_by, reload, wait_for

pytestmark = pytest.mark.browser


def test_a_heatmap_created_through_the_api_is_served_width_by_width_as_the_worker_captures_it(
    app: Flask, client: FlaskClient, site, start_worker, user: User, bearer
) -> None:
    headers = bearer("heatmap:write")
    project = f"/api/projects/{user.current_project_id}"
    created = client.post(f"{project}/saved/", headers=headers,
                          json={"url": site.url("gated/hero-100vh.html"), "widths": [375, 1024, 1440]})
    assert created.status_code == 201, created.get_json()
    heatmap = created.get_json()
    content = f"{project}/heatmap_screenshots/{heatmap['id']}/content"
    assert client.get(f"{content}?width=375", headers=headers).status_code == 202

    worker = start_worker()
    # The phone width is captured on the first page load; the gate holds the second (desktop) load.
    phone = wait_for(lambda: (r := client.get(f"{content}?width=375", headers=headers)).status_code == 200 and r,
                     what="the 375 px screenshot")
    assert Image.open(io.BytesIO(phone.data)).width == 375
    while_processing = client.get(f"{project}/saved/{heatmap['short_id']}/", headers=headers).get_json()
    assert while_processing["status"] == "processing"
    assert {s["width"]: s["has_content"] for s in while_processing["snapshots"]}.get(375) is True
    # A target width the capture has yet to reach waits (202); another width gets the nearest one captured.
    assert client.get(f"{content}?width=1440", headers=headers).status_code == 202
    nearest = client.get(f"{content}?width=600", headers=headers)
    assert nearest.status_code == 200 and nearest.headers["X-Screenshot-Width"] == "375"

    site.gate.set()
    finish(worker)
    done = client.get(f"{project}/saved/{heatmap['short_id']}/", headers=headers).get_json()
    assert done["status"] == "completed" and done["exception"] is None
    for width in (375, 1024, 1440):
        served = client.get(f"{content}?width={width}", headers=headers)
        assert served.status_code == 200 and served.mimetype == "image/jpeg"
        image = Image.open(io.BytesIO(served.data))
        assert image.width == width
        assert image.height == 800 + 1200  # a one-viewport hero, then 1200 px of content: the full page


def test_a_page_answering_404_fails_at_once_with_the_reason(app: Flask, site, start_worker, user: User) -> None:
    heatmap = create_heatmap(user.current_project, user, {"url": site.url("no-such-page.html"), "widths": [1024]})

    finish(start_worker())

    failed = reload(heatmap.id)
    assert failed.status == "failed"
    assert "404" in failed.exception
    assert site.paths.count("/no-such-page.html") == 1  # permanent: not retried
    assert failed.snapshots == []


def test_a_url_refused_by_the_worker_fails_without_opening_a_browser(
    app: Flask, site, start_worker, user: User
) -> None:
    heatmap = create_heatmap(user.current_project, user, {"url": site.url("hero-100vh.html"), "widths": [1024]})

    # The operator removed the exemption after the heatmap was saved: the worker checks again.
    finish(start_worker(CAPTURE_ALLOW_HOSTS=""))

    failed = reload(heatmap.id)
    assert failed.status == "failed"
    assert "loopback" in failed.exception.lower()
    assert site.paths == []


def test_a_transient_failure_is_tried_three_times_then_fails_with_a_readable_reason(
    app: Flask, site, start_worker, user: User
) -> None:
    # An allowed host:port where nothing listens: the browser cannot connect, which may pass.
    site_host, site_port = site.host.split(":")
    unused_port = int(site_port) + 1 if int(site_port) < 65000 else int(site_port) - 1
    app.config["CAPTURE_ALLOW_HOSTS"] = f"{site.host},{site_host}:{unused_port}"
    heatmap = create_heatmap(user.current_project, user, {"url": f"http://{site_host}:{unused_port}/", "widths": [1024]})

    finish(start_worker(CAPTURE_ALLOW_HOSTS=app.config["CAPTURE_ALLOW_HOSTS"]))

    failed = reload(heatmap.id)
    assert failed.status == "failed"
    assert "could not be reached" in failed.exception
    job = Job.fetch(f"capture-{heatmap.id}-{heatmap.capture_generation}", connection=redis_connection())
    assert job.get_status() == "failed" and job.retries_left == 0  # both retries were spent: three tries


def test_a_capture_over_the_job_timeout_is_stopped_and_fails_with_a_reason(
    app: Flask, site, start_worker, user: User
) -> None:
    app.config.update(CAPTURE_JOB_TIMEOUT=3, CAPTURE_RETRY_DELAYS=[])  # one try, three seconds
    heatmap = create_heatmap(user.current_project, user, {"url": site.url("hang/forever.html"), "widths": [1024]})
    started = time.monotonic()

    worker = start_worker()
    finish(worker)

    assert time.monotonic() - started < 20  # the page would hold the browser for its whole 20 s load bound
    failed = reload(heatmap.id)
    assert failed.status == "failed" and failed.exception == "The page took too long to capture."
    assert processes_started_by(worker) == []


def test_a_late_failure_never_overwrites_completed_and_an_old_generation_settles_nothing(
    app: Flask, site, user: User
) -> None:
    heatmap = create_heatmap(user.current_project, user, {"url": site.url("hero-100vh.html"), "widths": [1024]})
    first_generation = heatmap.capture_generation

    assert settle(heatmap.id, first_generation, exception=None)
    assert not settle(heatmap.id, first_generation, exception="late failure")
    assert reload(heatmap.id).status == "completed"

    regenerate_heatmap(reload(heatmap.id))
    assert not settle(heatmap.id, first_generation, exception=None)
    assert reload(heatmap.id).status == "processing"


def test_a_worker_killed_mid_capture_leaves_no_browser_and_the_next_workers_sweep_captures_it_again(
    app: Flask, site, start_worker, user: User, redis_conn
) -> None:
    heatmap = create_heatmap(user.current_project, user,
                             {"url": site.url("gated/hero-100vh.html"), "widths": [375, 1024]})
    worker = start_worker()

    wait_for(lambda: reload(heatmap.id).snapshots, what="the first width")  # the desktop load is now held
    assert len(processes_started_by(worker)) > 2  # the worker, chromedriver, Chrome…
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()

    wait_for(lambda: processes_started_by(worker) == [], timeout=15, what="the browser to end with its worker")
    assert reload(heatmap.id).status == "processing"
    lock = capture_lock_key(heatmap.id)
    assert 0 < redis_conn.pttl(lock) <= CAPTURE_LOCK_TTL * 1000  # the dead job's lock lapses by itself…

    # …a minute on: the lock has lapsed, and the heatmap has been processing past STUCK_AFTER.
    redis_conn.delete(lock)
    db.session.execute(update(SavedHeatmap).where(SavedHeatmap.id == heatmap.id)
                       .values(capture_enqueued_at=utcnow() - STUCK_AFTER - timedelta(seconds=1)))
    db.session.commit()
    site.gate.set()
    output = finish(start_worker())  # nobody reads the heatmap: the new worker's sweep finds it

    assert "re-enqueued 1 stuck capture" in output
    recovered = reload(heatmap.id)
    assert recovered.status == "completed"
    assert [snapshot.width for snapshot in recovered.snapshots] == [375, 1024]


def test_twenty_jobs_leave_no_browser_process_behind(app: Flask, site, start_worker, user: User) -> None:
    heatmaps = [create_heatmap(user.current_project, user, {"url": site.url("hero-100vh.html"), "widths": [800]})
                for _ in range(20)]
    assert Queue(CAPTURE_QUEUE, connection=redis_connection()).count == 20

    worker = start_worker()
    finish(worker)

    assert [reload(h.id).status for h in heatmaps] == ["completed"] * 20
    assert processes_started_by(worker) == []
