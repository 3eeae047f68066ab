"""The saved-heatmap service: the API and the web UI both call these functions, never the models directly.

Input arrives as a mapping with the API's field names, or as the model already validated, and is
validated through the typed contract in heatmap_app.heatmap_schemas (SavedHeatmapCreate,
PatchedSavedHeatmap, SavedHeatmapListQuery). Bad input raises HeatmapInputError naming the field;
an unknown, deleted or other project's heatmap raises HeatmapNotFound; a user over the create limit
raises CreateRateLimited, and a project over its limit of refused URLs raises RefusedURLsRateLimited.
Every capture is a run of its own (heatmap_app.history); a schedule of recaptures and a "page changed" webhook
are our extension fields. A write that needs Redis (create, regenerate, a change that regenerates or reschedules)
asks it before writing anything,
and raises redis' ConnectionError (answered 503) while it is down.
"""

from __future__ import annotations

import math
import secrets
import string
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, TypeVar

from flask import current_app
from limits import parse_many
from pydantic import BaseModel, TypeAdapter, ValidationError
from redis.exceptions import RedisError
from sqlalchemy import Select, String, cast, func, or_, select, update
from sqlalchemy.orm import selectinload

from heatmap_app import capture_settings, secretbox
from heatmap_app import heatmap_schemas as schemas
from heatmap_app.extensions import db, limiter
from heatmap_app.history.runs import end_unfinished_runs, start_run
from heatmap_app.history.schedule import schedule_recapture
from heatmap_app.models import HeatmapSnapshot, Project, SavedHeatmap, User
from heatmap_app.models.base import utcnow
from heatmap_app.queue import capture_is_alive, enqueue_capture, require_redis
from heatmap_app.urlsafety import UnsafeURLError, check_url, parse_allow_hosts

SHORT_ID_LENGTH = 8
SHORT_ID_ALPHABET = string.ascii_letters + string.digits
# A capture queued this recently may still be on its way into the queue; after that, no live job means stuck.
STUCK_AFTER = timedelta(minutes=1)
REQUEUE_BATCH = 100  # stuck heatmaps one sweep of the reaper re-enqueues at most
CREATE_LIMIT_SCOPE = "heatmap-create"
REFUSED_URL_LIMIT_SCOPE = "heatmap-refused-url"
# A prewarm (toolbar.prewarm) older than this is not reused: the page may have changed since.
PREWARM_TTL = timedelta(minutes=10)
TOOLBAR_IS_UPLOADED = (
    "This heatmap's screenshots were uploaded from a browser: its page, widths and capture settings cannot change, "
    "and it cannot be captured again. Create a new heatmap to capture the page on the server."
)
WIDTHS: TypeAdapter[list[int]] = TypeAdapter(schemas.Widths)

Model = TypeVar("Model", bound=BaseModel)


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


def validated(model: type[Model], data: Any) -> Model:
    """`data` (a mapping with the API's field names) as `model`, or HeatmapInputError naming the first bad field."""
    if isinstance(data, model):
        return data
    if not isinstance(data, Mapping):
        raise HeatmapInputError(None, "The body must be a JSON object.")
    try:
        return model.model_validate(dict(data))
    except ValidationError as error:
        raise HeatmapInputError(*schemas.first_error(error)) from None


def checked_url(url: str, project_id: int) -> str:
    """The URL if it may be captured; a refusal counts against the project's limit of refused URLs.

    Each refusal answers a question about the operator's network (does this name resolve inside?), so
    past the limit the answer is a 429 without the reason.
    """
    allow_hosts = parse_allow_hosts(current_app.config["CAPTURE_ALLOW_HOSTS"])
    try:
        return check_url(url, allow_hosts)
    except UnsafeURLError as error:
        retry_after = count_against_limit("HEATMAP_REFUSED_URL_RATE_LIMIT", REFUSED_URL_LIMIT_SCOPE, str(project_id))
        if retry_after is not None:
            raise RefusedURLsRateLimited(retry_after, current_app.config["HEATMAP_REFUSED_URL_RATE_LIMIT"]) from None
        raise HeatmapInputError("url", str(error)) from None


