"""Organizations, their projects, members and invitations: the functions the API and the UI share.

Members see and work on every live project of their organizations; only admins manage projects,
members, invitations and the organization itself. An organization always keeps an admin and a project.
Refusals raise TeamError (bad input, 400), NotAllowed (the role does not allow it, 403) or
InviteUnusable (an invitation that cannot be used: unknown, expired, used, or for another account).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select

from heatmap_app.accounts import (
    ADMIN,
    MEMBER,
    AccountError,
    create_user,
    end_sessions,
    find_user_by_email,
    new_project_token,
    normalise_email,
)
from heatmap_app.extensions import db
from heatmap_app.mail import send_mail
from heatmap_app.models import Organization, OrganizationInvite, OrganizationMembership, Project, User
from heatmap_app.models.base import utcnow

MAX_NAME_LENGTH = 200
INVITE_TOKEN_BYTES = 32


class TeamError(ValueError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotAllowed(PermissionError):
    """The user's role in the organization does not allow this."""


class InviteUnusable(LookupError):
    """An invitation link that cannot be used; the message says why (for the person holding it)."""


# --- roles ----------------------------------------------------------------------------------------


def membership(user: User, organization: Organization) -> OrganizationMembership | None:
    return next((item for item in user.memberships if item.organization_id == organization.id), None)


def is_admin(user: User, organization: Organization) -> bool:
    member = membership(user, organization)
    return member is not None and member.level == ADMIN


def require_admin(user: User, organization: Organization) -> None:
    if not is_admin(user, organization):
        raise NotAllowed("Only an admin of the organization can do this.")


def _admin_count(organization: Organization) -> int:
    return sum(item.level == ADMIN for item in organization.memberships)


def _clean_name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise TeamError(f"Give the {what} a name.", "name")
    if len(value.strip()) > MAX_NAME_LENGTH:
        raise TeamError(f"The name is longer than {MAX_NAME_LENGTH} characters.", "name")
    return value.strip()


# --- organizations and projects -------------------------------------------------------------------


def rename_organization(organization: Organization, actor: User, name: Any) -> Organization:
    require_admin(actor, organization)
    organization.name = _clean_name(name, "organization")
    db.session.commit()
    return organization


def create_project(organization: Organization, actor: User, name: Any) -> Project:
    require_admin(actor, organization)
    project = Project(organization=organization, name=_clean_name(name, "project"), api_token=new_project_token())
    db.session.add(project)
    db.session.commit()
    return project


def rename_project(project: Project, actor: User, name: Any) -> Project:
    require_admin(actor, project.organization)
    project.name = _clean_name(name, "project")
    db.session.commit()
    return project


def rotate_project_token(project: Project, actor: User) -> Project:
    """A new public `phc_` token: sites still sending the old one are refused from now on."""
    require_admin(actor, project.organization)
    project.api_token = new_project_token()
    db.session.commit()
    return project


def delete_project(project: Project, actor: User) -> Project:
    """Soft delete: out of every list and out of reach (API, UI, ingestion); the organization keeps one project."""
    require_admin(actor, project.organization)
    if [live for live in project.organization.live_projects if live.id != project.id] == []:
        raise TeamError("An organization keeps at least one project; create another one first.")
    project.deleted = True
    db.session.commit()
    return project


# --- members --------------------------------------------------------------------------------------


def _member_or_error(organization: Organization, member: User) -> OrganizationMembership:
    found = membership(member, organization)
    if found is None:
        raise TeamError("This person is not a member of the organization.")
    return found


def change_role(organization: Organization, actor: User, member: User, level: str) -> OrganizationMembership:
    require_admin(actor, organization)
    if level not in (ADMIN, MEMBER):
        raise TeamError("The role must be admin or member.", "level")
    found = _member_or_error(organization, member)
    if found.level == ADMIN and level != ADMIN and _admin_count(organization) == 1:
        raise TeamError("The organization's last admin cannot be demoted; make someone else admin first.", "level")
    found.level = level
    db.session.commit()
    return found


def remove_member(organization: Organization, actor: User, member: User) -> None:
    """Remove a member (an admin removes anyone; anyone may leave). Their sessions end at once, and their keys
    reach the organization no more: keys scoped to it alone are revoked, the others lose it with the membership."""
    if actor.id != member.id:
        require_admin(actor, organization)
    found = _member_or_error(organization, member)
    if found.level == ADMIN and _admin_count(organization) == 1:
        raise TeamError("The organization's last admin cannot be removed; make someone else admin first.")
    project_ids = {project.id for project in organization.projects}
    for key in list(member.api_keys):
        if (key.scoped_projects is not None and set(key.scoped_projects) <= project_ids) or (
            key.scoped_organizations is not None and set(key.scoped_organizations) == {organization.id}
        ):
            db.session.delete(key)
    if member.current_project is not None and member.current_project.organization_id == organization.id:
        member.current_project = None
    db.session.delete(found)
    end_sessions(member)  # commits
    db.session.expire(member)


