"""The media store: atomic, server-named snapshot files with a thumbnail each, replaced per width."""

from __future__ import annotations

import hashlib
import io
import math
import random
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from flask import Flask
from PIL import Image
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from heatmap_app import storage
from heatmap_app.capture.run import write_atomically
from heatmap_app.accounts import create_user
from heatmap_app.extensions import db
from heatmap_app.models import HeatmapSnapshot, SavedHeatmap, User
from tests.support.filesystems import small_filesystem

PAGE = 4096  # a tmpfs counts whole pages


def jpeg(width: int, height: int, color: str = "orange") -> bytes:
    output = io.BytesIO()
    Image.new("RGB", (width, height), color).save(output, format="JPEG")
    return output.getvalue()


@pytest.fixture
def heatmap(app: Flask) -> SavedHeatmap:
    owner: User = create_user("store@example.com", "correct horse battery")
    heatmap = SavedHeatmap(
        project=owner.current_project, created_by=owner, short_id="store001", url="https://93.184.216.34/",
        target_widths=[1024], capture_generation=3,
    )
    db.session.add(heatmap)
    db.session.commit()
    return heatmap


def media_files(app: Flask) -> list[Path]:
    return sorted(path for path in Path(app.config["MEDIA_ROOT"]).rglob("*") if path.is_file())


def test_stores_the_jpeg_under_a_server_generated_name_inside_the_media_root(app: Flask, heatmap) -> None:
    image = jpeg(1024, 3000)

    snapshot = storage.store_snapshot(heatmap.id, 1024, image, page_height=3200)

    path = storage.snapshot_file_path(snapshot)
    assert path.read_bytes() == image
    assert path.is_relative_to(Path(app.config["MEDIA_ROOT"]).resolve())
    assert heatmap.id in snapshot.file_path and not Path(snapshot.file_path).is_absolute()
    assert (snapshot.width, snapshot.height, snapshot.page_height, snapshot.byte_size) == (1024, 3000, 3200, len(image))
    assert snapshot.content_hash == hashlib.sha256(image).hexdigest()
    assert snapshot.has_content


def test_makes_a_320_pixel_thumbnail_of_the_top_of_the_page(app: Flask, heatmap) -> None:
    page = Image.new("RGB", (1280, 8000), "white")
    page.paste(Image.new("RGB", (1280, 400), "red"), (0, 0))  # a red header, then a white page
    output = io.BytesIO()
    page.save(output, format="JPEG")

    snapshot = storage.store_snapshot(heatmap, 1280, output.getvalue(), page_height=8000)

    thumbnail = Image.open(storage.thumbnail_file_path(snapshot))
    assert thumbnail.format == "JPEG"
    assert thumbnail.width == 320 and thumbnail.height == storage.THUMBNAIL_MAX_HEIGHT
    red, green, blue = thumbnail.getpixel((160, 20))
    assert red > 200 and green < 60 and blue < 60


def test_a_narrow_image_is_not_upscaled_in_its_thumbnail(app: Flask, heatmap) -> None:
    snapshot = storage.store_snapshot(heatmap, 200, jpeg(200, 300), page_height=300)

    assert Image.open(storage.thumbnail_file_path(snapshot)).size == (200, 300)


def test_storing_a_width_again_replaces_the_snapshot_and_removes_the_old_files(app: Flask, heatmap) -> None:
    first = storage.store_snapshot(heatmap, 1024, jpeg(1024, 600, "red"), page_height=600)
    old_files = [storage.snapshot_file_path(first), storage.thumbnail_file_path(first)]

    second = storage.store_snapshot(heatmap, 1024, jpeg(1024, 900, "blue"), page_height=900)

    assert db.session.query(HeatmapSnapshot).count() == 1
    assert second.height == 900
    assert not any(path.exists() for path in old_files)
    assert media_files(app) == sorted([storage.snapshot_file_path(second), storage.thumbnail_file_path(second)])


def test_a_capture_of_an_older_generation_stores_nothing(app: Flask, heatmap) -> None:
    with pytest.raises(storage.StaleCaptureError):
        storage.store_snapshot(heatmap, 1024, jpeg(1024, 600), page_height=600, generation=2)

    assert db.session.query(HeatmapSnapshot).count() == 0
    assert media_files(app) == []


@pytest.mark.parametrize("data", [b"", b"<html>not an image</html>", b"\x89PNG\r\n\x1a\n"])
def test_bytes_that_are_not_a_jpeg_are_refused(app: Flask, heatmap, data: bytes) -> None:
    with pytest.raises(storage.StorageError):
        storage.store_snapshot(heatmap, 1024, data, page_height=600)

    assert media_files(app) == []