def clean_widths(value: Any) -> list[int]:
    """Widths as a sorted list without duplicates, each MIN_WIDTH–MAX_WIDTH, at most MAX_WIDTHS of them."""
    try:
        return WIDTHS.validate_python(value, strict=True)
    except ValidationError as error:
        raise HeatmapInputError(*schemas.first_error(error, "widths")) from None


def _cleaned_capture_settings(value: Any, saved: dict[str, Any] | None, page_url: str) -> dict[str, Any]:
    try:
        return capture_settings.clean_capture_settings(value, saved, page_url)
    except capture_settings.CaptureSettingsError as error:
        raise HeatmapInputError(error.field, error.message) from None


def _check_cookie_domains(saved: dict[str, Any] | None, page_url: str) -> None:
    try:
        capture_settings.check_cookie_domains(saved or {}, page_url)
    except capture_settings.CaptureSettingsError as error:
        raise HeatmapInputError(error.field, error.message) from None


def _settings_differ(new: dict[str, Any] | None, old: dict[str, Any] | None) -> bool:
    """Compared decrypted: a secret encrypts to a new token every time, the same secret or not."""
    try:
        return capture_settings.request_options(new) != capture_settings.request_options(old)
    except secretbox.UnreadableSecret:
        return True


def _checked_webhook_url(url: str | None) -> str | None:
    """A URL the change webhook may be sent to, checked as a capture's is now (and again at each sending)."""
    if url is None:
        return None
    try:
        return check_url(url, parse_allow_hosts(current_app.config["CAPTURE_ALLOW_HOSTS"]))
    except UnsafeURLError as error:
        raise HeatmapInputError("change_webhook_url", str(error)) from None


def _apply_alerting(heatmap: SavedHeatmap, fields: schemas.SavedHeatmapCreate | schemas.PatchedSavedHeatmap) -> bool:
    """Set the schedule and webhook fields that were sent; whether the schedule changed (then it is queued anew
    after the commit, by _queue_schedule)."""
    sent = fields.model_fields_set
    if "change_webhook_url" in sent:
        heatmap.change_webhook_url = _checked_webhook_url(fields.change_webhook_url)
        if heatmap.change_webhook_url and not heatmap.change_webhook_secret:
            heatmap.change_webhook_secret = secrets.token_hex(32)
    if "recapture" not in sent or fields.recapture is None:
        return False
    schedule = (fields.recapture.frequency, fields.recapture.hour, fields.recapture.weekday)
    if schedule == (heatmap.recapture_frequency, heatmap.recapture_hour, heatmap.recapture_weekday):
        return False
    require_redis()
    heatmap.recapture_frequency, heatmap.recapture_hour, heatmap.recapture_weekday = schedule
    heatmap.schedule_version = (heatmap.schedule_version or 0) + 1
    return True


def _queue_schedule(heatmap: SavedHeatmap) -> None:
    try:
        schedule_recapture(heatmap)
    except RedisError as error:
        current_app.logger.warning("Recapture of heatmap %s not scheduled (%s)", heatmap.id, error)


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
    name = order.removeprefix("-")
    column: Any = SavedHeatmap.created_by_id if name == "created_by" else getattr(SavedHeatmap, name)
    if name == "target_widths":  # JSON has no order on PostgreSQL; its text does
        column = cast(column, String)
    return column.desc() if order.startswith("-") else column.asc()


def list_heatmaps(
    project: Project, query: schemas.SavedHeatmapListQuery | Mapping[str, Any]
) -> tuple[list[SavedHeatmap], int]:
    """One page of the project's heatmaps (created_by and snapshots loaded) and the total that match."""
    query = validated(schemas.SavedHeatmapListQuery, query)
    statement = _visible(project).where(SavedHeatmap.is_prewarm.is_(False))
    if query.type is not None:
        statement = statement.where(SavedHeatmap.type == query.type)
    if query.status is not None:
        statement = statement.where(SavedHeatmap.status == query.status)
    if query.created_by is not None:
        statement = statement.where(SavedHeatmap.created_by_id == query.created_by)
    if query.search:
        statement = statement.where(
            or_(SavedHeatmap.url.icontains(query.search, autoescape=True),
                SavedHeatmap.name.icontains(query.search, autoescape=True))
        )

    total = db.session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    page = db.session.scalars(
        statement.options(selectinload(SavedHeatmap.created_by), selectinload(SavedHeatmap.snapshots))
        .order_by(_order_by(query.order), SavedHeatmap.id)
        .limit(query.limit)
        .offset(query.offset)
    ).all()
    return list(page), total


