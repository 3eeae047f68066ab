"""GET, PATCH and DELETE saved/<short_id>/, and POST saved/<short_id>/regenerate/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from rq.job import Job

from heatmap_app import storage
from heatmap_app.extensions import db
from heatmap_app.models import SavedHeatmap
from heatmap_app.queue import enqueue_capture
from tests.api.conftest import PAGE_URL, queued_captures


def fresh(heatmap: SavedHeatmap) -> SavedHeatmap:
    db.session.expire_all()
    return db.session.get(SavedHeatmap, heatmap.id)


# --- retrieve -------------------------------------------------------------------------------------


def test_retrieve_answers_the_same_object_as_the_list(
    client: FlaskClient, read_headers, saved_url, make_heatmap, add_snapshot
) -> None:
    heatmap = make_heatmap(name="Pricing")
    add_snapshot(heatmap, 1024)
    add_snapshot(heatmap, 320)

    detail = client.get(saved_url(f"{heatmap.short_id}/"), headers=read_headers)
    listed = client.get(saved_url(), headers=read_headers).get_json()["results"][0]

    assert detail.status_code == 200
    assert detail.get_json() == listed
    assert detail.get_json()["snapshots"] == [{"width": 320, "has_content": True}, {"width": 1024, "has_content": True}]
    assert detail.get_json()["has_content"] is True


@pytest.mark.parametrize("path", ["/api/environments/@current/saved/{short_id}", "/api/projects/{project}/saved/{short_id}/"])
def test_retrieve_answers_under_both_prefixes(client: FlaskClient, read_headers, project, make_heatmap, path) -> None:
    heatmap = make_heatmap()

    response = client.get(path.format(project=project.id, short_id=heatmap.short_id), headers=read_headers)

    assert response.status_code == 200 and response.get_json()["id"] == heatmap.id


def test_a_soft_deleted_heatmap_is_still_retrievable_marked_deleted(
    client: FlaskClient, read_headers, saved_url, make_heatmap
) -> None:
    deleted = make_heatmap(deleted=True, name="Gone")

    response = client.get(saved_url(f"{deleted.short_id}/"), headers=read_headers)

    assert response.status_code == 200
    assert (response.get_json()["name"], response.get_json()["deleted"]) == ("Gone", True)


def test_unknown_and_other_projects_heatmaps_are_404(
    client: FlaskClient, read_headers, saved_url, make_heatmap, other_user
) -> None:
    theirs = make_heatmap(owner=other_user, in_project=other_user.current_project)

    for short_id in (theirs.short_id, "nope1234"):
        response = client.get(saved_url(f"{short_id}/"), headers=read_headers)
        assert response.status_code == 404
        assert response.get_json()["type"] == "invalid_request"


def test_retrieve_re_enqueues_a_capture_stuck_in_processing_without_a_job(
    client: FlaskClient, read_headers, saved_url, make_heatmap, capture_queue
) -> None:
    stuck = make_heatmap(status="processing", age=timedelta(minutes=11))

    first = client.get(saved_url(f"{stuck.short_id}/"), headers=read_headers)
    second = client.get(saved_url(f"{stuck.short_id}/"), headers=read_headers)

    assert first.status_code == second.status_code == 200
    assert first.get_json()["status"] == "processing"
    assert queued_captures(capture_queue) == [("jobs.capture.capture_heatmap", stuck.id, 1)]  # once, not per read
    assert fresh(stuck).capture_enqueued_at > stuck.created_at + timedelta(minutes=10)  # queued again now


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"status": "processing", "age": timedelta(seconds=30)}, "queued under a minute ago: maybe still on its way"),
        ({"status": "completed", "age": timedelta(hours=2)}, "not processing"),
        ({"status": "failed", "age": timedelta(hours=2)}, "not processing"),
        ({"status": "processing", "type": "iframe", "age": timedelta(hours=2)}, "not a screenshot"),
    ],
)
def test_retrieve_leaves_other_heatmaps_alone(
    client: FlaskClient, read_headers, saved_url, make_heatmap, capture_queue, fields, reason
) -> None:
    heatmap = make_heatmap(**fields)

    client.get(saved_url(f"{heatmap.short_id}/"), headers=read_headers)

    assert queued_captures(capture_queue) == [], reason


def test_a_capture_still_waiting_in_the_queue_is_slow_not_stuck(
    client: FlaskClient, read_headers, saved_url, make_heatmap, capture_queue, redis_conn
) -> None:
    heatmap = make_heatmap(status="processing", age=timedelta(minutes=30))
    job = enqueue_capture(heatmap.id, 1)

    client.get(saved_url(f"{heatmap.short_id}/"), headers=read_headers)

    assert capture_queue.job_ids == [job.id]
    assert Job.fetch(job.id, connection=redis_conn).get_status() == "queued"


# --- update ---------------------------------------------------------------------------------------


def test_renaming_does_not_regenerate(
    client: FlaskClient, write_headers, saved_url, make_heatmap, capture_queue
) -> None:
    heatmap = make_heatmap(name="Old")

    response = client.patch(saved_url(f"{heatmap.short_id}/"), json={"name": "New"}, headers=write_headers)

    assert response.status_code == 200
    assert (response.get_json()["name"], response.get_json()["status"]) == ("New", "completed")
    assert fresh(heatmap).capture_generation == 1
    assert queued_captures(capture_queue) == []


@pytest.mark.parametrize(
    "change",
    [{"url": "https://93.184.216.34/new"}, {"widths": [768, 1024]}, {"block_consent_modals": True}],
)
def test_changing_url_widths_or_consent_blocking_regenerates(
    client: FlaskClient, write_headers, saved_url, make_heatmap, capture_queue, change
) -> None:
    heatmap = make_heatmap(status="failed", exception="Timed out")

    response = client.patch(saved_url(f"{heatmap.short_id}/"), json=change, headers=write_headers)

    body = response.get_json()
    assert response.status_code == 200
    assert (body["status"], body["exception"]) == ("processing", None)
    assert queued_captures(capture_queue) == [("jobs.capture.capture_heatmap", heatmap.id, 2)]


def test_patching_with_unchanged_capture_fields_does_not_regenerate(
    client: FlaskClient, write_headers, saved_url, make_heatmap, capture_queue
) -> None:
    heatmap = make_heatmap(target_widths=[320, 1024])

    response = client.patch(
        saved_url(f"{heatmap.short_id}/"),
        json={"url": PAGE_URL, "widths": [1024, 320, 320], "block_consent_modals": False, "data_url": "https://93.184.216.34/*"},
        headers=write_headers,
    )

    assert response.get_json()["status"] == "completed"
    assert response.get_json()["data_url"] == "https://93.184.216.34/*"
    assert queued_captures(capture_queue) == []


def test_patching_deleted_true_soft_deletes(client: FlaskClient, write_headers, saved_url, make_heatmap) -> None:
    heatmap = make_heatmap()

    response = client.patch(saved_url(heatmap.short_id), json={"deleted": True}, headers=write_headers)

    assert response.status_code == 200 and response.get_json()["deleted"] is True
    assert client.get(saved_url(), headers=write_headers).get_json()["count"] == 0


def test_patching_deleted_false_restores(client: FlaskClient, write_headers, saved_url, make_heatmap, capture_queue) -> None:
    heatmap = make_heatmap(deleted=True, name="Back")

    response = client.patch(saved_url(heatmap.short_id), json={"deleted": False}, headers=write_headers)

    assert response.status_code == 200 and response.get_json()["deleted"] is False
    assert [item["name"] for item in client.get(saved_url(), headers=write_headers).get_json()["results"]] == ["Back"]
    assert fresh(heatmap).status == "completed" and queued_captures(capture_queue) == []


def test_a_recording_heatmap_is_stored_completed_and_never_captured(
    client: FlaskClient, write_headers, saved_url, capture_queue
) -> None:
    response = client.post(saved_url(), json={"url": PAGE_URL, "type": "recording"}, headers=write_headers)

    assert response.status_code == 201
    assert (response.get_json()["type"], response.get_json()["status"]) == ("recording", "completed")
    assert queued_captures(capture_queue) == []
    regenerate = client.post(saved_url(f"{response.get_json()['short_id']}/regenerate/"), headers=write_headers)
    assert regenerate.status_code == 400 and regenerate.get_json()["attr"] == "type"


def test_changing_the_type_to_screenshot_captures_and_away_from_it_stops(
    client: FlaskClient, write_headers, saved_url, make_heatmap, capture_queue
) -> None:
    heatmap = make_heatmap(type="iframe")

    to_screenshot = client.patch(saved_url(heatmap.short_id), json={"type": "screenshot"}, headers=write_headers)
    to_recording = client.patch(saved_url(heatmap.short_id), json={"type": "recording"}, headers=write_headers)

    assert to_screenshot.get_json()["status"] == "processing"
    assert queued_captures(capture_queue) == [("jobs.capture.capture_heatmap", heatmap.id, 2)]
    assert (to_recording.get_json()["type"], to_recording.get_json()["status"]) == ("recording", "completed")
    assert fresh(heatmap).capture_generation == 3  # the queued job of generation 2 writes nothing


@pytest.mark.parametrize(
    ("payload", "attr"),
    [
        ({"name": "n" * 5000}, "name"),
        ({"url": "http://10.0.0.1/"}, "url"),
        ({"widths": [50]}, "widths"),
        ({"block_consent_modals": 1}, "block_consent_modals"),
        ({"deleted": "yes"}, "deleted"),
    ],
)
def test_invalid_updates_answer_400_and_change_nothing(
    client: FlaskClient, write_headers, saved_url, make_heatmap, payload, attr
) -> None:
    heatmap = make_heatmap(name="Kept")

    response = client.patch(saved_url(f"{heatmap.short_id}/"), json=payload, headers=write_headers)

    assert response.status_code == 400 and response.get_json()["attr"] == attr
    after = fresh(heatmap)
    assert (after.name, after.url, after.target_widths, after.deleted) == ("Kept", PAGE_URL, [320, 1024], False)


def test_an_update_with_a_body_that_is_not_an_object_answers_400(
    client: FlaskClient, write_headers, saved_url, make_heatmap
) -> None:
    heatmap = make_heatmap()

    response = client.patch(saved_url(f"{heatmap.short_id}/"), data="[]", headers=write_headers, content_type="application/json")

    assert response.status_code == 400


def test_a_read_only_key_cannot_update(client: FlaskClient, read_headers, saved_url, make_heatmap) -> None:
    heatmap = make_heatmap()

    assert client.patch(saved_url(f"{heatmap.short_id}/"), json={"name": "x"}, headers=read_headers).status_code == 403


# --- delete ---------------------------------------------------------------------------------------


def test_delete_is_soft_and_answers_204(client: FlaskClient, write_headers, saved_url, make_heatmap) -> None:
    heatmap = make_heatmap()

    response = client.delete(saved_url(f"{heatmap.short_id}/"), headers=write_headers)

    assert response.status_code == 204 and response.data == b""
    assert fresh(heatmap).deleted is True  # the row stays
    assert client.get(saved_url(f"{heatmap.short_id}/"), headers=write_headers).get_json()["deleted"] is True
    assert client.get(saved_url(), headers=write_headers).get_json()["count"] == 0
    assert client.delete(saved_url(f"{heatmap.short_id}/"), headers=write_headers).status_code == 404


# --- regenerate -----------------------------------------------------------------------------------


def test_regenerate_restarts_processing_clears_the_exception_and_enqueues(
    client: FlaskClient, write_headers, saved_url, make_heatmap, add_snapshot, capture_queue
) -> None:
    heatmap = make_heatmap(status="failed", exception="Page took too long")
    add_snapshot(heatmap, 1024)

    response = client.post(saved_url(f"{heatmap.short_id}/regenerate/"), headers=write_headers)

    body = response.get_json()
    assert response.status_code == 200
    assert (body["status"], body["exception"]) == ("processing", None)
    assert fresh(heatmap).capture_generation == 2
    assert queued_captures(capture_queue) == [("jobs.capture.capture_heatmap", heatmap.id, 2)]
    # As PostHog does: the previous run's screenshot is no longer served (its run keeps it, for the history).
    assert (body["snapshots"], body["has_content"]) == ([], False)
    assert [(run.generation, run.status) for run in fresh(heatmap).runs] == [(2, "processing")]


@pytest.mark.parametrize(
    "change", [{"widths": [1024, 1440]}, {"url": "https://93.184.216.34/new"}, {"block_consent_modals": True}]
)
def test_a_regenerating_change_serves_none_of_the_previous_screenshots_and_keeps_them_for_the_history(
    client: FlaskClient, write_headers, saved_url, make_heatmap, add_snapshot, change
) -> None:
    heatmap = make_heatmap(target_widths=[320, 1024])
    files = [storage.snapshot_file_path(add_snapshot(heatmap, width)) for width in (320, 1024)]

    body = client.patch(saved_url(f"{heatmap.short_id}/"), json=change, headers=write_headers).get_json()

    assert (body["status"], body["snapshots"], body["has_content"]) == ("processing", [], False)
    assert all(path.exists() for path in files)  # generation 1's, until HEATMAP_RUNS_KEPT newer runs replace it


def test_regenerate_refuses_non_screenshot_heatmaps(
    client: FlaskClient, write_headers, saved_url, make_heatmap, capture_queue
) -> None:
    heatmap = make_heatmap(type="iframe")

    response = client.post(saved_url(f"{heatmap.short_id}/regenerate"), headers=write_headers)

    assert response.status_code == 400 and response.get_json()["attr"] == "type"
    assert queued_captures(capture_queue) == []


def test_regenerate_of_a_deleted_heatmap_is_404(client: FlaskClient, write_headers, saved_url, make_heatmap) -> None:
    heatmap = make_heatmap(deleted=True)

    assert client.post(saved_url(f"{heatmap.short_id}/regenerate/"), headers=write_headers).status_code == 404
