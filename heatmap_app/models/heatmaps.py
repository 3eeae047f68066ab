"""Saved heatmaps, their capture runs, and the screenshots each run captured, one per viewport width."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint, and_, false
from sqlalchemy.orm import Mapped, foreign, mapped_column, relationship

from heatmap_app.extensions import db
from heatmap_app.heatmap_schemas import MAX_NAME_LENGTH, MAX_URL_LENGTH
from heatmap_app.models.accounts import Project, User
from heatmap_app.models.base import UTCDateTime, utcnow


class SavedHeatmap(db.Model):
    __tablename__ = "saved_heatmap"
    __table_args__ = (UniqueConstraint("project_id", "short_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    short_id: Mapped[str] = mapped_column(String(12))
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(String(MAX_NAME_LENGTH))
    url: Mapped[str] = mapped_column(String(MAX_URL_LENGTH))
    data_url: Mapped[str | None] = mapped_column(String(MAX_URL_LENGTH))
    target_widths: Mapped[list[int]] = mapped_column(JSON)
    type: Mapped[str] = mapped_column(String(20), default="screenshot")
    status: Mapped[str] = mapped_column(String(20), default="processing", index=True)
    block_consent_modals: Mapped[bool] = mapped_column(Boolean, default=False)
    # heatmap_app.capture_settings: header and cookie values and the password in it are Fernet tokens.
    capture_settings: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(20), default="server", server_default="server")
    # A speculative capture started by prewarm/, promoted to a real heatmap when one is created for its URL.
    is_prewarm: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, index=True)
    exception: Mapped[str | None] = mapped_column(Text)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    # Bumped on every (re)generation, so a job left over from an earlier one cannot write into this one.
    capture_generation: Mapped[int] = mapped_column(Integer, default=0)
    capture_enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Recapture on a schedule (UTC hour; weekday 0 = Monday for weekly). The version changes with the schedule,
    # so a recapture RQ's scheduler still holds for an older schedule does nothing when its time comes.
    recapture_frequency: Mapped[str] = mapped_column(String(10), default="off")
    recapture_hour: Mapped[int] = mapped_column(Integer, default=6)
    recapture_weekday: Mapped[int] = mapped_column(Integer, default=0)
    schedule_version: Mapped[int] = mapped_column(Integer, default=0)
    change_webhook_url: Mapped[str | None] = mapped_column(String(2000))
    # The HMAC key of its webhook's signature, made when a webhook URL is first set; the receiver checks with it.
    change_webhook_secret: Mapped[str | None] = mapped_column(String(64))
    # When the newest compared run differed from the one before it by more than the change threshold.
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    project: Mapped[Project] = relationship()
    created_by: Mapped[User | None] = relationship()
    # Every run's screenshots; `snapshots` are the current run's, the only ones the content endpoint serves.
    all_snapshots: Mapped[list[HeatmapSnapshot]] = relationship(
        back_populates="heatmap", cascade="all, delete-orphan", overlaps="snapshots"
    )
    snapshots: Mapped[list[HeatmapSnapshot]] = relationship(
        primaryjoin=lambda: and_(
            SavedHeatmap.id == foreign(HeatmapSnapshot.heatmap_id),
            SavedHeatmap.capture_generation == foreign(HeatmapSnapshot.generation),
        ),
        order_by="HeatmapSnapshot.width",
        viewonly=True,
    )
    runs: Mapped[list[CaptureRun]] = relationship(
        back_populates="heatmap", order_by="CaptureRun.generation.desc()", cascade="all, delete-orphan"
    )


class CaptureRun(db.Model):
    """One capture of a saved heatmap (its generation): what was asked, when, how it ended, and how far its
    screenshots differ from the run compared before it."""

    __tablename__ = "capture_run"
    __table_args__ = (UniqueConstraint("heatmap_id", "generation"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    heatmap_id: Mapped[str] = mapped_column(ForeignKey("saved_heatmap.id", ondelete="CASCADE"), index=True)
    generation: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(20))
    url: Mapped[str] = mapped_column(String(2000))
    target_widths: Mapped[list[int]] = mapped_column(JSON)
    block_consent_modals: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default="processing")
    exception: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    compared_with_generation: Mapped[int | None] = mapped_column(Integer)
    changed_share: Mapped[float | None] = mapped_column(Float)  # the largest over the widths both runs have
    height_change: Mapped[int | None] = mapped_column(Integer)  # page pixels, at the same width

    heatmap: Mapped[SavedHeatmap] = relationship(back_populates="runs")
    snapshots: Mapped[list[HeatmapSnapshot]] = relationship(
        primaryjoin=lambda: and_(
            CaptureRun.heatmap_id == foreign(HeatmapSnapshot.heatmap_id),
            CaptureRun.generation == foreign(HeatmapSnapshot.generation),
        ),
        order_by="HeatmapSnapshot.width",
        viewonly=True,
    )


class HeatmapSnapshot(db.Model):
    __tablename__ = "heatmap_snapshot"
    __table_args__ = (UniqueConstraint("heatmap_id", "generation", "width"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    heatmap_id: Mapped[str] = mapped_column(ForeignKey("saved_heatmap.id", ondelete="CASCADE"), index=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    page_height: Mapped[int] = mapped_column(Integer)
    byte_size: Mapped[int] = mapped_column(Integer)
    file_path: Mapped[str] = mapped_column(String(300))
    thumbnail_path: Mapped[str] = mapped_column(String(300))
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    heatmap: Mapped[SavedHeatmap] = relationship(back_populates="all_snapshots", overlaps="snapshots")

    @property
    def has_content(self) -> bool:
        return self.byte_size > 0
