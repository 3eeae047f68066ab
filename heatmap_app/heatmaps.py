"""The saved-heatmap service: the API and the web UI both call these functions, never the models directly.

Input arrives as a mapping with the API's field names (`url`, `name`, `data_url`, `widths`, `type`,
`block_consent_modals`, `capture_settings` (see capture_settings.py), and for updates `deleted`).
Bad input raises HeatmapInputError naming the field;
an unknown, deleted or other project's heatmap raises HeatmapNotFound; a user over the create limit
raises CreateRateLimited, and a project over its limit of refused URLs raises RefusedURLsRateLimited.
A write that needs Redis (create, regenerate, a change that regenerates) asks it before writing anything,
and raises redis' ConnectionError (answered 503) while it is down.
"""

from __future__ import annotations

import math
import secrets
import string
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask import current_app
from limits import parse_many
from redis.exceptions import RedisError
from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.orm import selectinload

from heatmap_app import capture_settings, secretbox, storage
from heatmap_app.extensions import db, limiter
from heatmap_app.models import HEATMAP_STATUSES, HEATMAP_TYPES, HeatmapSnapshot, Project, SavedHeatmap, User
from heatmap_app.models.base import MAX_INTEGER, utcnow
from heatmap_app.queue import capture_is_alive, enqueue_capture, require_redis
from heatmap_app.urlsafety import UnsafeURLError, check_url, parse_allow_hosts

DEFAULT_WIDTHS = [320, 375, 425, 768, 1024, 1440, 1920]
MIN_WIDTH = 100
MAX_WIDTH = 3000
MAX_WIDTHS = 16
MAX_NAME_LENGTH = 400
MAX_URL_LENGTH = 2000
SHORT_ID_LENGTH = 8
SHORT_ID_ALPHABET = string.ascii_letters + string.digits
# A capture queued this recently may still be on its way into the queue; after that, no live job means stuck.
STUCK_AFTER = timedelta(minutes=1)
# A prewarm (toolbar.prewarm) older than this is not reused: the page may have changed since.
PREWARM_TTL = timedelta(minutes=10)
REQUEUE_BATCH = 100  # stuck heatmaps one sweep of the reaper re-enqueues at most
LIST_ORDERS = ("created_at", "updated_at", "name")
DEFAULT_ORDER = "-updated_at"
DEFAULT_LIMIT = 100
MAX_LIMIT = 500
# A change of one of these makes the existing screenshots wrong, so it regenerates.
CAPTURE_FIELDS = ("url", "widths", "block_consent_modals", "capture_settings")
CREATE_LIMIT_SCOPE = "heatmap-create"
TOOLBAR_IS_UPLOADED = (
    "This heatmap's screenshots were uploaded from a browser: its page, widths and capture settings cannot change, "
    "and it cannot be captured again. Create a new heatmap to capture the page on the server."
)
REFUSED_URL_LIMIT_SCOPE = "heatmap-refused-url"


