"""A heatmap with secrets, captured by the real `flask worker` behind the URL guard: the page opens with them,
the third-party host gets none, and neither the job's arguments nor the worker's log holds one."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Flask
from PIL import Image
from rq import Queue

from heatmap_app import storage
from heatmap_app.extensions import db
from heatmap_app.heatmaps import create_heatmap
from heatmap_app.models import SavedHeatmap, User
from heatmap_app.queue import CAPTURE_QUEUE, redis_connection
from jobs.capture import UNREADABLE_SECRETS
from tests.capture.gated import BEARER_TOKEN, SECRETS, SESSION_COOKIE, GatedSite, LoggingSite
from tests.capture.gated import gated, third_party  # noqa: F401  (fixtures)
from tests.support.workers import finish

pytestmark = pytest.mark.browser


@pytest.fixture
def app_config(gated: GatedSite, third_party: LoggingSite) -> dict[str, Any]:
    hosts = ",".join(origin.removeprefix("http://") for origin in (gated.origin, third_party.origin))
    return {"CAPTURE_ALLOW_HOSTS": hosts, "CAPTURE_RETRY_DELAYS": [0, 0], "CAPTURE_REAPER_INTERVAL": 1}


def test_the_worker_captures_a_page_behind_a_bearer_header_and_a_cookie_and_leaks_neither(
    app: Flask, start_worker: Any, user: User, gated: GatedSite, third_party: LoggingSite
) -> None:
    heatmap = create_heatmap(user.current_project, user, {"url": gated.url("/bearer"), "widths": [1024], "capture_settings": {
        "headers": [{"name": "Authorization", "value": f"Bearer {BEARER_TOKEN}"}],
        "cookies": [{"name": SESSION_COOKIE[0], "value": SESSION_COOKIE[1]}],
    }})
    jobs = Queue(CAPTURE_QUEUE, connection=redis_connection()).get_jobs()
    assert [job.args for job in jobs] == [(heatmap.id, 1)] and not any(job.kwargs for job in jobs)

    worker = start_worker()
    finish(worker)

    db.session.expire_all()
    done = db.session.get(SavedHeatmap, heatmap.id)
    assert (done.status, done.exception) == ("completed", None)
    image = Image.open(io.BytesIO(storage.snapshot_file_path(done.snapshots[0]).read_bytes())).convert("RGB")
    red, green, blue = image.getpixel((500, 500))
    assert green > 150 and red < 60, "the page showed its content: the header reached it"
    own = [r for r in gated.log if r.path == "/own-image.gif"]
    assert own and f"{SESSION_COOKIE[0]}={SESSION_COOKIE[1]}" in own[-1].headers.get("Cookie", "")
    assert third_party.log
    for received in third_party.log:
        assert not any(secret in repr(received.headers) for secret in SECRETS), received
    log = worker.log_path.read_text(errors="replace")
    assert log and not any(secret in log for secret in SECRETS)


def test_secrets_no_key_can_read_fail_the_capture_with_a_reason(
    app: Flask, make_app: Any, start_worker: Any, user: User, gated: GatedSite
) -> None:
    heatmap = create_heatmap(user.current_project, user, {"url": gated.url("/bearer"), "widths": [1024], "capture_settings": {
        "headers": [{"name": "Authorization", "value": f"Bearer {BEARER_TOKEN}"}],
    }})

    # The worker runs with another key than the one the secret was saved with.
    worker = start_worker(CAPTURE_SECRET_KEYS="ZmRmZGZkZmRmZGZkZmRmZGZkZmRmZGZkZmRmZGZkZmQ=")
    finish(worker)

    db.session.expire_all()
    failed = db.session.get(SavedHeatmap, heatmap.id)
    assert (failed.status, failed.exception) == ("failed", UNREADABLE_SECRETS)
    assert not any(r.path == "/bearer" for r in gated.log), "no page was opened"