# --- invitations ----------------------------------------------------------------------------------


def _hash_token(raw: str) -> str:
    return "sha256$" + hashlib.sha256(raw.encode()).hexdigest()


def invite(organization: Organization, actor: User, email: Any, level: str = MEMBER) -> tuple[OrganizationInvite, str]:
    """An invitation valid for INVITE_VALIDITY_HOURS and its raw token (shown once, mailed when SMTP is set)."""
    require_admin(actor, organization)
    if not isinstance(email, str) or "@" not in email.strip() or len(email.strip()) > 254:
        raise TeamError("Enter the email address to invite.", "target_email")
    if level not in (ADMIN, MEMBER):
        raise TeamError("The role must be admin or member.", "level")
    email = normalise_email(email)
    existing = find_user_by_email(email)
    if existing is not None and membership(existing, organization) is not None:
        raise TeamError(f"{email} is already a member.", "target_email")
    raw = secrets.token_urlsafe(INVITE_TOKEN_BYTES)
    hours = current_app.config["INVITE_VALIDITY_HOURS"]
    record = OrganizationInvite(
        organization=organization, target_email=email, level=level, token_hash=_hash_token(raw),
        created_by=actor, expires_at=utcnow() + timedelta(hours=hours),
    )
    db.session.add(record)
    db.session.commit()
    return record, raw


def send_invite_mail(record: OrganizationInvite, link: str) -> bool:
    """Mail the link when SMTP_HOST is set; whether a mail went out (the admin has the link on screen anyway)."""
    sent = send_mail(
        record.target_email,
        f"Join {record.organization.name} on Heatmaps",
        f"{record.created_by.email if record.created_by else 'An admin'} invites you to "
        f"{record.organization.name}.\n\nAccept: {link}\n\nThe link works once, until {record.expires_at:%Y-%m-%d %H:%M} UTC.",
    )
    if sent:
        record.emailed = True
        db.session.commit()
    return sent


def pending_invites(organization: Organization) -> list[OrganizationInvite]:
    return list(db.session.scalars(
        select(OrganizationInvite)
        .where(OrganizationInvite.organization_id == organization.id, OrganizationInvite.accepted_at.is_(None))
        .order_by(OrganizationInvite.created_at.desc())
    ))


def revoke_invite(organization: Organization, actor: User, invite_id: str) -> None:
    require_admin(actor, organization)
    record = db.session.get(OrganizationInvite, invite_id)
    if record is None or record.organization_id != organization.id or record.accepted_at is not None:
        raise InviteUnusable("This invitation does not exist or was already used.")
    db.session.delete(record)
    db.session.commit()


def usable_invite(raw: str) -> OrganizationInvite:
    """The invitation behind a link, if it can still be accepted."""
    record = db.session.scalar(select(OrganizationInvite).where(OrganizationInvite.token_hash == _hash_token(raw)))
    if record is None:
        raise InviteUnusable("This invitation link is not valid. Ask an admin of the organization for a new one.")
    if record.accepted_at is not None:
        raise InviteUnusable("This invitation was already used. Log in, or ask an admin for a new one.")
    if record.expires_at <= utcnow():
        raise InviteUnusable("This invitation has expired. Ask an admin of the organization for a new one.")
    return record


def accept_invite(raw: str, user: User) -> Organization:
    """Join the invitation's organization as the signed-in `user`, whose email must be the invited one."""
    record = usable_invite(raw)
    if normalise_email(user.email) != record.target_email:
        raise InviteUnusable(f"This invitation is for {record.target_email}, and you are logged in as {user.email}. "
                             "Log out and open the link again.")
    if membership(user, record.organization) is None:
        db.session.add(OrganizationMembership(organization=record.organization, user=user, level=record.level))
    record.accepted_at = utcnow()
    user.current_project = record.organization.live_projects[0]
    db.session.commit()
    return record.organization


def accept_invite_as_new_user(raw: str, password: str, first_name: str = "") -> User:
    """Create the invited person's account, a member of the organization only (no organization of their own)."""
    record = usable_invite(raw)
    if find_user_by_email(record.target_email) is not None:
        raise InviteUnusable(f"An account for {record.target_email} exists already: log in to accept.")
    try:
        user = create_user(record.target_email, password, first_name=first_name,
                           join=(record.organization, record.level))
    except AccountError as error:
        raise TeamError(str(error), error.field) from None
    record.accepted_at = utcnow()
    db.session.commit()
    return user