class HeatmapInputError(ValueError):
    """Input that cannot become (or change) a heatmap. `field` is the API's name of the offending field."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class HeatmapNotFound(LookupError):
    """No such heatmap in this project (unknown, deleted, or another project's)."""


class CreateRateLimited(Exception):
    """The user has created as many heatmaps as HEATMAP_CREATE_RATE_LIMIT allows for now."""

    explanation = "You have created many heatmaps in a short time."

    def __init__(self, retry_after: int, limit: str) -> None:
        super().__init__(f"{self.explanation} Try again in {retry_after} seconds.")
        self.retry_after = retry_after
        self.limit = limit


class RefusedURLsRateLimited(CreateRateLimited):
    """The project has sent as many refused URLs as HEATMAP_REFUSED_URL_RATE_LIMIT allows for now.

    A kind of CreateRateLimited, so every caller answers it as the throttled write it is.
    """

    explanation = "Too many URLs of this project were refused in a short time."


# --- validation -----------------------------------------------------------------------------------


def clean_url(value: Any, project_id: int) -> str:
    """The URL if it may be captured; a refusal counts against the project's limit of refused URLs.

    Each refusal answers a question about the operator's network (does this name resolve inside?), so
    past the limit the answer is a 429 without the reason.
    """
    if not isinstance(value, str) or not value.strip():
        raise HeatmapInputError("url", "Enter the URL of the page to capture.")
    if len(value.strip()) > MAX_URL_LENGTH:
        raise HeatmapInputError("url", f"The URL is longer than {MAX_URL_LENGTH} characters.")
    allow_hosts = parse_allow_hosts(current_app.config["CAPTURE_ALLOW_HOSTS"])
    try:
        return check_url(value, allow_hosts)
    except UnsafeURLError as error:
        retry_after = count_against_limit("HEATMAP_REFUSED_URL_RATE_LIMIT", REFUSED_URL_LIMIT_SCOPE, str(project_id))
        if retry_after is not None:
            raise RefusedURLsRateLimited(retry_after, current_app.config["HEATMAP_REFUSED_URL_RATE_LIMIT"]) from None
        raise HeatmapInputError("url", str(error)) from None


def _clean_data_url(value: Any) -> str | None:
    # data_url is matched against collected events, never opened by the server, so it is not SSRF-checked.
    if value is None:
        return None
    if not isinstance(value, str):
        raise HeatmapInputError("data_url", "data_url must be a string.")
    if len(value) > MAX_URL_LENGTH:
        raise HeatmapInputError("data_url", f"data_url is longer than {MAX_URL_LENGTH} characters.")
    return value.strip() or None


def _clean_name(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise HeatmapInputError("name", "The name must be a string.")
    if len(value) > MAX_NAME_LENGTH:
        raise HeatmapInputError("name", f"The name is longer than {MAX_NAME_LENGTH} characters.")
    return value.strip() or None


def clean_widths(value: Any) -> list[int]:
    """Widths as a sorted list without duplicates, each MIN_WIDTH–MAX_WIDTH, at most MAX_WIDTHS of them."""
    if not isinstance(value, list | tuple):
        raise HeatmapInputError("widths", "widths must be a list of integers.")
    if any(isinstance(width, bool) or not isinstance(width, int) for width in value):
        raise HeatmapInputError("widths", "Every width must be an integer.")
    if any(not MIN_WIDTH <= width <= MAX_WIDTH for width in value):
        raise HeatmapInputError("widths", f"Every width must be between {MIN_WIDTH} and {MAX_WIDTH} pixels.")
    widths = sorted(set(value))
    if not widths:
        raise HeatmapInputError("widths", "Give at least one width.")
    if len(widths) > MAX_WIDTHS:
        raise HeatmapInputError("widths", f"Give at most {MAX_WIDTHS} different widths.")
    return widths


def _clean_type(value: Any) -> str:
    if value not in HEATMAP_TYPES:
        raise HeatmapInputError("type", f"type must be one of: {', '.join(HEATMAP_TYPES)}.")
    return str(value)


def clean_bool(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise HeatmapInputError(field, f"{field} must be true or false.")
    return value


def _clean_capture_settings(value: Any, saved: dict[str, Any] | None, page_url: str) -> dict[str, Any]:
    try:
        return capture_settings.clean_capture_settings(value, saved, page_url)
    except capture_settings.CaptureSettingsError as error:
        raise HeatmapInputError(error.field, error.message) from None


def _check_cookie_domains(saved: dict[str, Any] | None, page_url: str) -> None:
    try:
        capture_settings.check_cookie_domains(saved or {}, page_url)
    except capture_settings.CaptureSettingsError as error:
        raise HeatmapInputError(error.field, error.message) from None


def require_mapping(data: Any) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise HeatmapInputError(None, "The body must be a JSON object.")
    return data


# --- rate limit -----------------------------------------------------------------------------------


def count_against_limit(setting: str, scope: str, identity: str) -> int | None:
    """Count one event of `identity` against the limits in the `setting`; None, or the seconds until one is allowed.

    The counters live in Flask-Limiter's Redis storage, so every process and both the API and the UI
    share them. Nothing is counted when one of the limits is already exhausted. While Redis is down its
    ConnectionError goes up to the caller (answered 503): nothing is created without being counted.
    """
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return None
    identifiers = (scope, identity)
    strategy = limiter.limiter
    items = parse_many(current_app.config[setting])
    exhausted = [item for item in items if not strategy.test(item, *identifiers)]
    if exhausted:
        reset_at = max(strategy.get_window_stats(item, *identifiers).reset_time for item in exhausted)
        return max(1, math.ceil(reset_at - time.time()))
    for item in items:
        strategy.hit(item, *identifiers)
    return None


def check_create_rate_limit(user: User) -> None:
    """Count one creation by `user` against HEATMAP_CREATE_RATE_LIMIT, or raise CreateRateLimited."""
    retry_after = count_against_limit("HEATMAP_CREATE_RATE_LIMIT", CREATE_LIMIT_SCOPE, str(user.id))
    if retry_after is not None:
        raise CreateRateLimited(retry_after, current_app.config["HEATMAP_CREATE_RATE_LIMIT"])


# --- queries --------------------------------------------------------------------------------------


def _visible(project: Project) -> Select[tuple[SavedHeatmap]]:
    return select(SavedHeatmap).where(SavedHeatmap.project_id == project.id, SavedHeatmap.deleted.is_(False))


def _order_by(order: str) -> Any:
    column_name = order.removeprefix("-")
    if column_name not in LIST_ORDERS:
        raise HeatmapInputError("order", f"order must be one of: {', '.join(LIST_ORDERS)}, each optionally with '-'.")
    column = getattr(SavedHeatmap, column_name)
    return column.desc() if order.startswith("-") else column.asc()


def list_heatmaps(
    project: Project,
    *,
    type: str | None = None,
    status: str | None = None,
    search: str | None = None,
    created_by: int | None = None,
    order: str = DEFAULT_ORDER,
    limit: int = DEFAULT_LIMIT,
    offset: int = 0,
) -> tuple[list[SavedHeatmap], int]:
    """One page of the project's heatmaps (created_by and snapshots loaded) and the total that match."""
    if type is not None and type not in HEATMAP_TYPES:
        raise HeatmapInputError("type", f"type must be one of: {', '.join(HEATMAP_TYPES)}.")
    if status is not None and status not in HEATMAP_STATUSES:
        raise HeatmapInputError("status", f"status must be one of: {', '.join(HEATMAP_STATUSES)}.")
    if not 1 <= limit <= MAX_LIMIT:
        raise HeatmapInputError("limit", f"limit must be between 1 and {MAX_LIMIT}.")
    if not 0 <= offset <= MAX_INTEGER:
        raise HeatmapInputError("offset", f"offset must be between 0 and {MAX_INTEGER}.")
    if created_by is not None and not 1 <= created_by <= MAX_INTEGER:
        raise HeatmapInputError("created_by", "created_by must be a user id.")
    ordering = _order_by(order)

    query = _visible(project).where(SavedHeatmap.is_prewarm.is_(False))
    if type is not None:
        query = query.where(SavedHeatmap.type == type)
    if status is not None:
        query = query.where(SavedHeatmap.status == status)
    if created_by is not None:
        query = query.where(SavedHeatmap.created_by_id == created_by)
    if search:
        query = query.where(
            or_(SavedHeatmap.url.icontains(search, autoescape=True), SavedHeatmap.name.icontains(search, autoescape=True))
        )

    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = db.session.scalars(
        query.options(selectinload(SavedHeatmap.created_by), selectinload(SavedHeatmap.snapshots))
        .order_by(ordering, SavedHeatmap.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return list(page), total


def get_heatmap(project: Project, short_id: str) -> SavedHeatmap:
    """The project's heatmap with this short_id, re-enqueued first if its capture is stuck; else HeatmapNotFound."""
    heatmap = db.session.scalar(_visible(project).where(SavedHeatmap.short_id == short_id))
    if heatmap is None:
        raise HeatmapNotFound(short_id)
    requeue_if_stuck(heatmap)
    return heatmap


def get_heatmap_by_id(project: Project, heatmap_id: str) -> SavedHeatmap:
    """The project's heatmap with this id (uuid), re-enqueued first if its capture is stuck; else HeatmapNotFound."""
    heatmap = db.session.scalar(_visible(project).where(SavedHeatmap.id == heatmap_id))
    if heatmap is None:
        raise HeatmapNotFound(heatmap_id)
    requeue_if_stuck(heatmap)
    return heatmap


# --- capture scheduling ---------------------------------------------------------------------------


def requeue_if_stuck(heatmap: SavedHeatmap) -> bool:
    """Re-enqueue a screenshot heatmap left `processing` with no live capture (a killed worker, a job lost with
    Redis's data, a last try whose result could not be saved).

    Live means a job holds the heatmap's capture lock, or its generation's job still waits in the queue or for
    a retry: a long backlog or a long capture is never run twice. The conditional UPDATE lets exactly one of
    several concurrent callers (readers, the reapers of several workers) re-enqueue. While Redis is down
    nothing can be re-enqueued; the next call tries again.
    """
    if heatmap.type != "screenshot" or heatmap.status != "processing":
        return False
    enqueued_at = heatmap.capture_enqueued_at or heatmap.updated_at
    try:
        if utcnow() - enqueued_at <= STUCK_AFTER or capture_is_alive(heatmap.id, heatmap.capture_generation):
            return False
        claimed = db.session.execute(
            update(SavedHeatmap)
            .where(
                SavedHeatmap.id == heatmap.id,
                SavedHeatmap.status == "processing",
                SavedHeatmap.capture_generation == heatmap.capture_generation,
                SavedHeatmap.capture_enqueued_at.is_(None)
                if heatmap.capture_enqueued_at is None
                else SavedHeatmap.capture_enqueued_at == heatmap.capture_enqueued_at,
            )
            .values(capture_enqueued_at=utcnow(), updated_at=SavedHeatmap.updated_at)
            .execution_options(synchronize_session=False)
        ).rowcount
        db.session.commit()
        db.session.refresh(heatmap)
        if claimed:
            current_app.logger.warning("Re-enqueueing stuck capture of heatmap %s", heatmap.id)
            enqueue_capture(heatmap.id, heatmap.capture_generation)
    except RedisError as error:
        current_app.logger.warning("Cannot re-enqueue the capture of heatmap %s now: %s", heatmap.id, error)
        return False
    return bool(claimed)


def requeue_stuck_captures() -> int:
    """The worker's periodic sweep: requeue_if_stuck for the heatmaps processing longest; how many it re-enqueued."""
    cutoff = utcnow() - STUCK_AFTER
    candidates = db.session.scalars(
        select(SavedHeatmap)
        .where(
            SavedHeatmap.type == "screenshot",
            SavedHeatmap.status == "processing",
            SavedHeatmap.deleted.is_(False),
            func.coalesce(SavedHeatmap.capture_enqueued_at, SavedHeatmap.updated_at) < cutoff,
        )
        .order_by(func.coalesce(SavedHeatmap.capture_enqueued_at, SavedHeatmap.updated_at))
        .limit(REQUEUE_BATCH)
    ).all()
    return sum(requeue_if_stuck(heatmap) for heatmap in candidates)


def start_capture(heatmap: SavedHeatmap) -> None:
    """Mark a new generation as processing; the caller commits and then calls enqueue.

    Redis is asked first: while it is down the session's changes are rolled back and nothing is written.
    """
    try:
        require_redis()
    except RedisError:
        db.session.rollback()
        raise
    heatmap.status = "processing"
    heatmap.exception = None
    heatmap.capture_generation = (heatmap.capture_generation or 0) + 1
    heatmap.capture_enqueued_at = utcnow()


def enqueue(heatmap: SavedHeatmap) -> None:
    # After the commit, so the job always finds the row. Should Redis fail in the instant since start_capture
    # asked it, the heatmap waits as processing without a job, and the worker's reaper queues it after STUCK_AFTER.
    try:
        enqueue_capture(heatmap.id, heatmap.capture_generation)
    except RedisError as error:
        current_app.logger.warning("Capture of heatmap %s not queued (%s); the reaper will queue it", heatmap.id, error)


# --- writes ---------------------------------------------------------------------------------------


def new_short_id(project: Project) -> str:
    while True:
        short_id = "".join(secrets.choice(SHORT_ID_ALPHABET) for _ in range(SHORT_ID_LENGTH))
        taken = db.session.scalar(
            select(SavedHeatmap.id).where(SavedHeatmap.project_id == project.id, SavedHeatmap.short_id == short_id)
        )
        if taken is None:
            return short_id


def create_heatmap(project: Project, user: User, data: Mapping[str, Any]) -> SavedHeatmap:
    """Validate `data`, count it against the user's create limit, save it, and enqueue a screenshot capture.

    Only valid input is counted against the create limit: it protects the capture workers, and a
    rejected request costs them nothing. Refused URLs count against a limit of their own (clean_url).
    """
    data = require_mapping(data)
    url = clean_url(data.get("url"), project.id)
    heatmap_type = _clean_type(data.get("type", "screenshot"))
    heatmap = SavedHeatmap(
        project_id=project.id,
        short_id="",
        name=_clean_name(data.get("name")),
        url=url,
        data_url=_clean_data_url(data.get("data_url")) or url,
        target_widths=clean_widths(data["widths"]) if data.get("widths") is not None else list(DEFAULT_WIDTHS),
        type=heatmap_type,
        block_consent_modals=clean_bool("block_consent_modals", data.get("block_consent_modals", False)),
        capture_settings=_clean_capture_settings(data["capture_settings"], None, url)
        if data.get("capture_settings") is not None
        else None,
        created_by=user,
        status="completed",
    )
    check_create_rate_limit(user)
    if heatmap.type == "screenshot" and heatmap.capture_settings is None:
        heatmap = _promoted_prewarm(project, heatmap)
    else:
        heatmap.short_id = new_short_id(project)
        db.session.add(heatmap)
    if heatmap.type == "screenshot":
        start_capture(heatmap)
    db.session.commit()
    if heatmap.type == "screenshot":
        enqueue(heatmap)
    return heatmap


def reusable_prewarm(project: Project, url: str, block_consent_modals: bool) -> SavedHeatmap | None:
    return db.session.scalar(
        select(SavedHeatmap)
        .where(
            SavedHeatmap.project_id == project.id, SavedHeatmap.url == url, SavedHeatmap.is_prewarm.is_(True),
            SavedHeatmap.block_consent_modals == block_consent_modals, SavedHeatmap.deleted.is_(False),
            SavedHeatmap.type == "screenshot", SavedHeatmap.status.in_(("processing", "completed")),
            SavedHeatmap.created_at >= utcnow() - PREWARM_TTL,
        )
        .order_by(SavedHeatmap.created_at.desc())
        .limit(1)
    )


def _promoted_prewarm(project: Project, new: SavedHeatmap) -> SavedHeatmap:
    """The project's recent prewarm of the same page made into the new heatmap (its preview snapshot kept until
    the capture replaces it), or `new` itself when there is none."""
    prewarm = reusable_prewarm(project, new.url, new.block_consent_modals)
    if prewarm is None:
        new.short_id = new_short_id(project)
        db.session.add(new)
        return new
    prewarm.name, prewarm.data_url, prewarm.target_widths = new.name, new.data_url, new.target_widths
    prewarm.created_by, prewarm.is_prewarm = new.created_by, False
    return prewarm


def update_heatmap(heatmap: SavedHeatmap, data: Mapping[str, Any]) -> SavedHeatmap:
    """Apply a partial update; a changed url, widths, block_consent_modals or capture setting regenerates a
    screenshot heatmap.

    `deleted: true` soft-deletes. Fields not listed here (type, status, …) are read-only and ignored.
    """
    data = require_mapping(data)
    changes: dict[str, Any] = {}
    if "name" in data:
        changes["name"] = _clean_name(data["name"])
    if "url" in data:
        changes["url"] = clean_url(data["url"], heatmap.project_id)
    if "data_url" in data:
        changes["data_url"] = _clean_data_url(data["data_url"])
    if "widths" in data:
        changes["target_widths"] = clean_widths(data["widths"])
    if "block_consent_modals" in data:
        changes["block_consent_modals"] = clean_bool("block_consent_modals", data["block_consent_modals"])
    page_url = changes.get("url", heatmap.url)
    if data.get("capture_settings") is not None:
        changes["capture_settings"] = _clean_capture_settings(
            data["capture_settings"], heatmap.capture_settings, page_url
        )
    elif "capture_settings" in data:  # null: back to the defaults, every saved secret dropped
        changes["capture_settings"] = None
    else:
        _check_cookie_domains(heatmap.capture_settings, page_url)
    deleting = clean_bool("deleted", data["deleted"]) if "deleted" in data else False

    regenerates = any(
        changes.get(field, current) != current
        for field, current in (
            ("url", heatmap.url),
            ("target_widths", heatmap.target_widths),
            ("block_consent_modals", heatmap.block_consent_modals),
        )
    ) or ("capture_settings" in changes and _settings_differ(changes["capture_settings"], heatmap.capture_settings))
    if regenerates and heatmap.source == "toolbar":
        raise HeatmapInputError(None, TOOLBAR_IS_UPLOADED)
    for field, value in changes.items():
        setattr(heatmap, field, value)
    if "data_url" in changes and changes["data_url"] is None:
        heatmap.data_url = heatmap.url
    if deleting:
        return delete_heatmap(heatmap)
    if regenerates and heatmap.type == "screenshot":
        return regenerate_heatmap(heatmap)
    db.session.commit()
    return heatmap


def _settings_differ(new: dict[str, Any] | None, old: dict[str, Any] | None) -> bool:
    """Compared decrypted: a secret encrypts to a new token every time, the same secret or not."""
    try:
        return capture_settings.request_options(new) != capture_settings.request_options(old)
    except secretbox.UnreadableSecret:
        return True


def delete_heatmap(heatmap: SavedHeatmap) -> SavedHeatmap:
    """Soft delete: the row stays (with its files) but the heatmap is gone from every read."""
    heatmap.deleted = True
    db.session.commit()
    return heatmap


def regenerate_heatmap(heatmap: SavedHeatmap) -> SavedHeatmap:
    """Capture a screenshot heatmap again as a new generation.

    Snapshots of the previous generation stay served until the new capture replaces them width by
    width; snapshots of widths no longer targeted are removed now.
    """
    if heatmap.type != "screenshot":
        raise HeatmapInputError("type", "Only screenshot heatmaps can be regenerated.")
    if heatmap.source == "toolbar":
        raise HeatmapInputError("source", TOOLBAR_IS_UPLOADED)
    start_capture(heatmap)
    dropped = [snapshot for snapshot in heatmap.snapshots if snapshot.width not in heatmap.target_widths]
    for snapshot in dropped:
        heatmap.snapshots.remove(snapshot)
    db.session.commit()
    storage.delete_snapshot_files(dropped)
    enqueue(heatmap)
    return heatmap


# --- snapshots ------------------------------------------------------------------------------------


def pick_snapshot(heatmap: SavedHeatmap, width: int) -> HeatmapSnapshot | None:
    """The snapshot at exactly `width`, else the one with content nearest to it (ties: the smaller width)."""
    with_content = [snapshot for snapshot in heatmap.snapshots if snapshot.has_content]
    if not with_content:
        return None
    return min(with_content, key=lambda snapshot: (abs(snapshot.width - width), snapshot.width))
