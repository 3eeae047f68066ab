"""`heatmaps/` and `heatmaps/events/`: PostHog's heatmap queries, on the daily tables and the raw points.

The API views and the UI's overlay call these. A query first resolves the project's pages (by URL hash,
or by matching url_pattern against the pages' URLs), then reads the daily tables by their primary key
(page, type, day, viewport width, …), so its cost follows the page's distinct positions per day, not the
number of interactions stored.

Relative x is PostHog's round(x / viewport_width, 2), computed in integers (hundredths) so SQLite and
PostgreSQL round alike: floor((200·x + w) / (2·w)) for x, w ≥ 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, and_, false, func, or_, select, text

from heatmap_app.extensions import db
from heatmap_app.interactions.ingest import url_hash
from heatmap_app.interactions.schemas import (
    MAX_POINTS_LIMIT,
    FoldSummary,
    HeatmapEvent,
    HeatmapEventsQuery,
    HeatmapEventsResponse,
    HeatmapPoint,
    HeatmapQuery,
    HeatmapResponse,
    ScrollDepthBucket,
    ScrollDepthResponse,
    compile_pattern,
    end_of,
    start_of,
)
from heatmap_app.models import (
    InteractionDailyCount,
    InteractionDailyViewport,
    InteractionDailyVisitor,
    InteractionPage,
    InteractionPoint,
    Project,
)
from heatmap_app.models.interactions import SCALE_FACTOR

SCROLL_BUCKET = 100  # px
GROUPING_MEMORY = "64MB"
DailyTable = type[InteractionDailyCount] | type[InteractionDailyVisitor]


def matching_pages(project: Project, query: HeatmapQuery) -> list[int]:
    """The ids of the project's pages the query's URL filter matches.

    Resolved first, so the daily tables are read by their primary key from the page on (a subquery would
    leave the planner guessing how many pages match).
    """
    pages = select(InteractionPage.id).where(InteractionPage.project_id == project.id)
    if query.url_exact is not None:
        return list(db.session.scalars(
            pages.where(InteractionPage.trimmed_url_hash == url_hash(query.url_exact.rstrip("/")))))
    if query.url_pattern is not None:
        pattern = compile_pattern(query.url_pattern)
        rows = db.session.execute(
            select(InteractionPage.id, InteractionPage.url).where(InteractionPage.project_id == project.id)
        ).all()
        return [page_id for page_id, url in rows if pattern.search(url)]
    return list(db.session.scalars(pages))


def _scaled(pixels: int) -> int:
    return (pixels + SCALE_FACTOR // 2) // SCALE_FACTOR


def first_kept_day(now: datetime | None = None) -> date:
    """The oldest day the daily tables still hold (HEATMAP_DATA_RETENTION_DAYS)."""
    moment = now or datetime.now(UTC)
    return (moment - timedelta(days=current_app.config["HEATMAP_DATA_RETENTION_DAYS"])).date()


def _daily_filters(table: Any, project: Project, query: HeatmapQuery) -> list[ColumnElement[bool]]:
    pages = matching_pages(project, query)
    filters = [
        table.page_id.in_(pages),
        table.type == query.type,
        table.day >= max(query.date_from, first_kept_day()),
        table.day <= query.date_to,
    ]
    if query.viewport_width_min is not None:
        filters.append(table.viewport_width >= _scaled(query.viewport_width_min))
    if query.viewport_width_max is not None:
        filters.append(table.viewport_width <= _scaled(query.viewport_width_max))
    return filters


def _room_to_hash() -> None:
    """Let PostgreSQL group a busy page's cells in memory: its default 4 MB work_mem sorts them on disk."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text(f"SET LOCAL work_mem = '{GROUPING_MEMORY}'"))


def relative_x_hundredths(x: Any, width: Any) -> Any:
    return (200 * x + width) // (2 * width)


def _aggregate(table: DailyTable, unique: bool) -> Any:
    return func.count(func.distinct(table.visitor)) if unique else func.sum(table.count)  # type: ignore[union-attr]


def heatmap_points(project: Project, query: HeatmapQuery) -> HeatmapResponse:
    """Positions hottest first, with the fold summary (click, rageclick, deadclick, mousemove)."""
    unique = query.aggregation == "unique_visitors"
    table: Any = InteractionDailyVisitor if unique else InteractionDailyCount
    filters = _daily_filters(table, project, query)
    if query.hide_zero_coordinates:
        filters.append(or_(table.x != 0, table.y != 0))
    hundredths = relative_x_hundredths(table.x, table.viewport_width).label("hundredths")
    count = _aggregate(table, unique).label("count")
    statement = (
        select(table.pointer_target_fixed, hundredths, table.y, count)
        .where(*filters)
        .group_by(table.pointer_target_fixed, hundredths, table.y)
        .order_by(count.desc(), table.y, hundredths, table.pointer_target_fixed)
        .offset(query.offset)
    )
    fetch = MAX_POINTS_LIMIT if query.limit == 0 else query.limit + 1
    _room_to_hash()
    rows = db.session.execute(statement.limit(fetch)).all()
    has_more = query.limit != 0 and len(rows) > query.limit
    if has_more:
        rows = rows[: query.limit]
    return HeatmapResponse(
        results=[
            HeatmapPoint.model_construct(pointer_target_fixed=bool(fixed), pointer_relative_x=hundredth / 100,
                                         pointer_y=y * SCALE_FACTOR, count=int(total))
            for fixed, hundredth, y, total in rows
        ],
        fold=fold_summary(project, query),
        has_more=has_more,
    )


