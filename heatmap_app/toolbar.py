"""Screenshots from the user's own browser, and PostHog's helpers around creating a heatmap: the toolbar
capture (upload), prewarm (a speculative one-width capture, reused by the create that follows) and
preflight (may the page be shown in an iframe?).

The API and the UI call these, as they call heatmap_app.heatmaps.
"""

from __future__ import annotations

import io
import re
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from PIL import Image
from sqlalchemy import select

from heatmap_app import heatmap_schemas as schemas
from heatmap_app import heatmaps, storage, uploads
from heatmap_app.extensions import db
from heatmap_app.history.runs import start_run
from heatmap_app.input_guard import is_storable
from heatmap_app.models import CaptureRun, HeatmapSnapshot, Project, SavedHeatmap, User
from heatmap_app.models.base import utcnow
from heatmap_app.uploads import UploadError, reencode_screenshot
from heatmap_app.urlsafety import GuardProxy, UnsafeURLError, parse_allow_hosts

PREWARM_WIDTH = 1024
URL_PATTERN_CHARACTERS = set("*+?^${}()|[]\\")
PREFLIGHT_TIMEOUT_SECONDS = 10.0
PREFLIGHT_MAX_BODY_BYTES = 64 * 1024
BODY_EXCERPT_MAX_CHARS = 200
FRAME_ANCESTORS = re.compile(r"(?:^|;)\s*frame-ancestors\s+([^;]+)", re.IGNORECASE)


# --- upload ---------------------------------------------------------------------------------------


def clean_captured_page_url(value: Any) -> str:
    """The page a screenshot was taken of: never opened by us, so only its shape is checked (PostHog's rules)."""
    if not isinstance(value, str) or not value.strip():
        raise heatmaps.HeatmapInputError("url", "Give the URL of the page the screenshot shows.")
    url = value.strip()
    if len(url) > schemas.MAX_URL_LENGTH or not is_storable(url):
        raise heatmaps.HeatmapInputError(
            "url", f"The URL must be at most {schemas.MAX_URL_LENGTH} storable characters."
        )
    if any(character in URL_PATTERN_CHARACTERS for character in url):
        raise heatmaps.HeatmapInputError("url", "Wildcards are not allowed in the page URL.")
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        raise heatmaps.HeatmapInputError("url", "URL must start with http:// or https://.")
    return url


