"""The key's own user: GET /api/users/@me/."""

from __future__ import annotations

from typing import Any

from flask import g

from heatmap_app.accounts import current_project, user_can_reach_project
from heatmap_app.api import api
from heatmap_app.api.auth import current_api_user, require_api_key
from heatmap_app.heatmap_schemas import UserBasic
from heatmap_app.models import Project, User


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
        **UserBasic.of(user).model_dump(mode="json"),
        "is_staff": user.is_staff,
        "organizations": [{"id": org.id, "name": org.name} for org in user.organizations],
        "organization": {"id": current.organization_id, "name": current.organization.name} if current else None,
        "team": _serialize_project(current) if current else None,
        "projects": [_serialize_project(project) for project in projects],
        "scopes": g.api_key.scopes,
    }
