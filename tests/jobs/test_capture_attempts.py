"""Which try a capture is at, as the detail page shows it: the real worker, a real retry waiting in rq's schedule."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from heatmap_app.heatmaps import create_heatmap
from heatmap_app.models import User
from heatmap_app.queue import capture_attempt
from tests.conftest import AuthActions
from tests.support.workers import finish, reload

pytestmark = pytest.mark.browser


def test_a_retry_waiting_shows_its_attempt_and_when_it_starts(
    app: Flask, client: FlaskClient, auth: AuthActions, site, start_worker, user: User
) -> None:
    # An allowed host:port where nothing listens: a failure that may pass, so it is tried again after a delay.
    site_host, site_port = site.host.split(":")
    unused_port = int(site_port) + 1 if int(site_port) < 65000 else int(site_port) - 1
    app.config.update(CAPTURE_ALLOW_HOSTS=f"{site.host},{site_host}:{unused_port}", CAPTURE_RETRY_DELAYS=[120, 120])
    heatmap = create_heatmap(user.current_project, user, {"url": f"http://{site_host}:{unused_port}/", "widths": [1024]})
    assert capture_attempt(heatmap.id, heatmap.capture_generation).number == 1

    finish(start_worker(CAPTURE_ALLOW_HOSTS=app.config["CAPTURE_ALLOW_HOSTS"]))  # the first try fails; burst ends

    assert reload(heatmap.id).status == "processing"
    auth.login()
    fragment = client.get(f"/heatmaps/{heatmap.short_id}/viewer").get_data(as_text=True)
    shown = re.search(r'id="capture-attempt">attempt (\d) of (\d), next try in (\d+) s<', fragment)
    assert shown, fragment
    assert shown.group(1, 2) == ("2", "3") and 60 < int(shown.group(3)) <= 120
