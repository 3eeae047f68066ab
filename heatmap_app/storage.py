"""The media store: snapshot JPEGs and their thumbnails under MEDIA_ROOT.

Files are written atomically (a temp file in the same folder, then os.replace) under names the server
generates, so a reader sees either nothing or a whole file, and no user input ever reaches a path.
The database keeps paths relative to MEDIA_ROOT. Files are never left without a row: a snapshot whose
thumbnail or commit fails takes its files with it.
"""

from __future__ import annotations

import errno
import hashlib
import io
import secrets
from collections.abc import Iterable
from pathlib import Path

from flask import Response, abort, current_app, send_file
from PIL import Image, UnidentifiedImageError
from sqlalchemy import select

from heatmap_app.capture.run import write_atomically
from heatmap_app.extensions import db
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


# A file system out of space (or of the user's quota) answers with one of these.
NO_SPACE_ERRORS = (errno.ENOSPC, errno.EDQUOT)


class StaleCaptureError(RuntimeError):
    """A capture of an older generation tried to store a snapshot; the heatmap has moved on."""


def media_root() -> Path:
    return Path(current_app.config["MEDIA_ROOT"]).resolve()


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


def _absolute(relative_path: str) -> Path:
    root = media_root()
    path = (root / relative_path).resolve()
    if not path.is_relative_to(root):
        raise StorageError(f"{relative_path!r} is outside the media root.")
    return path


def snapshot_file_path(snapshot: HeatmapSnapshot) -> Path:
    return _absolute(snapshot.file_path)


def thumbnail_file_path(snapshot: HeatmapSnapshot) -> Path:
    return _absolute(snapshot.thumbnail_path)


def send_jpeg(path: Path, snapshot: HeatmapSnapshot, *, etag: str, max_age: int) -> Response:
    """A stored JPEG as a private, revalidatable response (ETag, 304 on If-None-Match), for the API and the UI.

    A file replaced by a newer capture between the lookup and here answers 404, never a 500.
    """
    if not path.is_file():
        abort(404, "This screenshot was just replaced by a newer capture; request it again.")
    response = send_file(path, mimetype="image/jpeg", etag=etag, last_modified=snapshot.created_at,
                         max_age=max_age, conditional=True)
    response.headers["Cache-Control"] = f"private, max-age={max_age}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def store_snapshot(
    heatmap: SavedHeatmap | str,
    width: int,
    jpeg_bytes: bytes,
    page_height: int,
    *,
    generation: int | None = None,
) -> HeatmapSnapshot:
    """Store the screenshot of `heatmap` at viewport `width` (replacing any earlier one) and commit.

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
        select(HeatmapSnapshot).where(HeatmapSnapshot.heatmap_id == heatmap.id, HeatmapSnapshot.width == width)
    )
    thumbnail = make_thumbnail(image)
    token = secrets.token_hex(8)
    folder = Path(SNAPSHOT_FOLDER) / heatmap.id
    file_path = folder / f"{width}-{token}.jpg"
    thumbnail_path = folder / f"{width}-{token}-thumb.jpg"
    written: list[Path] = []
    try:
        for relative_path, data in ((file_path, jpeg_bytes), (thumbnail_path, thumbnail)):
            absolute_path = _absolute(str(relative_path))
            write_atomically(absolute_path, data)
            written.append(absolute_path)
        replaced = [snapshot.file_path, snapshot.thumbnail_path] if snapshot is not None else []
        if snapshot is None:
            snapshot = HeatmapSnapshot(heatmap_id=heatmap.id, width=width)
            db.session.add(snapshot)
        # In CSS px, as the width: a retina (2x) image is twice as many pixels each way.
        snapshot.height = round(image.height * width / image.width)
        snapshot.page_height = page_height
        snapshot.byte_size = len(jpeg_bytes)
        snapshot.file_path = str(file_path)
        snapshot.thumbnail_path = str(thumbnail_path)
        snapshot.content_hash = content_hash(jpeg_bytes)
        snapshot.created_at = utcnow()
        db.session.commit()
    except BaseException as error:
        db.session.rollback()
        for path in written:
            path.unlink(missing_ok=True)
        if isinstance(error, OSError) and error.errno in NO_SPACE_ERRORS:
            raise MediaStoreFull() from error
        raise
    db.session.expire(heatmap, ["snapshots"])
    for relative_path in replaced:
        _absolute(relative_path).unlink(missing_ok=True)
    return snapshot


def delete_snapshot_files(snapshots: Iterable[HeatmapSnapshot]) -> None:
    """Remove the files of snapshots whose rows are already gone."""
    for snapshot in snapshots:
        snapshot_file_path(snapshot).unlink(missing_ok=True)
        thumbnail_file_path(snapshot).unlink(missing_ok=True)
