"""The key's own user: GET /api/users/@me/, with the organizations and projects the key reaches."""

from __future__ import annotations

from typing import Any

from flask import g

from heatmap_app import account_schemas as schemas
from heatmap_app.accounts import current_project, user_can_reach_project
from heatmap_app.api import api
from heatmap_app.api.auth import current_api_user, require_api_key
from heatmap_app.heatmap_schemas import UserBasic


@api.get("/users/@me/", strict_slashes=False)
@require_api_key(scope=None)
def me() -> dict[str, Any]:
    user, key = current_api_user(), g.api_key
    current = current_project(user, key)
    return schemas.dump(schemas.Me(
        **UserBasic.of(user).model_dump(),
        is_staff=user.is_staff,
        organization=schemas.OrganizationBasic.of(current.organization, user) if current else None,
        organizations=[schemas.OrganizationBasic.of(org, user) for org in schemas.reached_organizations(user, key)],
        team=schemas.ProjectBasic.of(current) if current else None,
        projects=[schemas.ProjectBasic.of(project) for project in user.projects
                  if user_can_reach_project(user, project, key)],
        scopes=key.scopes,
    ))
