"""Accounts and personal API keys: the functions the CLI, the API and the UI share."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import uuid
from collections.abc import Iterable
from datetime import timedelta
from functools import cache

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from heatmap_app.extensions import db
from heatmap_app.models import Organization, OrganizationMembership, PersonalAPIKey, Project, User
from heatmap_app.models.accounts import new_session_token
from heatmap_app.models.base import parse_id, utcnow

API_KEY_PREFIX = "phx_"
PROJECT_TOKEN_PREFIX = "phc_"
# PostHog's keys read as base57-ish: letters and digits without the look-alikes 0, O, 1, l and I.
KEY_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
API_KEY_RANDOM_BYTES = 35
SCOPE_READ = "heatmap:read"
SCOPE_WRITE = "heatmap:write"
SCOPE_ALL = "*"
# Reading the key's own user, organizations and projects needs a valid key of any scope; changing them needs
# these, and an admin's role in the organization.
SCOPE_PROJECT_WRITE = "project:write"
SCOPE_ORGANIZATION_WRITE = "organization:write"
SCOPE_MEMBER_WRITE = "organization_member:write"
KNOWN_SCOPES = (SCOPE_READ, SCOPE_WRITE, SCOPE_PROJECT_WRITE, SCOPE_ORGANIZATION_WRITE, SCOPE_MEMBER_WRITE, SCOPE_ALL)
ADMIN = "admin"
MEMBER = "member"
LAST_USED_RESOLUTION = timedelta(hours=1)
MIN_PASSWORD_LENGTH = 8


class AccountError(ValueError):
    """Input that cannot become an account or a key; the message says why."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _random_token(nbytes: int) -> str:
    """`nbytes` random bytes written in KEY_ALPHABET, padded so every token of a size has one length."""
    number = int.from_bytes(secrets.token_bytes(nbytes), "big")
    length = math.ceil(nbytes * 8 / math.log2(len(KEY_ALPHABET)))
    digits = []
    for _ in range(length):
        number, remainder = divmod(number, len(KEY_ALPHABET))
        digits.append(KEY_ALPHABET[remainder])
    return "".join(reversed(digits))


def hash_api_key(raw_key: str) -> str:
    return "sha256$" + hashlib.sha256(raw_key.encode()).hexdigest()


def mask_api_key(raw_key: str) -> str:
    return f"{raw_key[:4]}...{raw_key[-4:]}"


def normalise_email(email: str) -> str:
    return email.strip().lower()


def create_user(
    email: str,
    password: str,
    *,
    first_name: str = "",
    last_name: str = "",
    organization_name: str | None = None,
    join: tuple[Organization, str] | None = None,
) -> User:
    """Create a user with an organization of their own holding one project, or as a member of `join`'s
    organization with its level (an accepted invitation). The first user becomes the install's admin."""
    email = normalise_email(email)
    if "@" not in email or len(email) > 254 or email.startswith("@") or email.endswith("@"):
        raise AccountError("Enter a valid email address.", "email")
    _check_new_password(password, "password")
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise AccountError("An account with this email already exists.", "email")

    is_first_user = db.session.scalar(select(func.count(User.id))) == 0
    if join is not None:
        organization, level = join
        project = organization.live_projects[0]
    else:
        organization, level = Organization(
            name=(organization_name or f"{first_name or email.split('@')[0]}'s organization")[:200]
        ), ADMIN
        project = Project(organization=organization, name="Default project", api_token=new_project_token())
    user = User(
        email=email,
        password_hash=generate_password_hash(password),
        first_name=first_name[:150],
        last_name=last_name[:150],
        distinct_id=str(uuid.uuid4()),
        is_staff=is_first_user,
        current_project=project,
    )
    db.session.add_all([organization, project, user])
    db.session.add(OrganizationMembership(organization=organization, user=user, level=level))
    db.session.commit()
    return user


def new_project_token() -> str:
    return PROJECT_TOKEN_PREFIX + _random_token(32)


