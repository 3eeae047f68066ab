"""The typed contract of the account endpoints (user, key, organizations, projects, members, invitations),
in PostHog's shapes: one pydantic model per request and response, the OpenAPI components generated from them.

PostHog's membership levels are numbers: 1 member, 8 admin (its 15, owner, is read as admin here).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, StrictStr, WithJsonSchema

from heatmap_app.accounts import ADMIN, MEMBER, key_reaches_organization, user_can_reach_project
from heatmap_app.heatmap_schemas import UTCTimestamp, UserBasic
from heatmap_app.models import Organization, OrganizationInvite, OrganizationMembership, PersonalAPIKey, Project, User

LEVELS = {MEMBER: 1, ADMIN: 8}
LEVEL_NAMES = {1: MEMBER, 8: ADMIN, 15: ADMIN}


def _known_level(level: int) -> int:
    if level not in LEVEL_NAMES:
        raise ValueError("level must be 1 (member) or 8 (admin).")
    return level


# A number, not true (which Python counts as 1) nor 8.0.
MembershipLevel = Annotated[StrictInt, AfterValidator(_known_level), WithJsonSchema({"type": "integer", "enum": [1, 8, 15]})]


# --- requests -------------------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class NamedBody(_Body):
    """POST projects/ and PATCH of a project or an organization: its name."""

    name: StrictStr = Field(min_length=1, max_length=200)


class MemberUpdate(_Body):
    level: MembershipLevel = Field(description="1 member, 8 admin (15, PostHog's owner, makes an admin).")


class InviteCreate(_Body):
    target_email: StrictStr = Field(min_length=3, max_length=254)
    level: MembershipLevel = 1


# --- responses ------------------------------------------------------------------------------------


class ProjectBasic(BaseModel):
    """PostHog's team: a project (the unit heatmaps, keys and data belong to)."""

    id: int
    uuid: str
    organization: str
    project_id: int
    api_token: str = Field(description="The public phc_ token the site's snippet sends data with.")
    name: str
    timezone: str = "UTC"
    is_demo: bool = False
    created_at: UTCTimestamp

    @classmethod
    def of(cls, project: Project) -> ProjectBasic:
        return cls(id=project.id, uuid=project.uuid, organization=project.organization_id, project_id=project.id,
                   api_token=project.api_token, name=project.name, created_at=project.created_at)


class OrganizationBasic(BaseModel):
    id: str
    name: str
    slug: str
    logo_media_id: str | None = None
    membership_level: int | None

    @classmethod
    def of(cls, organization: Organization, user: User) -> OrganizationBasic:
        return cls(id=organization.id, name=organization.name, slug=organization.id,
                   membership_level=_level(organization, user))


class OrganizationDetail(OrganizationBasic):
    created_at: UTCTimestamp
    teams: list[ProjectBasic] = Field(description="The organization's projects this key reaches.")
    projects: list[ProjectBasic]

    @classmethod
    def reached(cls, organization: Organization, user: User, key: PersonalAPIKey | None) -> OrganizationDetail:
        projects = [ProjectBasic.of(project) for project in organization.live_projects
                    if user_can_reach_project(user, project, key)]
        return cls(**OrganizationBasic.of(organization, user).model_dump(), created_at=organization.created_at,
                   teams=projects, projects=projects)


class Me(UserBasic):
    """GET users/@me/: the key's user, the organizations and projects the key reaches, and the current ones."""

    is_staff: bool
    organization: OrganizationBasic | None
    organizations: list[OrganizationBasic]
    team: ProjectBasic | None
    projects: list[ProjectBasic] = Field(description="Our extension: every project the key reaches.")
    scopes: list[str] = Field(description="Our extension: the calling key's scopes.")


class PersonalAPIKeyInfo(BaseModel):
    """GET personal_api_keys/@current/: the calling key, masked."""

    id: str
    label: str
    mask_value: str
    created_at: UTCTimestamp
    last_used_at: UTCTimestamp | None
    user_id: int
    scopes: list[str]
    scoped_teams: list[int] = Field(description="Empty: not limited to projects.")
    scoped_organizations: list[str] = Field(description="Empty: not limited to organizations.")

    @classmethod
    def of(cls, key: PersonalAPIKey) -> PersonalAPIKeyInfo:
        return cls(id=key.id, label=key.label, mask_value=key.mask_value, created_at=key.created_at,
                   last_used_at=key.last_used_at, user_id=key.user_id, scopes=key.scopes,
                   scoped_teams=key.scoped_projects or [], scoped_organizations=key.scoped_organizations or [])


class Member(BaseModel):
    id: int
    user: UserBasic
    level: int
    joined_at: UTCTimestamp

    @classmethod
    def of(cls, member: OrganizationMembership) -> Member:
        return cls(id=member.id, user=UserBasic.of(member.user), level=LEVELS[member.level],
                   joined_at=member.created_at)


class Invite(BaseModel):
    id: str
    target_email: str
    level: int
    is_expired: bool
    emailing_attempt_made: bool
    created_by: UserBasic | None
    created_at: UTCTimestamp
    expires_at: UTCTimestamp
    link: str | None = Field(None, description="Our extension: the link to accept, in the create answer only.")

    @classmethod
    def of(cls, invite: OrganizationInvite, now: datetime, link: str | None = None) -> Invite:
        return cls(id=invite.id, target_email=invite.target_email, level=LEVELS[invite.level],
                   is_expired=invite.expires_at <= now, emailing_attempt_made=invite.emailed,
                   created_by=UserBasic.of(invite.created_by) if invite.created_by else None,
                   created_at=invite.created_at, expires_at=invite.expires_at, link=link)


class ProjectList(BaseModel):
    count: int
    next: str | None = None
    previous: str | None = None
    results: list[ProjectBasic]


class OrganizationList(BaseModel):
    count: int
    next: str | None = None
    previous: str | None = None
    results: list[OrganizationBasic]


class MemberList(BaseModel):
    count: int
    next: str | None = None
    previous: str | None = None
    results: list[Member]


class InviteList(BaseModel):
    count: int
    next: str | None = None
    previous: str | None = None
    results: list[Invite]


def _level(organization: Organization, user: User) -> int | None:
    found = next((item for item in user.memberships if item.organization_id == organization.id), None)
    return LEVELS[found.level] if found else None


def reached_organizations(user: User, key: PersonalAPIKey | None) -> list[Organization]:
    """The user's organizations the key reaches: as a whole, or (a project-scoped key) through one of its projects."""
    return [organization for organization in user.organizations
            if key_reaches_organization(key, organization.id)
            or any(user_can_reach_project(user, project, key) for project in organization.live_projects)]


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")
