"""Our extension of the saved-heatmap API: its capture runs, a run's screenshot, the difference of two runs, and
the schedule and webhook fields."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image

from heatmap_app import heatmaps, storage
from heatmap_app.models import CaptureRun, SavedHeatmap
from jobs.capture import settle
from tests.api.conftest import jpeg_bytes


@pytest.fixture
def two_runs(make_heatmap, add_snapshot) -> SavedHeatmap:
    """A heatmap whose run 1 was blue at 320 and 1024 px and whose run 2 is orange at 1024 px only."""
    heatmap = make_heatmap(target_widths=[320, 1024])
    heatmap.runs.append(CaptureRun(generation=1, trigger="create", url=heatmap.url, target_widths=[320, 1024],
                                            block_consent_modals=False, status="processing"))
    add_snapshot(heatmap, 320, color="steelblue")
    add_snapshot(heatmap, 1024, color="steelblue")
    settle(heatmap.id, 1, exception=None)
    heatmaps.regenerate_heatmap(heatmap)
    storage.store_snapshot(heatmap, 1024, jpeg_bytes(1024, height=900, color="orange"), 900, generation=2)
    settle(heatmap.id, 2, exception=None)
    return heatmap


def test_the_runs_are_listed_newest_first_with_what_each_captured(
    client: FlaskClient, read_headers, saved_url, two_runs: SavedHeatmap
) -> None:
    body = client.get(saved_url(f"{two_runs.short_id}/runs/"), headers=read_headers).get_json()

    assert body["count"] == 2
    newest, first = body["results"]
    assert (newest["number"], newest["trigger"], newest["status"]) == (2, "regenerate", "completed")
    assert [snapshot["width"] for snapshot in newest["snapshots"]] == [1024]
    assert (first["number"], first["trigger"]) == (1, "create")
    assert [snapshot["width"] for snapshot in first["snapshots"]] == [320, 1024]
    assert newest["ended_at"] and newest["started_at"] <= newest["ended_at"]


def test_an_earlier_runs_screenshot_stays_reachable_by_its_number(
    client: FlaskClient, read_headers, saved_url, two_runs: SavedHeatmap
) -> None:
    response = client.get(saved_url(f"{two_runs.short_id}/runs/1/content?width=320"), headers=read_headers)

    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert Image.open(io.BytesIO(response.data)).size == (320, 600)
    assert client.get(saved_url(f"{two_runs.short_id}/runs/2/content?width=320"), headers=read_headers).status_code == 404
    assert client.get(saved_url(f"{two_runs.short_id}/runs/9/content?width=320"), headers=read_headers).status_code == 404


def test_the_diff_of_two_runs_gives_the_picture_and_the_figures(
    client: FlaskClient, read_headers, saved_url, two_runs: SavedHeatmap
) -> None:
    url = saved_url(f"{two_runs.short_id}/runs/diff?a=1&b=2&width=1024")

    picture = client.get(url, headers=read_headers)
    figures = client.get(url + "&format=json", headers=read_headers).get_json()

    assert picture.status_code == 200 and picture.mimetype == "image/jpeg"
    assert float(picture.headers["X-Heatmap-Changed-Share"]) == 1.0
    assert figures == {"before": 1, "after": 2, "width": 1024, "changed_share": 1.0, "height_before": 600,
                       "height_after": 900, "height_change": 300}


@pytest.mark.parametrize("query, attr", [("a=1&width=1024", "b"), ("a=x&b=2", "a")])
def test_a_diff_without_two_run_numbers_is_a_400_naming_the_parameter(
    client: FlaskClient, read_headers, saved_url, two_runs: SavedHeatmap, query: str, attr: str
) -> None:
    response = client.get(saved_url(f"{two_runs.short_id}/runs/diff?{query}"), headers=read_headers)

    assert response.status_code == 400 and response.get_json()["attr"] == attr


@pytest.mark.parametrize("recapture, message", [
    ({"frequency": "hourly"}, "frequency"),
    ({"frequency": "daily", "hour": 24}, "hour"),
    ({"frequency": "weekly", "weekday": 7}, "weekday"),
    ("daily", "valid dictionary"),
])
def test_a_bad_schedule_is_a_400_naming_the_field(
    client: FlaskClient, write_headers, saved_url, make_heatmap, recapture: Any, message: str
) -> None:
    heatmap = make_heatmap()

    response = client.patch(saved_url(f"{heatmap.short_id}/"), json={"recapture": recapture}, headers=write_headers)

    assert response.status_code == 400
    assert response.get_json()["attr"] == "recapture" and message in response.get_json()["detail"]


def test_a_webhook_to_an_internal_address_is_refused_like_a_capture(
    client: FlaskClient, write_headers, saved_url, make_heatmap
) -> None:
    heatmap = make_heatmap()

    response = client.patch(saved_url(f"{heatmap.short_id}/"), json={"change_webhook_url": "http://10.0.0.7/hook"},
                            headers=write_headers)

    assert response.status_code == 400 and response.get_json()["attr"] == "change_webhook_url"


def test_a_schedule_is_saved_and_shown(client: FlaskClient, write_headers, saved_url, make_heatmap) -> None:
    heatmap = make_heatmap()

    body = client.patch(saved_url(f"{heatmap.short_id}/"), json={"recapture": {"frequency": "weekly", "hour": 9,
                        "weekday": 4}}, headers=write_headers).get_json()

    assert body["recapture"] == {"frequency": "weekly", "hour": 9, "weekday": 4}
    assert body["changed_at"] is None and body["change_webhook_url"] is None
