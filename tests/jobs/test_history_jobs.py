"""The history jobs, run by the real `flask worker` (with RQ's scheduler) against real Chrome and a loopback site:
a changed page is told apart from an unchanged one, the change webhook is signed and retried, and a schedule
fires through RQ's scheduler."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from rq import Queue
from rq.registry import ScheduledJobRegistry

from heatmap_app.heatmaps import create_heatmap, regenerate_heatmap, update_heatmap
from heatmap_app.history.schedule import next_recapture_at, schedule_recapture
from heatmap_app.models import CaptureRun, User
from heatmap_app.queue import CAPTURE_QUEUE, redis_connection
from jobs.history import recapture_heatmap
from tests.support.site import Site
from tests.support.workers import finish, reload, wait_for

pytestmark = pytest.mark.browser


@pytest.fixture
def app_config(site: Site) -> dict[str, Any]:
    return {"CAPTURE_ALLOW_HOSTS": site.host, "CAPTURE_RETRY_DELAYS": [0, 0], "CAPTURE_REAPER_INTERVAL": 1,
            "HEATMAP_CREATE_RATE_LIMIT": "100/minute"}


def scheduled_times(registry: ScheduledJobRegistry) -> list[datetime]:
    """When each job waiting in RQ's scheduled registry is due."""
    connection = redis_connection()
    return sorted(datetime.fromtimestamp(connection.zscore(registry.key, job_id), UTC)
                  for job_id in registry.get_job_ids())


def compared_run(heatmap_id: str, generation: int) -> CaptureRun:
    """The run once the worker compared it with the run before."""
    def compared() -> CaptureRun | None:
        run = next((run for run in reload(heatmap_id).runs if run.generation == generation), None)
        return run if run is not None and run.changed_share is not None else None

    return wait_for(compared, timeout=120, what=f"run {generation} compared")


def test_a_changed_page_is_detected_an_unchanged_one_is_not_and_the_webhook_is_signed_and_retried(
    app: Flask, site: Site, start_worker, user: User
) -> None:
    heatmap = create_heatmap(user.current_project, user, {
        "url": site.url("changing-page"), "widths": [1024], "change_webhook_url": site.url("hook")})
    worker = start_worker(burst=False, CHANGE_WEBHOOK_RETRY_DELAYS="1,1")
    wait_for(lambda: reload(heatmap.id).status == "completed", timeout=120, what="the first capture")

    regenerate_heatmap(reload(heatmap.id))  # the same page: only JPEG noise can differ
    unchanged = compared_run(heatmap.id, 2)
    assert unchanged.changed_share < app.config["HEATMAP_CHANGE_THRESHOLD"]
    assert reload(heatmap.id).changed_at is None

    site.variant = "b"  # the band turns red and the heading changes
    site.hook_statuses.extend([500, 502])  # the receiver fails twice, then takes it
    regenerate_heatmap(reload(heatmap.id))
    changed = compared_run(heatmap.id, 3)
    assert changed.changed_share > 0.3 and changed.compared_with_generation == 2
    assert reload(heatmap.id).changed_at is not None

    wait_for(lambda: len(site.deliveries) == 3, timeout=60, what="three deliveries: two failed, one taken")
    secret = reload(heatmap.id).change_webhook_secret
    for headers, body in site.deliveries:
        signed = headers["x-heatmap-timestamp"].encode() + b"." + body
        assert headers["x-heatmap-signature"] == "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    payload = json.loads(site.deliveries[-1][1])
    assert payload["event"] == "heatmap.changed" and payload["run"]["number"] == 3
    assert payload["heatmap"]["short_id"] == heatmap.short_id and payload["run"]["changed_share"] > 0.3
    finish(worker, stop=True)


def test_a_schedule_fires_through_rqs_scheduler_and_queues_its_next_occurrence(
    app: Flask, site: Site, start_worker, user: User
) -> None:
    heatmap = create_heatmap(user.current_project, user, {
        "url": site.url("changing-page"), "widths": [1024], "recapture": {"frequency": "daily", "hour": 5}})
    registry = ScheduledJobRegistry(queue=Queue(CAPTURE_QUEUE, connection=redis_connection()))
    daily = next_recapture_at("daily", 5, 0, datetime.now(UTC))
    assert scheduled_times(registry) == [daily]

    schedule_recapture(reload(heatmap.id), at=datetime.now(UTC) + timedelta(seconds=3))  # an occurrence soon
    worker = start_worker(burst=False)
    wait_for(lambda: [(r.generation, r.trigger, r.status) for r in reload(heatmap.id).runs][:1]
             == [(2, "schedule", "completed")], timeout=120, what="the scheduled run")
    # Its next occurrence waits in RQ's scheduler for the next 05:00 UTC (beside the one queued at first).
    assert set(scheduled_times(registry)) == {daily}
    finish(worker, stop=True)


def test_an_occurrence_left_for_an_older_schedule_captures_nothing(app: Flask, site: Site, user: User) -> None:
    heatmap = create_heatmap(user.current_project, user, {
        "url": site.url("changing-page"), "widths": [1024], "recapture": {"frequency": "weekly", "weekday": 2}})
    update_heatmap(heatmap, {"recapture": {"frequency": "off"}})
    heatmap_id = heatmap.id

    assert recapture_heatmap(heatmap_id, 1) == "superseded"  # the job ends its session, as in the worker
    assert [run.generation for run in reload(heatmap_id).runs] == [1]
