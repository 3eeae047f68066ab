"""The media store in an S3-compatible bucket (moto's standalone server): the same promises as the local folder —
objects under server-made keys, replaced per width, never left without a row — and images streamed from the
bucket or answered with a redirect to a short-lived presigned URL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy.exc import OperationalError

from heatmap_app import storage
from heatmap_app.accounts import create_api_key, create_user
from heatmap_app.extensions import db
from heatmap_app.mediastores import S3MediaStore
from heatmap_app.models import HeatmapSnapshot, SavedHeatmap, User
from tests.conftest import AuthActions
from tests.support.s3_server import S3Server, s3_server
from tests.test_storage import jpeg, snapshot_writes_locked_elsewhere


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with s3_server() as server:
        yield server


@pytest.fixture
def prefix(request: pytest.FixtureRequest) -> str:
    return f"t-{request.node.name[:40]}"


@pytest.fixture
def app_config(s3: S3Server, prefix: str) -> dict[str, Any]:
    return s3.settings(prefix)


@pytest.fixture
def heatmap(app: Flask) -> SavedHeatmap:
    owner: User = create_user("s3@example.com", "correct horse battery")
    heatmap = SavedHeatmap(project=owner.current_project, created_by=owner, short_id="s3store1",
                           url="https://93.184.216.34/", target_widths=[1024], capture_generation=1)
    db.session.add(heatmap)
    db.session.commit()
    return heatmap


def stored_keys(s3: S3Server, prefix: str) -> list[str]:
    return [key.removeprefix(f"{prefix}/") for key in s3.keys(f"{prefix}/")]


def test_the_setting_selects_the_bucket_and_the_jpeg_and_its_thumbnail_land_under_the_prefix(
    app: Flask, s3: S3Server, prefix: str, heatmap: SavedHeatmap
) -> None:
    image = jpeg(1024, 2000)

    snapshot = storage.store_snapshot(heatmap, 1024, image, page_height=2000)

    assert isinstance(storage.media_store(), S3MediaStore)
    assert stored_keys(s3, prefix) == sorted([snapshot.file_path, snapshot.thumbnail_path])
    body = s3.client().get_object(Bucket=s3.bucket, Key=f"{prefix}/{snapshot.file_path}")["Body"].read()
    assert body == image == storage.read_snapshot(snapshot)


def test_a_new_capture_of_a_width_replaces_its_objects(app: Flask, s3: S3Server, prefix: str, heatmap) -> None:
    first = storage.store_snapshot(heatmap, 1024, jpeg(1024, 600, "red"), page_height=600)
    old_keys = [first.file_path, first.thumbnail_path]

    second = storage.store_snapshot(heatmap, 1024, jpeg(1024, 900, "blue"), page_height=900)

    keys = stored_keys(s3, prefix)
    assert keys == sorted([second.file_path, second.thumbnail_path])
    assert not set(old_keys) & set(keys)


def test_a_failed_commit_removes_the_new_objects_and_keeps_the_old_snapshot(
    app: Flask, s3: S3Server, prefix: str, heatmap
) -> None:
    first = storage.store_snapshot(heatmap, 1024, jpeg(1024, 600, "red"), page_height=600)
    kept = stored_keys(s3, prefix)

    with snapshot_writes_locked_elsewhere(app), pytest.raises(OperationalError):
        storage.store_snapshot(heatmap, 1024, jpeg(1024, 900, "blue"), page_height=900)

    assert stored_keys(s3, prefix) == kept
    db.session.expire_all()
    stored = db.session.get_one(HeatmapSnapshot, first.id)
    assert storage.media_store().exists(stored.file_path) and storage.media_store().exists(stored.thumbnail_path)


def test_deleting_snapshot_objects_empties_the_prefix(app: Flask, s3: S3Server, prefix: str, heatmap) -> None:
    snapshot = storage.store_snapshot(heatmap, 1024, jpeg(1024, 600), page_height=600)

    storage.delete_snapshot_files([snapshot])

    assert stored_keys(s3, prefix) == []


def content_request(app: Flask, heatmap: SavedHeatmap) -> tuple[str, dict[str, str]]:
    key = create_api_key(heatmap.created_by, "s3", ["heatmap:read"], None)[1]
    path = f"/api/projects/{heatmap.project_id}/heatmap_screenshots/{heatmap.id}/content?width=1024"
    return path, {"Authorization": f"Bearer {key}"}


def test_the_content_endpoint_streams_the_object_with_its_etag_and_revalidates(app: Flask, heatmap) -> None:
    image = jpeg(1024, 700, "green")
    snapshot = storage.store_snapshot(heatmap, 1024, image, page_height=700)
    path, headers = content_request(app, heatmap)
    client = app.test_client()

    response = client.get(path, headers=headers)
    again = client.get(path, headers={**headers, "If-None-Match": f'"{snapshot.content_hash}"'})

    assert response.status_code == 200 and response.data == image
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["ETag"] == f'"{snapshot.content_hash}"'
    assert response.headers["Content-Disposition"] == f'inline; filename="screenshot-{heatmap.id}-1024.jpg"'
    assert response.headers["Cache-Control"].startswith("private, max-age=")
    assert again.status_code == 304 and again.data == b""


def test_an_object_gone_from_the_bucket_answers_404_not_500(app: Flask, s3: S3Server, prefix: str, heatmap) -> None:
    snapshot = storage.store_snapshot(heatmap, 1024, jpeg(1024, 600), page_height=600)
    s3.client().delete_object(Bucket=s3.bucket, Key=f"{prefix}/{snapshot.file_path}")
    path, headers = content_request(app, heatmap)

    assert app.test_client().get(path, headers=headers).status_code == 404


def test_with_presigned_redirects_the_answer_is_a_short_lived_url_of_the_object(
    make_app: Any, s3: S3Server, prefix: str
) -> None:
    app = make_app(**s3.settings(prefix), S3_PRESIGNED_REDIRECT=True, S3_PRESIGNED_TTL=30)
    with app.app_context():
        owner = create_user("presign@example.com", "correct horse battery")
        heatmap = SavedHeatmap(project=owner.current_project, created_by=owner, short_id="presign1",
                               url="https://93.184.216.34/", target_widths=[1024], capture_generation=1)
        db.session.add(heatmap)
        db.session.commit()
        image = jpeg(1024, 500, "purple")
        storage.store_snapshot(heatmap, 1024, image, page_height=500)
        path, headers = content_request(app, heatmap)

        response = app.test_client().get(path, headers=headers)

    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(s3.endpoint_url) and "X-Amz-Expires=30" in location
    assert int(response.headers["Cache-Control"].rsplit("=", 1)[1]) <= 15
    fetched = requests.get(location, timeout=10)
    assert fetched.status_code == 200 and fetched.content == image
    assert fetched.headers["Content-Type"] == "image/jpeg"
    assert fetched.headers["Content-Disposition"] == f'inline; filename="screenshot-{heatmap.id}-1024.jpg"'


def test_the_ui_serves_the_thumbnail_from_the_bucket(app: Flask, heatmap: SavedHeatmap) -> None:
    snapshot = storage.store_snapshot(heatmap, 1024, jpeg(1024, 900, "teal"), page_height=900)
    client = app.test_client()
    AuthActions(client).login("s3@example.com", "correct horse battery")

    response = client.get(f"/heatmaps/{heatmap.short_id}/thumbnails/1024.jpg")

    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert response.data == storage.media_store().read(snapshot.thumbnail_path)
    assert response.headers["ETag"] == f'"thumb-{snapshot.content_hash}"'
