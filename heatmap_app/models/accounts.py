"""People, the organizations they belong to, their projects and their personal API keys."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import JSON, Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from heatmap_app.extensions import db
from heatmap_app.models.base import UTCDateTime, utcnow


def _new_uuid() -> str:
    return str(uuid.uuid4())


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


class Organization(db.Model):
    __tablename__ = "organization"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_new_uuid)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    memberships: Mapped[list[OrganizationMembership]] = relationship(
        back_populates="organization", order_by="OrganizationMembership.id"
    )
    projects: Mapped[list[Project]] = relationship(back_populates="organization", order_by="Project.id")

    @property
    def live_projects(self) -> list[Project]:
        return [project for project in self.projects if not project.deleted]


class OrganizationMembership(db.Model):
    __tablename__ = "organization_membership"
    __table_args__ = (UniqueConstraint("organization_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    level: Mapped[str] = mapped_column(String(20), default="member")  # member | admin
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organization: Mapped[Organization] = relationship(back_populates="memberships")
    user: Mapped[User] = relationship(back_populates="memberships")


class Project(db.Model):
    """PostHog's team/environment: the unit every saved heatmap and API route belongs to."""

    __tablename__ = "project"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=_new_uuid)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    api_token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Soft delete: its heatmaps and data stay in the database, out of every list and out of reach.
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)

    organization: Mapped[Organization] = relationship(back_populates="projects")


class User(UserMixin, db.Model):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=_new_uuid)
    distinct_id: Mapped[str] = mapped_column(String(200), unique=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    first_name: Mapped[str] = mapped_column(String(150), default="")
    last_name: Mapped[str] = mapped_column(String(150), default="")
    is_email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    role_at_organization: Mapped[str | None] = mapped_column(String(64))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)  # type: ignore[assignment]
    is_staff: Mapped[bool] = mapped_column(Boolean, default=False)
    current_project_id: Mapped[int | None] = mapped_column(ForeignKey("project.id", ondelete="SET NULL"))
    # Part of the id every login session carries: replacing it ends all of the user's sessions at once.
    session_token: Mapped[str] = mapped_column(String(64), default=new_session_token)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    memberships: Mapped[list[OrganizationMembership]] = relationship(back_populates="user")
    current_project: Mapped[Project | None] = relationship()
    api_keys: Mapped[list[PersonalAPIKey]] = relationship(back_populates="user", cascade="all, delete-orphan")

    def get_id(self) -> str:
        """Flask-Login's session id: `<id>:<session_token>`, so a session outlives no logout or password change."""
        return f"{self.id}:{self.session_token}"

    @property
    def organizations(self) -> list[Organization]:
        return [membership.organization for membership in self.memberships]

    @property
    def projects(self) -> list[Project]:
        return [project for organization in self.organizations for project in organization.live_projects]


class PersonalAPIKey(db.Model):
    """A key is shown once at creation; only its sha256 is stored."""

    __tablename__ = "personal_api_key"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_new_uuid)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(100))
    mask_value: Mapped[str] = mapped_column(String(20))
    secure_value: Mapped[str] = mapped_column(String(80), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    scoped_projects: Mapped[list[int] | None] = mapped_column(JSON)
    scoped_organizations: Mapped[list[str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="api_keys")


class OrganizationInvite(db.Model):
    """An invitation to join an organization: its link is shown once; only its sha256 is stored."""

    __tablename__ = "organization_invite"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_new_uuid)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    target_email: Mapped[str] = mapped_column(String(254))
    level: Mapped[str] = mapped_column(String(20), default="member")
    token_hash: Mapped[str] = mapped_column(String(80), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    emailed: Mapped[bool] = mapped_column(Boolean, default=False)

    organization: Mapped[Organization] = relationship()
    created_by: Mapped[User | None] = relationship()
