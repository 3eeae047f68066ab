"""Saved heatmaps and the screenshots captured for them, one per viewport width."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from heatmap_app.extensions import db
from heatmap_app.models.accounts import Project, User
from heatmap_app.models.base import UTCDateTime, utcnow

HEATMAP_TYPES = ("screenshot", "iframe")
HEATMAP_STATUSES = ("processing", "completed", "failed")
# Where the screenshots come from: captured by our workers, or uploaded from the user's own browser.
HEATMAP_SOURCES = ("server", "toolbar")


class SavedHeatmap(db.Model):
    __tablename__ = "saved_heatmap"
    __table_args__ = (UniqueConstraint("project_id", "short_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    short_id: Mapped[str] = mapped_column(String(12))
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(String(400))
    url: Mapped[str] = mapped_column(String(2000))
    data_url: Mapped[str | None] = mapped_column(String(2000))
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

    project: Mapped[Project] = relationship()
    created_by: Mapped[User | None] = relationship()
    snapshots: Mapped[list[HeatmapSnapshot]] = relationship(
        back_populates="heatmap", order_by="HeatmapSnapshot.width", cascade="all, delete-orphan"
    )


class HeatmapSnapshot(db.Model):
    __tablename__ = "heatmap_snapshot"
    __table_args__ = (UniqueConstraint("heatmap_id", "width"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    heatmap_id: Mapped[str] = mapped_column(ForeignKey("saved_heatmap.id", ondelete="CASCADE"), index=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    page_height: Mapped[int] = mapped_column(Integer)
    byte_size: Mapped[int] = mapped_column(Integer)
    file_path: Mapped[str] = mapped_column(String(300))
    thumbnail_path: Mapped[str] = mapped_column(String(300))
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    heatmap: Mapped[SavedHeatmap] = relationship(back_populates="snapshots")

    @property
    def has_content(self) -> bool:
        return self.byte_size > 0