def test_a_png_is_refused(app: Flask, heatmap) -> None:
    output = io.BytesIO()
    Image.new("RGB", (10, 10)).save(output, format="PNG")

    with pytest.raises(storage.StorageError, match="JPEG"):
        storage.store_snapshot(heatmap, 1024, output.getvalue(), page_height=10)


def test_write_atomically_leaves_no_temporary_file_and_replaces_whole(tmp_path: Path) -> None:
    target = tmp_path / "a" / "file.jpg"
    write_atomically(target, b"first")
    write_atomically(target, b"second version")

    assert target.read_bytes() == b"second version"
    assert [path.name for path in target.parent.iterdir()] == ["file.jpg"]


def test_a_recorded_path_outside_the_media_root_is_never_opened(app: Flask, heatmap) -> None:
    snapshot = storage.store_snapshot(heatmap, 1024, jpeg(1024, 600), page_height=600)
    snapshot.file_path = "../../etc/passwd"

    with pytest.raises(storage.StorageError):
        storage.snapshot_file_path(snapshot)


def test_deleting_snapshot_files_removes_image_and_thumbnail(app: Flask, heatmap) -> None:
    snapshot = storage.store_snapshot(heatmap, 1024, jpeg(1024, 600), page_height=600)

    storage.delete_snapshot_files([snapshot])

    assert media_files(app) == []


def noise_jpeg(width: int, height: int) -> bytes:
    """A JPEG that compresses badly, so its size (and its thumbnail's) is many pages of a small file system."""
    pixels = random.Random(width * height).randbytes(width * height * 3)
    output = io.BytesIO()
    Image.frombytes("RGB", (width, height), pixels).save(output, format="JPEG", quality=90)
    return output.getvalue()


def test_a_full_media_store_raises_media_store_full_and_keeps_no_file(app: Flask, heatmap) -> None:
    with small_filesystem(Path(app.config["MEDIA_ROOT"]), 4096):
        with pytest.raises(storage.MediaStoreFull, match="the media store is full"):
            storage.store_snapshot(heatmap, 1024, noise_jpeg(1024, 600), page_height=600)

        assert media_files(app) == []
    assert db.session.query(HeatmapSnapshot).count() == 0


def test_a_thumbnail_that_no_longer_fits_takes_the_written_screenshot_with_it(app: Flask, heatmap) -> None:
    image = noise_jpeg(1024, 600)
    thumbnail_size = len(storage.make_thumbnail(Image.open(io.BytesIO(image))))
    room = math.ceil(len(image) / PAGE) * PAGE  # the screenshot fits, and what is left is less than its thumbnail
    assert room - len(image) < thumbnail_size

    with small_filesystem(Path(app.config["MEDIA_ROOT"]), room):
        with pytest.raises(storage.MediaStoreFull):
            storage.store_snapshot(heatmap, 1024, image, page_height=600)

        assert media_files(app) == []
    assert db.session.query(HeatmapSnapshot).count() == 0


@contextmanager
def snapshot_writes_locked_elsewhere(app: Flask) -> Iterator[None]:
    """Another connection holds the lock a snapshot's INSERT needs, and this session waits 0.2 s at most for it:
    the commit fails as it does when a database is overloaded."""
    url = db.engine.url
    if url.get_backend_name() == "sqlite":
        holder = sqlite3.connect(url.database, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        db.session.execute(text("PRAGMA busy_timeout = 200"))
    else:
        holder = psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))
        holder.execute("LOCK TABLE heatmap_snapshot IN EXCLUSIVE MODE")
        db.session.execute(text("SET LOCAL lock_timeout = '200ms'"))
    try:
        yield
    finally:
        holder.rollback()
        holder.close()


def test_a_failed_commit_removes_the_new_files_and_keeps_the_old_snapshot(app: Flask, heatmap) -> None:
    first = storage.store_snapshot(heatmap, 1024, jpeg(1024, 600, "red"), page_height=600)
    kept = media_files(app)

    with snapshot_writes_locked_elsewhere(app), pytest.raises(OperationalError):
        storage.store_snapshot(heatmap, 1024, jpeg(1024, 900, "blue"), page_height=900)

    assert media_files(app) == kept
    db.session.expire_all()
    stored = db.session.get_one(HeatmapSnapshot, first.id)
    assert (stored.height, storage.snapshot_file_path(stored).exists()) == (600, True)


def test_a_retina_image_is_stored_with_its_css_height(app: Flask, heatmap) -> None:
    snapshot = storage.store_snapshot(heatmap, 1024, jpeg(2048, 3000), page_height=1500)

    assert (snapshot.width, snapshot.height, snapshot.page_height) == (1024, 1500, 1500)