def _weighted_median(values: Sequence[tuple[int, int]]) -> int | None:
    """The median of values given as sorted (value, weight) pairs; the middle two averaged for an even total."""
    total = sum(weight for _, weight in values)
    if total == 0:
        return None
    wanted = ((total - 1) // 2, total // 2)  # 0-based ranks of the middle element(s)
    found: list[int] = []
    seen = 0
    for value, weight in values:
        while len(found) < 2 and seen + weight > wanted[len(found)]:
            found.append(value)
        seen += weight
        if len(found) == 2:
            break
    return int((found[0] + found[1]) / 2 + 0.5)


def fold_summary(project: Project, query: HeatmapQuery) -> FoldSummary:
    table = InteractionDailyViewport
    filters = _daily_filters(table, project, query)
    if query.hide_zero_coordinates:
        filters.append(table.at_origin == false())
    unfixed, below = db.session.execute(
        select(func.coalesce(func.sum(table.unfixed), 0), func.coalesce(func.sum(table.below_fold), 0)).where(*filters)
    ).one()
    heights = db.session.execute(
        select(table.viewport_height, func.sum(table.interactions)).where(*filters)
        .group_by(table.viewport_height).order_by(table.viewport_height)
    ).all()
    median = _weighted_median([(height * SCALE_FACTOR, int(weight)) for height, weight in heights])
    return FoldSummary.of(int(unfixed), int(below), median)


def scroll_depth(project: Project, query: HeatmapQuery) -> ScrollDepthResponse:
    """Visits per 100 px depth bucket, ascending, with how many reached each bucket or deeper."""
    unique = query.aggregation == "unique_visitors"
    table: Any = InteractionDailyVisitor if unique else InteractionDailyCount
    bucket = ((table.y * SCALE_FACTOR) // SCROLL_BUCKET * SCROLL_BUCKET).label("bucket")
    _room_to_hash()
    rows = db.session.execute(
        select(bucket, _aggregate(table, unique)).where(*_daily_filters(table, project, query))
        .group_by(bucket).order_by(bucket)
    ).all()
    remaining = sum(int(count) for _, count in rows)
    results = []
    for depth, count in rows:
        results.append(ScrollDepthBucket(scroll_depth_bucket=int(depth), bucket_count=int(count),
                                         cumulative_count=remaining))
        remaining -= int(count)
    return ScrollDepthResponse(results=results)


def heatmap_events(project: Project, query: HeatmapEventsQuery) -> HeatmapEventsResponse:
    """The stored interactions at the given positions, newest first: who clicked there."""
    point = InteractionPoint
    hundredths = relative_x_hundredths(point.x, point.viewport_width)
    at_positions = or_(*(
        and_(point.y * point.scale_factor == int(position.y), hundredths == round(position.x * 100),
             point.pointer_target_fixed == position.target_fixed)
        for position in query.points
    ))
    oldest = datetime.now(UTC) - timedelta(days=current_app.config["HEATMAP_POINTS_RETENTION_DAYS"])
    filters = [
        point.page_id.in_(matching_pages(project, query)),
        point.type == query.type,
        point.timestamp >= max(start_of(query.date_from), oldest),
        point.timestamp < end_of(query.date_to),
        at_positions,
    ]
    if query.viewport_width_min is not None:
        filters.append(point.viewport_width >= _scaled(query.viewport_width_min))
    if query.viewport_width_max is not None:
        filters.append(point.viewport_width <= _scaled(query.viewport_width_max))
    total = db.session.scalar(select(func.count()).select_from(point).where(*filters)) or 0
    rows = db.session.execute(
        select(point, InteractionPage.url).join(InteractionPage, InteractionPage.id == point.page_id)
        .where(*filters).order_by(point.timestamp.desc(), point.id.desc()).limit(query.limit).offset(query.offset)
    ).all()
    return HeatmapEventsResponse(
        results=[
            HeatmapEvent(
                session_id=row.session_id, distinct_id=row.distinct_id, timestamp=row.timestamp,
                pointer_relative_x=((200 * row.x + row.viewport_width) // (2 * row.viewport_width)) / 100,
                pointer_y=row.y * row.scale_factor, current_url=url, type=row.type,
            )
            for row, url in rows
        ],
        total_count=total,
        has_more=total > query.offset + query.limit,
    )


def heatmap(project: Project, query: HeatmapQuery) -> HeatmapResponse | ScrollDepthResponse:
    """`heatmaps/`: scroll-depth buckets for scrolldepth, positions for the other types."""
    return scroll_depth(project, query) if query.type == "scrolldepth" else heatmap_points(project, query)


def project_last_seen(project: Project) -> datetime | None:
    """When data last arrived for the project (to the minute: ingest refreshes a page's time once a minute)."""
    return db.session.scalar(
        select(func.max(InteractionPage.last_seen_at)).where(InteractionPage.project_id == project.id))


def recent_pages(project: Project, count: int = 10) -> list[InteractionPage]:
    """The project's pages that sent data most recently."""
    return list(db.session.scalars(
        select(InteractionPage).where(InteractionPage.project_id == project.id)
        .order_by(InteractionPage.last_seen_at.desc()).limit(count)
    ))
