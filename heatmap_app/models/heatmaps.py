"""Saved heatmaps and the screenshots captured for them, one per viewport width."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

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