def reencoded_uploads(images: Sequence[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    """(width, JPEG) per upload, re-encoded; UploadError before anything is stored."""
    if sum(len(data) for _, data in images) > uploads.MAX_TOTAL_BYTES:
        raise UploadError("request_too_large", "Total screenshot size is too large")
    return [(width, reencode_screenshot(data)) for width, data in images]


def _css_height(width: int, jpeg: bytes) -> int:
    with Image.open(io.BytesIO(jpeg)) as image:
        return round(image.height * width / image.width)


def _store_all(heatmap: SavedHeatmap, shots: Sequence[tuple[int, bytes]]) -> None:
    for width, jpeg in shots:
        storage.store_snapshot(heatmap, width, jpeg, _css_height(width, jpeg))


def _completed(run: CaptureRun) -> None:
    run.status, run.exception, run.ended_at = "completed", None, run.ended_at or utcnow()


def create_from_uploads(
    project: Project, user: User, url: Any, name: Any, images: Sequence[tuple[int, bytes]]
) -> SavedHeatmap:
    """A completed `toolbar` screenshot heatmap of `url` with one snapshot per (width, image) upload."""
    page_url = clean_captured_page_url(url)
    if name is not None and not (isinstance(name, str) and len(name) <= schemas.MAX_NAME_LENGTH and is_storable(name)):
        raise heatmaps.HeatmapInputError("name", f"The name must be at most {schemas.MAX_NAME_LENGTH} characters.")
    widths = [width for width, _ in images]
    if len(set(widths)) != len(widths):
        raise heatmaps.HeatmapInputError("widths", "'widths' must not contain duplicate values.")
    heatmaps.clean_widths(widths)
    shots = reencoded_uploads(images)
    heatmaps.check_create_rate_limit(user)
    heatmap = SavedHeatmap(
        project_id=project.id, short_id=heatmaps.new_short_id(project), name=(name or "").strip() or page_url,
        url=page_url, data_url=page_url, target_widths=widths, type="screenshot", source="toolbar",
        status="completed", created_by=user, capture_generation=1, block_consent_modals=False,
    )
    _completed(start_run(heatmap, "upload"))
    db.session.add(heatmap)
    db.session.commit()
    try:
        _store_all(heatmap, shots)
    except BaseException:
        # Never a heatmap with half its uploads: the row and the files written go together.
        db.session.rollback()
        written = list(db.session.scalars(select(HeatmapSnapshot).where(HeatmapSnapshot.heatmap_id == heatmap.id)))
        db.session.delete(heatmap)
        db.session.commit()
        storage.delete_snapshot_files(written)
        raise
    return heatmap


def upload_screenshot(heatmap: SavedHeatmap, width: Any, data: bytes) -> SavedHeatmap:
    """Store the user's own screenshot at `width` on an existing screenshot heatmap (the detail page's upload).

    It ends any capture under way (a new run, started by the upload), else replaces that width of the current run;
    the heatmap is `completed`: the upload stands until a regenerate captures the page on the server again.
    """
    if heatmap.type != "screenshot":
        raise heatmaps.HeatmapInputError("type", "Only screenshot heatmaps have screenshots.")
    if isinstance(width, bool) or not isinstance(width, int):
        raise heatmaps.HeatmapInputError("width", "Give the width the screenshot was taken at.")
    heatmaps.clean_widths([width])
    [(_, jpeg)] = reencoded_uploads([(width, data)])
    if heatmap.status == "processing" or not heatmap.runs:
        heatmap.capture_generation = (heatmap.capture_generation or 0) + 1
        start_run(heatmap, "upload")
    _completed(heatmap.runs[0])  # the newest run: the upload's own, or the one whose width it replaces
    heatmap.status, heatmap.exception, heatmap.is_prewarm = "completed", None, False
    if width not in heatmap.target_widths:
        heatmap.target_widths = sorted([*heatmap.target_widths, width])
    db.session.commit()
    storage.store_snapshot(heatmap, width, jpeg, _css_height(width, jpeg))
    return heatmap


# --- prewarm --------------------------------------------------------------------------------------


def prewarm(project: Project, user: User, data: Any) -> tuple[SavedHeatmap, bool]:
    """The project's recent prewarm of this page (and False), or a new one at PREWARM_WIDTH (and True)."""
    fields = heatmaps.validated(schemas.HeatmapPrewarm, data)
    url = heatmaps.checked_url(fields.url, project.id)
    block_consent_modals = fields.block_consent_modals
    existing = heatmaps.reusable_prewarm(project, url, block_consent_modals)
    if existing is not None:
        return existing, False
    heatmaps.check_create_rate_limit(user)
    heatmap = SavedHeatmap(
        project_id=project.id, short_id=heatmaps.new_short_id(project), name="", url=url, data_url=url,
        target_widths=[PREWARM_WIDTH], type="screenshot", block_consent_modals=block_consent_modals,
        created_by=user, is_prewarm=True, recapture_frequency="off", recapture_hour=6, recapture_weekday=0,
        schedule_version=0,
    )
    heatmaps.start_capture(heatmap, "create")
    db.session.add(heatmap)
    db.session.commit()
    heatmaps.enqueue(heatmap)
    return heatmap, True


# --- preflight ------------------------------------------------------------------------------------


def preflight(project: Project, data: Any, app_origin: str) -> dict[str, Any]:
    """PostHog's verdict on showing the page in the app's live-preview iframe, probed through the URL guard.

    {framing: allowed | blocked | unknown, blocked_by: x_frame_options | frame_ancestors | null,
    http_status, body_excerpt}. An unreachable or refusing host is an answer (`unknown`), not an error.
    """
    retry_after = heatmaps.count_against_limit("HEATMAP_PREFLIGHT_RATE_LIMIT", "heatmap-preflight", str(project.id))
    if retry_after is not None:
        raise PreflightRateLimited(retry_after, current_app.config["HEATMAP_PREFLIGHT_RATE_LIMIT"])
    raw = heatmaps.validated(schemas.HeatmapPreflight, data).url
    if any(character in URL_PATTERN_CHARACTERS for character in raw):
        raise heatmaps.HeatmapInputError("url", "Wildcards are not allowed in the page URL.")
    url = heatmaps.checked_url(raw, project.id)
    allow_hosts = parse_allow_hosts(current_app.config["CAPTURE_ALLOW_HOSTS"])
    with GuardProxy(allow_hosts) as guard:
        return _probe(url, guard.url, app_origin)


class PreflightRateLimited(heatmaps.CreateRateLimited):
    """The project has probed as many pages as HEATMAP_PREFLIGHT_RATE_LIMIT allows for now."""

    explanation = "This project has checked many pages in a short time."


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _probe(url: str, proxy: str, app_origin: str) -> dict[str, Any]:
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({"http": proxy, "https": proxy}), _NoRedirects()
    )
    try:
        response = opener.open(urllib.request.Request(url, method="GET"), timeout=PREFLIGHT_TIMEOUT_SECONDS)
    except urllib.error.HTTPError as answer:  # non-2xx, redirects included
        return _verdict("unknown", None, answer.code, _excerpt(answer))
    except (OSError, UnsafeURLError, ValueError):
        # The URL is not logged: a customer's URL can carry a signed token.
        return _verdict("unknown", None, None, None)
    with response:
        if not 200 <= response.status < 300:
            return _verdict("unknown", None, response.status, _excerpt(response))
        framing, blocked_by = framing_verdict(dict(response.headers.items()), app_origin)
        return _verdict(framing, blocked_by, response.status, None)


def _verdict(framing: str, blocked_by: str | None, status: int | None, excerpt: str | None) -> dict[str, Any]:
    return {"framing": framing, "blocked_by": blocked_by, "http_status": status, "body_excerpt": excerpt}


def _excerpt(response: Any) -> str | None:
    deadline = time.monotonic() + PREFLIGHT_TIMEOUT_SECONDS
    chunks: list[bytes] = []
    total = 0
    try:
        while total < PREFLIGHT_MAX_BODY_BYTES and time.monotonic() < deadline:
            chunk = response.read(4096)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except (OSError, socket.timeout):
        pass
    text = b"".join(chunks)[:PREFLIGHT_MAX_BODY_BYTES].decode("utf-8", errors="replace")
    return " ".join(text[:BODY_EXCERPT_MAX_CHARS].split()) or None


def framing_verdict(headers: dict[str, str], app_origin: str) -> tuple[str, str | None]:
    """May the app at `app_origin` frame a page answered with these headers? (CSP frame-ancestors wins.)"""
    lowered = {name.lower(): value for name, value in headers.items()}
    scheme, host = urlsplit(app_origin).scheme.lower(), (urlsplit(app_origin).hostname or "").lower()
    match = FRAME_ANCESTORS.search(lowered.get("content-security-policy", ""))
    if match:
        sources = match.group(1).split()
        if not sources:
            return "unknown", None
        allowed = any(_source_matches(source, scheme, host) for source in sources)
        return ("allowed", None) if allowed else ("blocked", "frame_ancestors")
    if lowered.get("x-frame-options", "").strip().lower() in ("deny", "sameorigin"):
        return "blocked", "x_frame_options"
    return "allowed", None


def _source_matches(source: str, scheme: str, host: str) -> bool:
    if not source or source[0] in "'\"":
        return False  # 'none', 'self' … never name the app, which is another origin than the page
    if source == "*":
        return True
    candidate = urlsplit(source if "//" in source else f"//{source}")
    source_host = (candidate.hostname or "").lower()
    if not source_host or (candidate.scheme and candidate.scheme.lower() != scheme):
        return False
    if source_host.startswith("*."):
        return host == source_host[2:] or host.endswith("." + source_host[2:])
    return host == source_host
