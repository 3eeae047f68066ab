"""The key's own user: GET /api/users/@me/."""

from __future__ import annotations

from typing import Any

from flask import g

from heatmap_app.accounts import current_project, user_can_reach_project
from heatmap_app.api import api
from heatmap_app.api.auth import current_api_user, require_api_key
from heatmap_app.models import Project, User


def serialize_user_basic(user: User) -> dict[str, Any]:
    """The user as PostHog embeds it in other objects (e.g. a heatmap's `created_by`)."""
    return {
        "id": user.id,
        "uuid": user.uuid,
        "distinct_id": user.distinct_id,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_email_verified": user.is_email_verified,
        "hedgehog_config": {},
        "role_at_organization": user.role_at_organization,
    }


def _serialize_project(project: Project) -> dict[str, Any]:
    return {
        "id": project.id,
        "uuid": project.uuid,
        "name": project.name,
        "organization": project.organization_id,
        "api_token": project.api_token,
    }


@api.get("/users/@me/", strict_slashes=False)
@require_api_key(scope=None)
def me() -> dict[str, Any]:
    user = current_api_user()
    projects = [project for project in user.projects if user_can_reach_project(user, project, g.api_key)]
    current = current_project(user, g.api_key)
    return {
        **serialize_user_basic(user),
        "is_staff": user.is_staff,
        "organizations": [{"id": org.id, "name": org.name} for org in user.organizations],
        "organization": {"id": current.organization_id, "name": current.organization.name} if current else None,
        "team": _serialize_project(current) if current else None,
        "projects": [_serialize_project(project) for project in projects],
        "scopes": g.api_key.scopes,
    }
