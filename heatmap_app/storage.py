"""The media store: snapshot JPEGs and their thumbnails, in MEDIA_ROOT or an S3 bucket (heatmap_app.mediastores).

Objects are written whole or not at all under keys the server generates, so a reader sees either nothing or a
whole file, and no user input ever reaches a key. The database keeps the keys. Objects are never left without a
row: a snapshot whose thumbnail or commit fails takes its objects with it; and since a key is random and only a
committed row names it, no object is served before its row is committed.
"""

from __future__ import annotations

import hashlib
import io
import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path

from flask import Response, abort, current_app, request
from PIL import Image, UnidentifiedImageError
from sqlalchemy import select

from heatmap_app.extensions import db
from heatmap_app.mediastores import (
    LocalMediaStore,
    MediaStore,
    MediaStoreError,
    MissingObject,
    NoRoom,
    build_media_store,
)
from heatmap_app.models import HeatmapSnapshot, SavedHeatmap
from heatmap_app.models.base import utcnow

SNAPSHOT_FOLDER = "snapshots"
THUMBNAIL_WIDTH = 320
THUMBNAIL_MAX_HEIGHT = 480  # the top of the page: what a person recognises a page by
THUMBNAIL_QUALITY = 70


class StorageError(ValueError):
    """Bytes that cannot be stored as a snapshot."""


class MediaStoreFull(StorageError):
    """The media store has no room left: trying the capture again will not help until an admin frees space."""

    def __init__(self) -> None:
        super().__init__("The screenshot could not be saved: the media store is full. Tell your admin.")


class StaleCaptureError(RuntimeError):
    """A capture of an older generation tried to store a snapshot; the heatmap has moved on."""


