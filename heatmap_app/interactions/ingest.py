"""From a posthog-js batch to stored heatmap data: decode, extract the points PostHog keeps, store them.

Decoding follows what posthog-js sends: a gzip body (its default: `Content-Type: text/plain`, recognised
by its magic bytes, or `?compression=gzip-js`), `data=<base64>` form bodies (`?compression=base64`, its
beacon fallback), and plain JSON. The payload is `{"api_key", "batch": [...], "sent_at"}`, a list of
events, or one event.

Extraction is PostHog's (plugin-server extractHeatmapDataStep): `$heatmap_data` items of any event, plus
one `scrolldepth` item from an event carrying `$prev_pageview_pathname` and `$current_url`. A bad item is
skipped and a bad event dropped; the rest of the batch is kept.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import math
import time
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from flask import current_app
from sqlalchemy import Table, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from heatmap_app.extensions import db
from heatmap_app.input_guard import is_storable
from heatmap_app.metrics import POINTS_INGESTED
from heatmap_app.models import (
    InteractionDailyCount,
    InteractionDailyViewport,
    InteractionDailyVisitor,
    InteractionPage,
    InteractionPoint,
)
from heatmap_app.models.interactions import INTERACTION_TYPES, SCALE_FACTOR

MAX_DECODED_BYTES = 8 * 1024 * 1024  # a gzip body may not unpack to more than this
MAX_URL_LENGTH = 2000
MAX_ID_LENGTH = 200
MAX_PIXELS = 10_000_000  # past this a coordinate or a viewport is garbage (and would not fit the columns)
GZIP_MAGIC = b"\x1f\x8b"
# PostHog refuses these as distinct ids (person-merge-service's illegal ids): they merge strangers.
ILLEGAL_DISTINCT_IDS = frozenset({
    "anonymous", "guest", "distinctid", "distinct_id", "id", "not_authenticated", "email", "undefined",
    "true", "false", "0", "null", "[object object]", "nan", "none", "-1",
})
PAGE_CACHE_SECONDS = 60.0  # how long a process trusts its page id and how often it refreshes last_seen_at


class IngestError(Exception):
    """A batch refused as a whole: `status` is the HTTP status to answer (400, 401, 413, 429)."""

    def __init__(self, status: int, detail: str, *, code: str = "invalid_payload",
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code
        self.headers = headers or {}


# --- decoding -------------------------------------------------------------------------------------


def _gunzip(body: bytes) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, MAX_DECODED_BYTES + 1)
    except zlib.error:
        raise IngestError(400, "The gzip body could not be decompressed.") from None
    if len(data) > MAX_DECODED_BYTES or inflater.unconsumed_tail:
        raise IngestError(413, f"The batch unpacks to more than {MAX_DECODED_BYTES // (1024 * 1024)} MB.",
                          code="payload_too_large")
    if not inflater.eof:
        raise IngestError(400, "The gzip body is truncated.")
    return data


def _form_data(text: str, compression: str | None) -> str:
    """The `data` field of a form body: base64 (posthog-js's beacon fallback) or JSON as is."""
    values = parse_qs(text, keep_blank_values=True).get("data")
    if not values:
        raise IngestError(400, "The form body has no data field.")
    data = values[0]
    if compression == "base64" or not data.lstrip().startswith(("{", "[")):
        try:
            # A '+' of base64 turns into a space when a client forgets to URL-encode it.
            return base64.b64decode(data.replace(" ", "+"), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise IngestError(400, "The data field is not valid base64.") from None
    return data


def decode_payload(body: bytes, *, content_type: str, compression: str | None, content_encoding: str | None) -> Any:
    """The JSON a request carries, whatever posthog-js wrapped it in."""
    compression = (compression or "").lower() or None
    if compression in {"lz64", "lz-string"}:
        raise IngestError(400, "lz64 compression is not supported; posthog-js sends gzip by default.")
    if body.startswith(GZIP_MAGIC) or compression in {"gzip", "gzip-js"} or (content_encoding or "").lower() == "gzip":
        body = _gunzip(body)
    elif len(body) > MAX_DECODED_BYTES:
        raise IngestError(413, "The batch is too large.", code="payload_too_large")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise IngestError(400, "The body is neither gzip nor UTF-8 text.") from None
    if content_type.startswith("application/x-www-form-urlencoded") or text.startswith("data="):
        text = _form_data(text, compression)
    if not text.strip():
        raise IngestError(400, "The body is empty.")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise IngestError(400, "The body is not valid JSON.") from None


def events_and_token(payload: Any) -> tuple[list[Any], str | None]:
    """The events of a payload and the project token it names (body first, then the first event)."""
    if isinstance(payload, list):
        events, body_token = payload, None
    elif isinstance(payload, dict) and isinstance(payload.get("batch"), list):
        events, body_token = payload["batch"], payload.get("api_key") or payload.get("token")
    elif isinstance(payload, dict):
        events, body_token = [payload], payload.get("api_key") or payload.get("token")
    else:
        raise IngestError(400, "The payload must be an event, a list of events or {\"batch\": [...]}.")
    token = body_token
    if token is None and events and isinstance(events[0], dict):
        first = events[0]
        properties = first.get("properties") if isinstance(first.get("properties"), dict) else {}
        token = properties.get("token") or first.get("api_key") or first.get("token")
    return events, token if isinstance(token, str) and token else None


# --- extraction -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Point:
    """One heatmap item as stored: positions and viewport in 16 px units."""

    url: str
    type: str
    x: int
    y: int
    target_fixed: bool
    viewport_width: int
    viewport_height: int
    session_id: str | None
    distinct_id: str
    timestamp: datetime

    @property
    def day(self) -> date:
        return self.timestamp.date()


def _number(value: Any) -> bool:
    """A JSON number a position or a size can be: finite, not a boolean, not absurdly large."""
    return (isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
            and abs(value) <= MAX_PIXELS)


def _scaled(value: float) -> int:
    """JavaScript's Math.round(value / 16), which PostHog applies; Python's round() rounds half to even."""
    return math.floor(value / SCALE_FACTOR + 0.5)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def event_time(event: Mapping[str, Any], sent_at: datetime | None, now: datetime) -> datetime:
    """When the event happened, by the server's clock: the client's timestamp moved by its clock's skew."""
    stamp = _parse_time(event.get("timestamp"))
    if stamp is None:
        return now
    if sent_at is not None:
        stamp = now - (sent_at - stamp)
    return min(stamp, now)


def _previous_page_url(current_url: str, pathname: str) -> str | None:
    try:
        parts = urlsplit(current_url)
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    return urlunsplit((parts.scheme, parts.netloc, pathname, parts.query, parts.fragment))


def _valid_distinct_id(value: Any) -> bool:
    return (isinstance(value, str) and bool(value.strip()) and len(value) <= MAX_ID_LENGTH and is_storable(value)
            and value.strip().lower() not in ILLEGAL_DISTINCT_IDS)


def extract_points(event: Any, timestamp: datetime) -> list[Point]:
    """The heatmap items of one event (PostHog's rules), or [] when it has none or is invalid."""
    if not isinstance(event, dict) or not isinstance(event.get("properties"), dict):
        return []
    properties: dict[str, Any] = event["properties"]
    heatmap_data = properties.get("$heatmap_data")
    items_by_url: dict[Any, Any] = dict(heatmap_data) if isinstance(heatmap_data, dict) else {}
    previous_path, current_url = properties.get("$prev_pageview_pathname"), properties.get("$current_url")
    if isinstance(previous_path, str) and previous_path and isinstance(current_url, str) and current_url:
        previous_url = _previous_page_url(current_url, previous_path)
        if previous_url is not None:
            scroll = {"x": 0, "y": properties.get("$prev_pageview_max_scroll"), "target_fixed": False,
                      "type": "scrolldepth"}
            existing = items_by_url.get(previous_url)
            items_by_url[previous_url] = [*(existing if isinstance(existing, list) else []), scroll]
    if not items_by_url:
        return []

    distinct_id = event.get("distinct_id", properties.get("distinct_id"))
    viewport_width, viewport_height = properties.get("$viewport_width"), properties.get("$viewport_height")
    if not _valid_distinct_id(distinct_id):
        return []
    if not (_number(viewport_width) and _number(viewport_height)) or _scaled(viewport_width) <= 0:
        return []
    session_id = properties.get("$session_id")
    session_id = (session_id if isinstance(session_id, str) and 0 < len(session_id) <= MAX_ID_LENGTH
                  and is_storable(session_id) else None)
    scaled_width, scaled_height = _scaled(viewport_width), _scaled(viewport_height)

    points = []
    for url, items in items_by_url.items():
        if (not isinstance(url, str) or not url.strip() or len(url) > MAX_URL_LENGTH or not is_storable(url)
                or not isinstance(items, list)):
            continue
        for item in items:
            if not (isinstance(item, dict) and _number(item.get("x")) and _number(item.get("y"))
                    and isinstance(item.get("type"), str) and isinstance(item.get("target_fixed"), bool)):
                continue
            # Off-page coordinates cannot be painted; other types than PostHog's are never read.
            if item["type"] not in INTERACTION_TYPES or item["x"] < 0 or item["y"] < 0:
                continue
            points.append(Point(
                url=url, type=item["type"], x=_scaled(item["x"]), y=_scaled(item["y"]),
                target_fixed=item["target_fixed"], viewport_width=scaled_width, viewport_height=scaled_height,
                session_id=session_id, distinct_id=distinct_id, timestamp=timestamp,
            ))
    return points


def batch_points(events: Iterable[Any], sent_at: Any, now: datetime, oldest: datetime) -> list[Point]:
    """Every point of a batch's events that happened after `oldest` (older ones are past retention)."""
    sent = _parse_time(sent_at)
    points = []
    for event in events:
        if isinstance(event, dict):
            points.extend(point for point in extract_points(event, event_time(event, sent, now))
                          if point.timestamp >= oldest)
    return points


# --- storage --------------------------------------------------------------------------------------


def url_hash(url: str) -> str:
    return hashlib.blake2b(url.encode(), digest_size=16).hexdigest()


def visitor_hash(distinct_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(distinct_id.encode(), digest_size=8).digest(), "big", signed=True)


CELL_KEYS = ("page_id", "type", "day", "viewport_width", "pointer_target_fixed", "x", "y")
VIEWPORT_KEYS = ("page_id", "type", "day", "viewport_width", "viewport_height", "at_origin")
VIEWPORT_COUNTS = ("interactions", "unfixed", "below_fold")


def _insert(table: Table) -> Any:
    """An INSERT with ON CONFLICT support on the app's database (PostgreSQL or SQLite)."""
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


RAW_COLUMNS = ("page_id", "type", "x", "y", "pointer_target_fixed", "viewport_width", "viewport_height", "session_id",
               "distinct_id", "timestamp", "scale_factor")
SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's storage format of a DateTime on SQLite


@functools.lru_cache(maxsize=4)
def _write_statements(dialect_name: str) -> tuple[str, str, str, str]:
    """The INSERTs of a batch as driver SQL (identical on SQLite and PostgreSQL but for the placeholder).

    Run through the driver's executemany with plain tuples: SQLAlchemy's per-row parameter processing
    cost more than the writes themselves.
    """
    mark = "%s" if dialect_name == "postgresql" else "?"

    def names(columns: tuple[str, ...]) -> str:
        return ", ".join(f'"{column}"' for column in columns)

    def insert(model: Any, columns: tuple[str, ...]) -> str:
        return f"INSERT INTO {model.__tablename__} ({names(columns)}) VALUES ({', '.join([mark] * len(columns))})"

    def adding(model: Any, keys: tuple[str, ...], counts: tuple[str, ...]) -> str:
        table = model.__tablename__
        additions = ", ".join(f'"{name}" = {table}."{name}" + excluded."{name}"' for name in counts)
        return f"{insert(model, keys + counts)} ON CONFLICT ({names(keys)}) DO UPDATE SET {additions}"

    return (
        insert(InteractionPoint, RAW_COLUMNS),
        adding(InteractionDailyCount, CELL_KEYS, ("count",)),
        f'{insert(InteractionDailyVisitor, (*CELL_KEYS, "visitor"))} ON CONFLICT DO NOTHING',
        adding(InteractionDailyViewport, VIEWPORT_KEYS, VIEWPORT_COUNTS),
    )


def _page_cache() -> dict[tuple[int, str], tuple[int, float]]:
    """(project id, url hash) -> (page id, when this process last refreshed its last_seen_at), per app."""
    return current_app.extensions.setdefault("interaction_page_ids", {})


def _page_id(project_id: int, url: str, now: datetime) -> int:
    key = (project_id, url_hash(url))
    cache = _page_cache()
    cached = cache.get(key)
    if cached is not None and time.monotonic() - cached[1] < PAGE_CACHE_SECONDS:
        return cached[0]
    page = InteractionPage.__table__
    db.session.execute(
        _insert(page).values(project_id=project_id, url=url, url_hash=key[1],
                             trimmed_url_hash=url_hash(url.rstrip("/")), first_seen_at=now, last_seen_at=now)
        .on_conflict_do_nothing(index_elements=["project_id", "url_hash"])
    )
    page_id = db.session.execute(
        update(InteractionPage).where(InteractionPage.project_id == project_id, InteractionPage.url_hash == key[1])
        .values(last_seen_at=now).returning(InteractionPage.id)
    ).scalar_one()
    if len(cache) > 50_000:
        cache.clear()
    cache[key] = (page_id, time.monotonic())
    return page_id


def store_points(project_id: int, points: list[Point], *, keep_points_after: datetime) -> None:
    """Write the points (the raw ones after `keep_points_after`) and add them to the daily tables, in one commit.

    Rows are written in key order, so concurrent batches lock shared daily rows in the same order and
    cannot deadlock each other on PostgreSQL.
    """
    if not points:
        return
    now = datetime.now(UTC)
    try:
        _write(project_id, points, now, keep_points_after)
    except IntegrityError:
        # A page this process had cached was dropped by the retention purge meanwhile: look it up again.
        db.session.rollback()
        _page_cache().clear()
        _write(project_id, points, now, keep_points_after)
    db.session.commit()
    POINTS_INGESTED.inc(len(points))


def _write(project_id: int, points: list[Point], now: datetime, keep_points_after: datetime) -> None:
    pages = {url: _page_id(project_id, url, now) for url in sorted({point.url for point in points})}
    on_sqlite = db.engine.dialect.name != "postgresql"
    raw_rows, cells, visitors, viewports = [], Counter[tuple[Any, ...]](), set(), {}
    for p in points:
        page_id = pages[p.url]
        day: Any = p.day.isoformat() if on_sqlite else p.day
        if p.timestamp >= keep_points_after:
            raw_rows.append((page_id, p.type, p.x, p.y, p.target_fixed, p.viewport_width, p.viewport_height,
                             p.session_id, p.distinct_id,
                             p.timestamp.strftime(SQLITE_DATETIME) if on_sqlite else p.timestamp, SCALE_FACTOR))
        # A scroll depth is kept as the depth reached: the scroll offset plus the viewport's height.
        scroll = p.type == "scrolldepth"
        cell = (page_id, p.type, day, p.viewport_width, p.target_fixed, 0 if scroll else p.x,
                p.y + p.viewport_height if scroll else p.y)
        cells[cell] += 1
        visitors.add((*cell, visitor_hash(p.distinct_id)))
        counts = viewports.setdefault(
            (page_id, p.type, day, p.viewport_width, p.viewport_height, p.x == 0 and p.y == 0), [0, 0, 0])
        counts[0] += 1
        counts[1] += not p.target_fixed
        counts[2] += (not p.target_fixed) and p.y > p.viewport_height

    insert_raw, add_counts, add_visitors, add_viewports = _write_statements(db.engine.dialect.name)
    connection = db.session.connection()
    if raw_rows:
        connection.exec_driver_sql(insert_raw, raw_rows)
    connection.exec_driver_sql(add_counts, [(*key, count) for key, count in sorted(cells.items())])
    connection.exec_driver_sql(add_visitors, sorted(visitors))
    connection.exec_driver_sql(add_viewports, [(*key, *counts) for key, counts in sorted(viewports.items())])


def retention_cutoffs(config: Mapping[str, Any], now: datetime) -> tuple[datetime, datetime]:
    """(oldest point kept for the daily counts, oldest point kept raw)."""
    return (now - timedelta(days=config["HEATMAP_DATA_RETENTION_DAYS"]),
            now - timedelta(days=config["HEATMAP_POINTS_RETENTION_DAYS"]))