def _check_new_password(password: str, field: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Use a password of at least {MIN_PASSWORD_LENGTH} characters.", field)


@cache
def _hash_for_unknown_emails() -> str:
    return generate_password_hash(secrets.token_urlsafe(16))


def authenticate(email: str, password: str) -> User | None:
    """The active user with this email and password, else None.

    A password is hashed whether or not the email has an account, so the time a login takes does not
    tell which emails do.
    """
    user = find_user_by_email(email)
    known_hash = user.password_hash if user is not None else _hash_for_unknown_emails()
    if not check_password_hash(known_hash, password) or user is None or not user.is_active:
        return None
    return user


def password_matches(user: User, password: str) -> bool:
    return check_password_hash(user.password_hash, password)


def change_password(user: User, current_password: str, new_password: str) -> None:
    """Set a new password after checking the current one; every session of the user ends with the old one."""
    if not password_matches(user, current_password):
        raise AccountError("Your current password is incorrect.", "current_password")
    _check_new_password(new_password, "new_password")
    user.password_hash = generate_password_hash(new_password)
    end_sessions(user)


def end_sessions(user: User) -> None:
    """End every login session of the user, in every browser: their session id no longer matches."""
    user.session_token = new_session_token()
    db.session.commit()


def user_for_session(session_id: str) -> User | None:
    """The active user a login session's id (`<id>:<session_token>`, see User.get_id) belongs to, else None."""
    raw_id, _, token = session_id.partition(":")
    user_id = parse_id(raw_id)
    user = db.session.get(User, user_id) if user_id is not None and token else None
    if user is None or not user.is_active or not hmac.compare_digest(user.session_token.encode(), token.encode()):
        return None
    return user


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


def parse_scopes(scopes: Iterable[str]) -> list[str]:
    cleaned = sorted({scope.strip() for scope in scopes if scope.strip()})
    unknown = [scope for scope in cleaned if scope not in KNOWN_SCOPES]
    if unknown:
        raise AccountError(f"Unknown scope {unknown[0]!r}; use {', '.join(KNOWN_SCOPES)}.", "scopes")
    if not cleaned:
        raise AccountError("Choose at least one scope.", "scopes")
    return cleaned


def create_api_key(
    user: User,
    label: str,
    scopes: Iterable[str],
    scoped_projects: Iterable[int] | None = None,
    scoped_organizations: Iterable[str] | None = None,
) -> tuple[PersonalAPIKey, str]:
    """Create a key and return it with its raw value, which is never stored and never shown again.

    A key scoped to projects reaches only those; one scoped to organizations only their projects.
    """
    label = label.strip()
    if not label or len(label) > 100:
        raise AccountError("Give the key a label of 1 to 100 characters.", "label")
    project_ids = None
    if scoped_projects is not None:
        project_ids = sorted(set(scoped_projects))
        reachable = {project.id for project in user.projects}
        if not project_ids or not set(project_ids) <= reachable:
            raise AccountError("A key can only be scoped to projects you belong to.", "scoped_projects")
    organization_ids = None
    if scoped_organizations is not None:
        organization_ids = sorted(set(scoped_organizations))
        if not organization_ids or not set(organization_ids) <= {org.id for org in user.organizations}:
            raise AccountError("A key can only be scoped to organizations you belong to.", "scoped_organizations")
    raw_key = API_KEY_PREFIX + _random_token(API_KEY_RANDOM_BYTES)
    key = PersonalAPIKey(
        user=user,
        label=label,
        mask_value=mask_api_key(raw_key),
        secure_value=hash_api_key(raw_key),
        scopes=parse_scopes(scopes),
        scoped_projects=project_ids,
        scoped_organizations=organization_ids,
    )
    db.session.add(key)
    db.session.commit()
    return key, raw_key


def find_api_key(raw_key: str) -> PersonalAPIKey | None:
    """The live key for a raw value, or None for unknown, revoked or inactive-user keys alike."""
    if not raw_key.startswith(API_KEY_PREFIX):
        return None
    key = db.session.scalar(
        select(PersonalAPIKey)
        .where(PersonalAPIKey.secure_value == hash_api_key(raw_key))
        # Every API request goes on to check the user and the projects they reach: load them with the key.
        .options(joinedload(PersonalAPIKey.user).selectinload(User.memberships))
    )
    if key is None or not key.user.is_active:
        return None
    return key


def record_api_key_use(key: PersonalAPIKey) -> None:
    """Write last_used_at at most once an hour, so reads do not turn every request into a write."""
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        key.last_used_at = now
        db.session.commit()


def key_has_scope(key: PersonalAPIKey, scope: str) -> bool:
    granted = set(key.scopes)
    if SCOPE_ALL in granted or scope in granted:
        return True
    return scope == SCOPE_READ and SCOPE_WRITE in granted


def key_reaches_organization(key: PersonalAPIKey | None, organization_id: str) -> bool:
    """Whether the key's scope allows this organization as a whole (a project-scoped key: never)."""
    if key is None:
        return True
    if key.scoped_projects is not None:
        return False
    return key.scoped_organizations is None or organization_id in key.scoped_organizations


def user_can_reach_project(user: User, project: Project, key: PersonalAPIKey | None = None) -> bool:
    """A live project of one of the user's organizations, within the key's scope (projects or organizations)."""
    if project.deleted:
        return False
    if key is not None and key.scoped_projects is not None and project.id not in key.scoped_projects:
        return False
    if key is not None and key.scoped_organizations is not None and project.organization_id not in key.scoped_organizations:
        return False
    return any(membership.organization_id == project.organization_id for membership in user.memberships)


def install_has_users() -> bool:
    return db.session.scalar(select(User.id).limit(1)) is not None


def current_project(user: User, key: PersonalAPIKey | None = None) -> Project | None:
    """The project the user works in: their chosen one while they (and the key) can reach it, else the first."""
    reachable = [project for project in user.projects if user_can_reach_project(user, project, key)]
    return user.current_project if user.current_project in reachable else next(iter(reachable), None)


def switch_project(user: User, project: Project) -> None:
    if not user_can_reach_project(user, project):
        raise AccountError("You are not a member of that project.", "project_id")
    user.current_project = project
    db.session.commit()


def revoke_api_key(user: User, key_id: str) -> bool:
    key = db.session.scalar(select(PersonalAPIKey).where(PersonalAPIKey.id == key_id, PersonalAPIKey.user_id == user.id))
    if key is None:
        return False
    db.session.delete(key)
    db.session.commit()
    return True