def media_store() -> MediaStore:
    """The app's media store, built once per app from its settings."""
    store = current_app.extensions.get("heatmap_media_store")
    if store is None:
        store = current_app.extensions["heatmap_media_store"] = build_media_store(current_app.config)
    return store


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_thumbnail(image: Image.Image) -> bytes:
    """A JPEG at most THUMBNAIL_WIDTH wide (never upscaled), cropped to the top of the page."""
    target_width = min(THUMBNAIL_WIDTH, image.width)
    scale = target_width / image.width
    source_height = min(image.height, round(THUMBNAIL_MAX_HEIGHT / scale))
    target_height = max(1, round(source_height * scale))
    thumbnail = image.crop((0, 0, image.width, source_height)).convert("RGB")
    thumbnail = thumbnail.resize((target_width, target_height), Image.Resampling.LANCZOS)
    output = io.BytesIO()
    thumbnail.save(output, format="JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
    return output.getvalue()


def _open_jpeg(jpeg_bytes: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(jpeg_bytes))
        image.load()
    except (UnidentifiedImageError, OSError) as error:
        raise StorageError(f"Not a readable image: {error}") from None
    if image.format != "JPEG":
        raise StorageError(f"Snapshots are JPEG; got {image.format}.")
    return image


def _local_path(key: str) -> Path:
    store = media_store()
    if not isinstance(store, LocalMediaStore):
        raise StorageError("The media store is not a local folder.")
    try:
        return store.path(key)
    except MediaStoreError as error:
        raise StorageError(str(error)) from None


def snapshot_file_path(snapshot: HeatmapSnapshot) -> Path:
    """The snapshot's file in a local media store (for tests and tools that work on files)."""
    return _local_path(snapshot.file_path)


def thumbnail_file_path(snapshot: HeatmapSnapshot) -> Path:
    return _local_path(snapshot.thumbnail_path)


def read_snapshot(snapshot: HeatmapSnapshot) -> bytes:
    return media_store().read(snapshot.file_path)


def jpeg_response(key: str, last_modified: datetime, *, etag: str, max_age: int,
                  headers: Mapping[str, str] | None = None) -> Response:
    """A stored JPEG as a private, revalidatable response (ETag, 304 on If-None-Match); MissingObject when the
    object is gone. The 304 is answered before the store is asked."""
    all_headers = {"Cache-Control": f"private, max-age={max_age}", "X-Content-Type-Options": "nosniff",
                   **(headers or {})}
    if etag in request.if_none_match:
        response = Response(status=304)
        response.set_etag(etag)
        response.headers.update(all_headers)
        return response
    response = media_store().response(key, all_headers, etag=etag, max_age=max_age)
    response.last_modified = last_modified
    return response


def send_jpeg(key: str, snapshot: HeatmapSnapshot, *, etag: str, max_age: int,
              headers: Mapping[str, str] | None = None) -> Response:
    """jpeg_response for the API and the UI: an object replaced by a newer capture between the lookup and here
    answers 404, never a 500."""
    try:
        return jpeg_response(key, snapshot.created_at, etag=etag, max_age=max_age, headers=headers)
    except MissingObject:
        abort(404, "This screenshot was just replaced by a newer capture; request it again.")


def store_snapshot(
    heatmap: SavedHeatmap | str,
    width: int,
    jpeg_bytes: bytes,
    page_height: int,
    *,
    generation: int | None = None,
) -> HeatmapSnapshot:
    """Store the screenshot of `heatmap`'s current run at viewport `width` (replacing an earlier one of the same run,
    from an earlier try) and commit.

    With `generation`, a capture that is no longer the heatmap's current one raises StaleCaptureError
    and stores nothing. The replaced files are removed only after the commit, so a concurrent reader
    of the old row still finds its file.
    """
    if isinstance(heatmap, str):
        heatmap = db.session.get_one(SavedHeatmap, heatmap)
    if generation is not None and generation != heatmap.capture_generation:
        raise StaleCaptureError(
            f"Generation {generation} of heatmap {heatmap.id} is stale (now {heatmap.capture_generation})."
        )
    image = _open_jpeg(jpeg_bytes)
    snapshot = db.session.scalar(
        select(HeatmapSnapshot).where(
            HeatmapSnapshot.heatmap_id == heatmap.id,
            HeatmapSnapshot.generation == heatmap.capture_generation,
            HeatmapSnapshot.width == width,
        )
    )
    thumbnail = make_thumbnail(image)
    token = secrets.token_hex(8)
    folder = f"{SNAPSHOT_FOLDER}/{heatmap.id}"
    file_path = f"{folder}/{width}-{token}.jpg"
    thumbnail_path = f"{folder}/{width}-{token}-thumb.jpg"
    store = media_store()
    written: list[str] = []
    try:
        for key, data in ((file_path, jpeg_bytes), (thumbnail_path, thumbnail)):
            store.put(key, data)
            written.append(key)
        replaced = [snapshot.file_path, snapshot.thumbnail_path] if snapshot is not None else []
        if snapshot is None:
            snapshot = HeatmapSnapshot(heatmap_id=heatmap.id, generation=heatmap.capture_generation, width=width)
            db.session.add(snapshot)
        # In CSS px, as the width: a retina (2x) image is twice as many pixels each way.
        snapshot.height = round(image.height * width / image.width)
        snapshot.page_height = page_height
        snapshot.byte_size = len(jpeg_bytes)
        snapshot.file_path = file_path
        snapshot.thumbnail_path = thumbnail_path
        snapshot.content_hash = content_hash(jpeg_bytes)
        snapshot.created_at = utcnow()
        db.session.commit()
    except BaseException as error:
        db.session.rollback()
        for key in written:
            store.delete(key)
        if isinstance(error, NoRoom):
            raise MediaStoreFull() from error
        raise
    db.session.expire(heatmap, ["snapshots", "all_snapshots"])
    for key in replaced:
        store.delete(key)
    return snapshot


def delete_snapshot_files(snapshots: Iterable[HeatmapSnapshot]) -> None:
    """Remove the objects of snapshots whose rows are already gone."""
    store = media_store()
    for snapshot in snapshots:
        store.delete(snapshot.file_path)
        store.delete(snapshot.thumbnail_path)
