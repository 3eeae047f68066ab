"""Heatmap data collected from live sites by posthog-js: clicks, mouse moves and scroll depth.

Positions are stored as PostHog stores them: divided by SCALE_FACTOR (16 px) and rounded, viewport sizes
too. Three layers, so that reading a heatmap costs what the page's distinct positions cost, not what its
raw traffic costs:

- InteractionPage: one row per (project, page URL); every other table points at it, so a URL is stored
  once and `url_pattern` is matched against a project's pages, never against its points.
- InteractionPoint: every point as received (SPEC §11's fields), kept HEATMAP_POINTS_RETENTION_DAYS for
  `heatmaps/events/` ("who clicked here").
- InteractionDailyCount / InteractionDailyVisitor / InteractionDailyViewport: per UTC day, the counts
  `heatmaps/` answers from, kept HEATMAP_DATA_RETENTION_DAYS.

For `scrolldepth` the daily tables keep x = 0 and y = the depth reached (scroll offset + viewport height,
in 16 px units), the one value a scroll-depth query groups by.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from heatmap_app.extensions import db
from heatmap_app.models.base import UTCDateTime, utcnow

SCALE_FACTOR = 16
INTERACTION_TYPES = ("click", "rageclick", "deadclick", "mousemove", "scrolldepth")
POSITION_TYPES = ("click", "rageclick", "deadclick", "mousemove")
# SQLite keeps integer primary keys as its rowid; PostgreSQL needs 64 bits for a busy site's points.
BIG_ID = BigInteger().with_variant(Integer, "sqlite")
# The daily tables are read by their primary key alone: on SQLite, keep the row inside that index.
CLUSTERED = {"sqlite_with_rowid": False}


class InteractionPage(db.Model):
    __tablename__ = "interaction_page"
    __table_args__ = (
        Index("uq_interaction_page_project_url", "project_id", "url_hash", unique=True),
        Index("ix_interaction_page_project_trimmed", "project_id", "trimmed_url_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2000))
    # Hashes, not the URLs, are indexed: a long URL would not fit in a PostgreSQL btree entry.
    url_hash: Mapped[str] = mapped_column(String(32))
    trimmed_url_hash: Mapped[str] = mapped_column(String(32))  # of the URL without trailing slashes
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class InteractionPoint(db.Model):
    __tablename__ = "interaction_point"
    __table_args__ = (
        Index("ix_interaction_point_page_type_y", "page_id", "type", "y"),
        Index("ix_interaction_point_timestamp", "timestamp"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("interaction_page.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(12))
    x: Mapped[int] = mapped_column(Integer)
    y: Mapped[int] = mapped_column(Integer)
    pointer_target_fixed: Mapped[bool] = mapped_column(Boolean)
    viewport_width: Mapped[int] = mapped_column(Integer)
    viewport_height: Mapped[int] = mapped_column(Integer)
    session_id: Mapped[str | None] = mapped_column(String(200))
    distinct_id: Mapped[str] = mapped_column(String(200))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    scale_factor: Mapped[int] = mapped_column(SmallInteger, default=SCALE_FACTOR)


class InteractionDailyCount(db.Model):
    """How many interactions each position had on one day, per page, type and viewport width."""

    __tablename__ = "interaction_daily_count"
    __table_args__ = (Index("ix_interaction_daily_count_day", "day"), CLUSTERED)

    page_id: Mapped[int] = mapped_column(ForeignKey("interaction_page.id", ondelete="CASCADE"), primary_key=True)
    type: Mapped[str] = mapped_column(String(12), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    viewport_width: Mapped[int] = mapped_column(Integer, primary_key=True)
    pointer_target_fixed: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    x: Mapped[int] = mapped_column(Integer, primary_key=True)
    y: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class InteractionDailyVisitor(db.Model):
    """Which visitors (a 64-bit hash of distinct_id) interacted at each position on one day.

    `unique_visitors` counts distinct hashes across the days asked for. One row per visitor, position
    and day: repeats (rage clicks, mouse moves, return visits the same day) collapse, but its size grows
    with visitors, unlike InteractionDailyCount.
    """

    __tablename__ = "interaction_daily_visitor"
    __table_args__ = (Index("ix_interaction_daily_visitor_day", "day"), CLUSTERED)

    page_id: Mapped[int] = mapped_column(ForeignKey("interaction_page.id", ondelete="CASCADE"), primary_key=True)
    type: Mapped[str] = mapped_column(String(12), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    viewport_width: Mapped[int] = mapped_column(Integer, primary_key=True)
    pointer_target_fixed: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    x: Mapped[int] = mapped_column(Integer, primary_key=True)
    y: Mapped[int] = mapped_column(Integer, primary_key=True)
    visitor: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


class InteractionDailyViewport(db.Model):
    """Interactions per viewport size on one day: the fold summary (below the first screen, median height)."""

    __tablename__ = "interaction_daily_viewport"
    __table_args__ = (Index("ix_interaction_daily_viewport_day", "day"), CLUSTERED)

    page_id: Mapped[int] = mapped_column(ForeignKey("interaction_page.id", ondelete="CASCADE"), primary_key=True)
    type: Mapped[str] = mapped_column(String(12), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    viewport_width: Mapped[int] = mapped_column(Integer, primary_key=True)
    viewport_height: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Points at (0, 0) are apart, so `hide_zero_coordinates` applies to the fold summary as well.
    at_origin: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    interactions: Mapped[int] = mapped_column(Integer)
    unfixed: Mapped[int] = mapped_column(Integer)
    below_fold: Mapped[int] = mapped_column(Integer)
