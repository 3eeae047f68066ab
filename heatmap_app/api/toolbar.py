"""PostHog's saved/capture/ (screenshots uploaded from the user's browser), saved/prewarm/ and saved/preflight/."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from werkzeug.datastructures import FileStorage

from heatmap_app import toolbar
from heatmap_app.api import api, project_route
from heatmap_app.api.auth import current_api_user, require_api_key
from heatmap_app.api.saved import READ, WRITE, heatmap_json, json_body
from heatmap_app.errors import APIError, api_error_response
from heatmap_app.models import Project
from heatmap_app.uploads import UploadError


@api.errorhandler(UploadError)
def _bad_upload(error: UploadError) -> Response:
    return api_error_response(400, error.detail, code=error.code)


def _width(raw: str, attr: str) -> int:
    if not (raw.isascii() and raw.strip().isdigit()):
        raise APIError(400, "A width must be a whole number of pixels.", attr=attr)
    return int(raw)


def _read_image(upload: FileStorage, attr: str) -> bytes:
    content_type = upload.mimetype or ""
    if not content_type.startswith("image/"):
        raise APIError(415, f'Unsupported media type "{content_type or "unknown"}" in request.',
                       code="unsupported_media_type", attr=attr)
    return upload.read()


def _uploads() -> list[tuple[int, bytes]]:
    """(width, bytes) per image: one `image` with `width`, or `images` with `widths` in the same order."""
    files, form = request.files, request.form
    multi = "images" in files or "widths" in form
    single = "image" in files or "width" in form
    if multi and single:
        raise APIError(400, "Provide either 'image'+'width' or 'images'+'widths', not both.")
    if multi:
        images, widths = files.getlist("images"), form.getlist("widths")
        if not images or not widths:
            raise APIError(400, "Both 'images' and 'widths' are required for a multi-width capture.")
        if len(images) != len(widths):
            raise APIError(400, "'images' and 'widths' must be the same length.")
        pairs = zip(widths, images, strict=True)
        return [(_width(width, "widths"), _read_image(image, "images")) for width, image in pairs]
    if "image" not in files or "width" not in form:
        raise APIError(400, "Provide 'image'+'width' or 'images'+'widths'.")
    return [(_width(form["width"], "width"), _read_image(files["image"], "image"))]


@project_route("/saved/capture/", methods=["POST"])
@require_api_key(WRITE)
def capture_saved(project: Project) -> tuple[dict[str, Any], int]:
    if request.mimetype != "multipart/form-data":
        raise APIError(415, f'Unsupported media type "{request.mimetype}" in request.', code="unsupported_media_type")
    heatmap = toolbar.create_from_uploads(
        project, current_api_user(), request.form.get("url"), request.form.get("name"), _uploads()
    )
    return heatmap_json(heatmap), 201


@project_route("/saved/prewarm/", methods=["POST"])
@require_api_key(WRITE)
def prewarm_saved(project: Project) -> tuple[dict[str, Any], int]:
    heatmap, created = toolbar.prewarm(project, current_api_user(), json_body())
    return heatmap_json(heatmap), 201 if created else 200


@project_route("/saved/preflight/", methods=["POST"])
@require_api_key(READ)
def preflight_saved(project: Project) -> dict[str, Any]:
    return toolbar.preflight(project, json_body(), request.host_url)
