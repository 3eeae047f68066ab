"""GET heatmap_screenshots/<id>/content?width=N: the screenshot, or 202 with the heatmap while there is none."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from flask.testing import FlaskClient

from heatmap_app import storage
from heatmap_app.extensions import db
from heatmap_app.models import SavedHeatmap
from tests.api.conftest import jpeg_bytes


@pytest.fixture
def content_url(project):
    return lambda heatmap_id, query="": f"/api/environments/{project.id}/heatmap_screenshots/{heatmap_id}/content{query}"


def served_width(response) -> int:
    disposition = response.headers["Content-Disposition"]
    named = int(disposition.rsplit("-", 1)[1].removesuffix('.jpg"'))
    assert int(response.headers["X-Screenshot-Width"]) == named
    return named


def test_width_defaults_to_1024(client: FlaskClient, read_headers, content_url, make_heatmap, add_snapshot) -> None:
    heatmap = make_heatmap()
    for width in (320, 1024, 1440):
        add_snapshot(heatmap, width)

    response = client.get(content_url(heatmap.id), headers=read_headers)

    assert response.status_code == 200 and served_width(response) == 1024


def test_a_snapshot_at_exactly_the_width_is_served(
    client: FlaskClient, read_headers, content_url, make_heatmap, add_snapshot
) -> None:
    heatmap = make_heatmap()
    add_snapshot(heatmap, 320, color="red")
    exact = add_snapshot(heatmap, 375, color="green")

    response = client.get(content_url(heatmap.id, "?width=375"), headers=read_headers)

    assert response.status_code == 200
    assert response.data == storage.snapshot_file_path(exact).read_bytes()


@pytest.mark.parametrize(
    ("width", "expected"),
    [(1000, 1024), (100, 320), (5000, 1440), (672, 320), (673, 1024), (1232, 1024)],
)
def test_otherwise_the_nearest_width_with_content_is_served_ties_to_the_smaller(
    client: FlaskClient, read_headers, content_url, make_heatmap, add_snapshot, width, expected
) -> None:
    heatmap = make_heatmap()
    for stored in (320, 1024, 1440):
        add_snapshot(heatmap, stored)

    response = client.get(content_url(heatmap.id, f"?width={width}"), headers=read_headers)

    assert response.status_code == 200 and served_width(response) == expected


def test_a_snapshot_without_content_is_skipped(
    client: FlaskClient, read_headers, content_url, make_heatmap, add_snapshot
) -> None:
    heatmap = make_heatmap()
    add_snapshot(heatmap, 320)
    empty = add_snapshot(heatmap, 1024)
    empty.byte_size = 0
    db.session.commit()

    response = client.get(content_url(heatmap.id, "?width=1024"), headers=read_headers)

    assert served_width(response) == 320


@pytest.mark.parametrize("status", ["processing", "failed"])
def test_without_any_snapshot_it_answers_202_with_the_heatmap(
    client: FlaskClient, read_headers, content_url, saved_url, make_heatmap, status
) -> None:
    heatmap = make_heatmap(status=status, exception="Navigation timed out" if status == "failed" else None)

    response = client.get(content_url(heatmap.id), headers=read_headers)

    assert response.status_code == 202
    assert response.get_json() == client.get(saved_url(f"{heatmap.short_id}/"), headers=read_headers).get_json()
    assert response.get_json()["status"] == status


def test_snapshots_are_served_one_width_at_a_time_while_processing(
    client: FlaskClient, read_headers, content_url, make_heatmap, add_snapshot
) -> None:
    heatmap = make_heatmap(status="processing", target_widths=[320, 1024])
    before = client.get(content_url(heatmap.id, "?width=320"), headers=read_headers)
    add_snapshot(heatmap, 320)

    after = client.get(content_url(heatmap.id, "?width=320"), headers=read_headers)

    assert before.status_code == 202
    assert after.status_code == 200 and served_width(after) == 320
    assert heatmap.status == "processing"


def test_while_processing_a_target_width_not_captured_yet_answers_202_never_another_width(
    client: FlaskClient, read_headers, content_url, make_heatmap, add_snapshot
) -> None:
    heatmap = make_heatmap(status="processing", target_widths=[320, 1024, 1920])
    add_snapshot(heatmap, 320)

    pending = client.get(content_url(heatmap.id, "?width=1920"), headers=read_headers)
    captured = client.get(content_url(heatmap.id, "?width=320"), headers=read_headers)
    not_a_target = client.get(content_url(heatmap.id, "?width=1800"), headers=read_headers)

    assert pending.status_code == 202 and pending.get_json()["status"] == "processing"
    assert captured.status_code == 200 and served_width(captured) == 320
    assert not_a_target.status_code == 200 and served_width(not_a_target) == 320


def test_once_settled_a_target_width_that_failed_is_served_as_the_nearest(
    client: FlaskClient, read_headers, content_url, make_heatmap, add_snapshot
) -> None:
    heatmap = make_heatmap(status="completed", target_widths=[320, 1024])
    add_snapshot(heatmap, 320)

    response = client.get(content_url(heatmap.id, "?width=1024"), headers=read_headers)

    assert response.status_code == 200 and served_width(response) == 320


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("post", "regenerate/", None), ("patch", "", {"url": "https://93.184.216.34/other-page"})],
)
def test_after_regenerate_or_a_new_url_the_old_capture_is_never_served_even_when_the_new_one_fails(
    client: FlaskClient, read_headers, write_headers, content_url, saved_url, make_heatmap, add_snapshot,
    method, path, body,
) -> None:
    heatmap = make_heatmap(target_widths=[320, 1024])
    add_snapshot(heatmap, 320)
    add_snapshot(heatmap, 1024)
    assert client.get(content_url(heatmap.id), headers=read_headers).status_code == 200

    assert getattr(client, method)(saved_url(f"{heatmap.short_id}/{path}"), json=body, headers=write_headers).status_code == 200
    while_capturing = client.get(content_url(heatmap.id, "?width=700"), headers=read_headers)
    # The new generation's capture fails before storing anything; a worker of the old one comes too late.
    with pytest.raises(storage.StaleCaptureError):
        storage.store_snapshot(heatmap.id, 1024, jpeg_bytes(1024), page_height=600, generation=1)
    heatmap = db.session.get(SavedHeatmap, heatmap.id)
    heatmap.status, heatmap.exception = "failed", "The page took too long to capture."
    db.session.commit()
    after_failure = client.get(content_url(heatmap.id), headers=read_headers)

    assert while_capturing.status_code == 202
    assert after_failure.status_code == 202
    assert (after_failure.get_json()["has_content"], after_failure.get_json()["snapshots"]) == (False, [])
    assert after_failure.get_json()["exception"] == "The page took too long to capture."


def test_deleted_unknown_and_other_projects_heatmaps_are_404(
    client: FlaskClient, read_headers, content_url, make_heatmap, add_snapshot, other_user
) -> None:
    deleted = make_heatmap(deleted=True)
    add_snapshot(deleted, 1024)
    theirs = make_heatmap(owner=other_user, in_project=other_user.current_project)
    add_snapshot(theirs, 1024)

    for heatmap_id in (deleted.id, theirs.id, str(uuid.uuid4()), "not-a-uuid"):
        response = client.get(content_url(heatmap_id), headers=read_headers)
        assert response.status_code == 404
        assert response.get_json()["type"] == "invalid_request"


@pytest.mark.parametrize("width", ["abc", "1.5", "-3", "0", "", "1e3", "٣٢٠"])
def test_a_width_that_is_not_a_positive_integer_answers_400(
    client: FlaskClient, read_headers, content_url, make_heatmap, add_snapshot, width
) -> None:
    heatmap = make_heatmap()
    add_snapshot(heatmap, 1024)

    response = client.get(content_url(heatmap.id, f"?width={width}"), headers=read_headers)

    assert response.status_code == 400
    assert response.get_json()["attr"] == "width"


def test_the_image_is_served_with_caching_and_safety_headers(
    client: FlaskClient, read_headers, content_url, make_heatmap
) -> None:
    heatmap = make_heatmap()
    image = jpeg_bytes(768)
    storage.store_snapshot(heatmap, 768, image, page_height=600)

    response = client.get(content_url(heatmap.id, "?width=768"), headers=read_headers)

    assert response.status_code == 200
    assert response.data == image
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["Content-Disposition"] == f'inline; filename="screenshot-{heatmap.id}-768.jpg"'
    assert response.headers["ETag"] == f'"{hashlib.sha256(image).hexdigest()}"'  # strong: no W/
    assert response.headers["Cache-Control"] == "private, max-age=60"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_matching_if_none_match_answers_304_without_the_image(
    client: FlaskClient, read_headers, content_url, make_heatmap, add_snapshot
) -> None:
    heatmap = make_heatmap()
    add_snapshot(heatmap, 1024)
    etag = client.get(content_url(heatmap.id), headers=read_headers).headers["ETag"]

    revalidated = client.get(content_url(heatmap.id), headers={**read_headers, "If-None-Match": etag})
    stale = client.get(content_url(heatmap.id), headers={**read_headers, "If-None-Match": '"something-else"'})

    assert revalidated.status_code == 304 and revalidated.data == b""
    assert revalidated.headers["ETag"] == etag
    assert stale.status_code == 200 and stale.data


def test_a_new_capture_of_the_width_changes_the_etag(
    client: FlaskClient, read_headers, content_url, make_heatmap, add_snapshot
) -> None:
    heatmap = make_heatmap()
    add_snapshot(heatmap, 1024, color="red")
    old_etag = client.get(content_url(heatmap.id), headers=read_headers).headers["ETag"]
    add_snapshot(heatmap, 1024, color="blue")

    response = client.get(content_url(heatmap.id), headers={**read_headers, "If-None-Match": old_etag})

    assert response.status_code == 200 and response.headers["ETag"] != old_etag


def test_the_content_endpoint_answers_under_the_projects_prefix_too(
    client: FlaskClient, read_headers, project, make_heatmap, add_snapshot
) -> None:
    heatmap = make_heatmap()
    add_snapshot(heatmap, 1024)

    response = client.get(f"/api/projects/@current/heatmap_screenshots/{heatmap.id}/content/", headers=read_headers)

    assert response.status_code == 200


def test_the_content_endpoint_needs_a_key(client: FlaskClient, content_url, make_heatmap) -> None:
    heatmap = make_heatmap()

    assert client.get(content_url(heatmap.id)).status_code == 401