def get_heatmap(project: Project, short_id: str, *, include_deleted: bool = False) -> SavedHeatmap:
    """The project's heatmap with this short_id (a soft-deleted one only when asked), re-enqueued first if its
    capture is stuck; else HeatmapNotFound."""
    query = select(SavedHeatmap).where(SavedHeatmap.project_id == project.id) if include_deleted else _visible(project)
    heatmap = db.session.scalar(query.where(SavedHeatmap.short_id == short_id))
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


def start_capture(heatmap: SavedHeatmap, trigger: str) -> None:
    """Mark a new generation as processing, as a run started by `trigger`; the caller commits and then calls
    enqueue.

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
    start_run(heatmap, trigger)


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


def create_heatmap(
    project: Project, user: User, data: schemas.SavedHeatmapCreate | Mapping[str, Any]
) -> SavedHeatmap:
    """Validate `data`, count it against the user's create limit, save it, and enqueue a screenshot capture.

    Only valid input is counted against the create limit: it protects the capture workers, and a
    rejected request costs them nothing. Refused URLs count against a limit of their own (checked_url).
    """
    fields = validated(schemas.SavedHeatmapCreate, data)
    url = checked_url(fields.url, project.id)
    heatmap = SavedHeatmap(
        project_id=project.id,
        short_id="",
        name=fields.name,
        url=url,
        data_url=fields.data_url or url,
        target_widths=fields.widths,
        type=fields.type,
        block_consent_modals=fields.block_consent_modals,
        capture_settings=_cleaned_capture_settings(fields.capture_settings, None, url)
        if fields.capture_settings is not None
        else None,
        created_by=user,
        status="completed",
        recapture_frequency="off",
        recapture_hour=6,
        recapture_weekday=0,
        schedule_version=0,
    )
    scheduled = _apply_alerting(heatmap, fields)
    check_create_rate_limit(user)
    carried: list[HeatmapSnapshot] = []
    if heatmap.type == "screenshot" and heatmap.capture_settings is None:
        heatmap = _promoted_prewarm(project, heatmap)
        carried = list(heatmap.snapshots)  # a prewarm's preview: the same page, served until the capture replaces it
    else:
        heatmap.short_id = new_short_id(project)
        db.session.add(heatmap)
    if heatmap.type == "screenshot":
        start_capture(heatmap, "create")
    for snapshot in carried:
        snapshot.generation = heatmap.capture_generation
    db.session.commit()
    if heatmap.type == "screenshot":
        enqueue(heatmap)
    if scheduled:
        _queue_schedule(heatmap)
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
    """The project's recent prewarm of the same page made into the new heatmap, or `new` itself when there is
    none. Its schedule and webhook are the new heatmap's."""
    prewarm = reusable_prewarm(project, new.url, new.block_consent_modals)
    if prewarm is None:
        new.short_id = new_short_id(project)
        db.session.add(new)
        return new
    for field in ("name", "data_url", "target_widths", "created_by", "recapture_frequency", "recapture_hour",
                  "recapture_weekday", "schedule_version", "change_webhook_url", "change_webhook_secret"):
        setattr(prewarm, field, getattr(new, field))
    prewarm.is_prewarm = False
    return prewarm


def update_heatmap(heatmap: SavedHeatmap, data: schemas.PatchedSavedHeatmap | Mapping[str, Any]) -> SavedHeatmap:
    """Apply a partial update; a changed url, widths, block_consent_modals or capture setting regenerates a
    screenshot heatmap.

    `deleted: true` soft-deletes, `deleted: false` restores. A change of type to screenshot captures it; to
    another type ends what a capture under way would write. Fields not in PatchedSavedHeatmap (status, …) are
    read-only and ignored.
    """
    patch = validated(schemas.PatchedSavedHeatmap, data)
    sent = patch.model_fields_set
    changes: dict[str, Any] = {field: getattr(patch, field)
                               for field in ("name", "data_url", "type", "block_consent_modals") if field in sent}
    if "url" in sent:
        changes["url"] = checked_url(patch.url, heatmap.project_id)
    if "widths" in sent:
        changes["target_widths"] = patch.widths
    if "deleted" in sent:
        changes["deleted"] = patch.deleted
    page_url = changes.get("url", heatmap.url)
    if "capture_settings" in sent:  # null: back to the defaults, every saved secret dropped
        changes["capture_settings"] = None if patch.capture_settings is None else _cleaned_capture_settings(
            patch.capture_settings, heatmap.capture_settings, page_url)
    else:
        _check_cookie_domains(heatmap.capture_settings, page_url)
    scheduled = _apply_alerting(heatmap, patch)

    regenerates = any(
        changes.get(field, current) != current
        for field, current in (
            ("url", heatmap.url),
            ("target_widths", heatmap.target_widths),
            ("type", heatmap.type),
            ("block_consent_modals", heatmap.block_consent_modals),
        )
    ) or ("capture_settings" in changes and _settings_differ(changes["capture_settings"], heatmap.capture_settings))
    if regenerates and heatmap.source == "toolbar":
        raise HeatmapInputError(None, TOOLBAR_IS_UPLOADED)
    for field, value in changes.items():
        setattr(heatmap, field, value)
    if "data_url" in changes and changes["data_url"] is None:
        heatmap.data_url = heatmap.url
    if regenerates and heatmap.type == "screenshot" and not heatmap.deleted:
        regenerate_heatmap(heatmap, trigger="edit")
    else:
        if heatmap.type != "screenshot" and heatmap.status == "processing":
            # Nothing to capture any more: a job of the old generation finds a newer one and writes nothing.
            heatmap.status = "completed"
            heatmap.capture_generation += 1
            end_unfinished_runs(heatmap)
        db.session.commit()
    if scheduled:
        _queue_schedule(heatmap)
    return heatmap


def delete_heatmap(heatmap: SavedHeatmap) -> SavedHeatmap:
    """Soft delete: the row stays (with its files); only retrieving it by short_id (and restoring it) still works."""
    heatmap.deleted = True
    db.session.commit()
    return heatmap


def regenerate_heatmap(heatmap: SavedHeatmap, *, trigger: str = "regenerate") -> SavedHeatmap:
    """Capture a screenshot heatmap again as a new generation (a new run).

    From now on only the new run's snapshots are served, as they land, as PostHog does; the earlier runs keep
    theirs, for the history, until they are pruned.
    """
    if heatmap.type != "screenshot":
        raise HeatmapInputError("type", "Only screenshot heatmaps can be regenerated.")
    if heatmap.source == "toolbar":
        raise HeatmapInputError("source", TOOLBAR_IS_UPLOADED)
    start_capture(heatmap, trigger)
    db.session.commit()
    enqueue(heatmap)
    return heatmap


# --- snapshots ------------------------------------------------------------------------------------


def pick_snapshot(
    heatmap: SavedHeatmap, width: int, among: list[HeatmapSnapshot] | None = None
) -> HeatmapSnapshot | None:
    """The snapshot at exactly `width`, else the one with content nearest to it (ties: the smaller width), of the
    current run (or `among` those given)."""
    with_content = [snapshot for snapshot in (heatmap.snapshots if among is None else among) if snapshot.has_content]
    if not with_content:
        return None
    return min(with_content, key=lambda snapshot: (abs(snapshot.width - width), snapshot.width))


def width_pending(heatmap: SavedHeatmap, width: int) -> bool:
    """True while the capture under way has yet to store `width`, one of its targets."""
    return (
        heatmap.status == "processing"
        and width in heatmap.target_widths
        and not any(snapshot.width == width and snapshot.has_content for snapshot in heatmap.snapshots)
    )
