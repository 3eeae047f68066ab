"""The account endpoints PostHog clients call: the calling key, organizations, projects, members, invitations.

Reading needs a valid key of any scope and shows only what the key reaches; changing needs the write scope
named on the view and an admin's role in the organization.
"""

from __future__ import annotations

from typing import Any

from flask import Response, g, url_for

from heatmap_app import account_schemas as schemas
from heatmap_app import teams
from heatmap_app.accounts import (
    SCOPE_MEMBER_WRITE,
    SCOPE_ORGANIZATION_WRITE,
    SCOPE_PROJECT_WRITE,
    current_project,
    key_reaches_organization,
    user_can_reach_project,
)
from heatmap_app.api import api, project_route
from heatmap_app.api.auth import current_api_user, require_api_key
from heatmap_app.api.saved import json_body
from heatmap_app.errors import APIError, api_error_response
from heatmap_app.extensions import db
from heatmap_app.heatmaps import validated
from heatmap_app.models import Organization, Project, User
from heatmap_app.models.base import utcnow


@api.errorhandler(teams.TeamError)
def _team_error(error: teams.TeamError) -> Response:
    return api_error_response(400, error.message, code="invalid_input", attr=error.field)


@api.errorhandler(teams.NotAllowed)
def _not_allowed(error: teams.NotAllowed) -> Response:
    return api_error_response(403, str(error), code="permission_denied")


@api.errorhandler(teams.InviteUnusable)
def _invite_unusable(error: teams.InviteUnusable) -> Response:
    return api_error_response(404, str(error), code="not_found")


def _organization(organization_id: str, *, whole: bool = False) -> Organization:
    """The organization in the URL (`@current`: the current project's) if the key reaches it — as a whole when
    `whole`, which a project-scoped key never does — else 404."""
    user, key = current_api_user(), g.api_key
    if organization_id == "@current":
        project = current_project(user, key)
        organization = project.organization if project is not None else None
    else:
        organization = db.session.get(Organization, organization_id[:36])
    reached = schemas.reached_organizations(user, key)
    if organization is None or organization not in reached or (whole and not key_reaches_organization(key, organization.id)):
        raise APIError(404, "Organization not found.", code="not_found")
    return organization


def _member(organization: Organization, user_uuid: str) -> User:
    found = next((item.user for item in organization.memberships if item.user.uuid == user_uuid), None)
    if found is None:
        raise APIError(404, "Member not found.", code="not_found")
    return found


# --- the key and its reach ------------------------------------------------------------------------


@api.get("/personal_api_keys/@current/", strict_slashes=False)
@require_api_key(scope=None)
def current_key() -> dict[str, Any]:
    return schemas.dump(schemas.PersonalAPIKeyInfo.of(g.api_key))


@api.get("/organizations/", strict_slashes=False)
@require_api_key(scope=None)
def list_organizations() -> dict[str, Any]:
    user = current_api_user()
    organizations = [schemas.OrganizationBasic.of(org, user) for org in schemas.reached_organizations(user, g.api_key)]
    return schemas.dump(schemas.OrganizationList(count=len(organizations), results=organizations))


@api.get("/organizations/<organization_id>/", strict_slashes=False)
@require_api_key(scope=None)
def retrieve_organization(organization_id: str) -> dict[str, Any]:
    organization = _organization(organization_id)
    return schemas.dump(schemas.OrganizationDetail.reached(organization, current_api_user(), g.api_key))


@api.patch("/organizations/<organization_id>/", strict_slashes=False)
@require_api_key(SCOPE_ORGANIZATION_WRITE)
def update_organization(organization_id: str) -> dict[str, Any]:
    organization = _organization(organization_id, whole=True)
    body = validated(schemas.NamedBody, json_body())
    teams.rename_organization(organization, current_api_user(), body.name)
    return schemas.dump(schemas.OrganizationDetail.reached(organization, current_api_user(), g.api_key))


# --- projects -------------------------------------------------------------------------------------


def _project_list(projects: list[Project]) -> dict[str, Any]:
    return schemas.dump(schemas.ProjectList(count=len(projects), results=[schemas.ProjectBasic.of(p) for p in projects]))


def _create_project(organization: Organization) -> tuple[dict[str, Any], int]:
    body = validated(schemas.NamedBody, json_body())
    return schemas.dump(schemas.ProjectBasic.of(teams.create_project(organization, current_api_user(), body.name))), 201


@api.get("/organizations/<organization_id>/projects/", strict_slashes=False)
@require_api_key(scope=None)
def list_organization_projects(organization_id: str) -> dict[str, Any]:
    organization = _organization(organization_id)
    user = current_api_user()
    return _project_list([p for p in organization.live_projects if user_can_reach_project(user, p, g.api_key)])


@api.post("/organizations/<organization_id>/projects/", strict_slashes=False)
@require_api_key(SCOPE_PROJECT_WRITE)
def create_organization_project(organization_id: str) -> tuple[dict[str, Any], int]:
    return _create_project(_organization(organization_id, whole=True))


@api.get("/projects/", strict_slashes=False)
@api.get("/environments/", strict_slashes=False)
@require_api_key(scope=None)
def list_projects() -> dict[str, Any]:
    user = current_api_user()
    return _project_list([project for project in user.projects if user_can_reach_project(user, project, g.api_key)])


@api.post("/projects/", strict_slashes=False)
@require_api_key(SCOPE_PROJECT_WRITE)
def create_project() -> tuple[dict[str, Any], int]:
    """A new project in the organization of the current project."""
    return _create_project(_organization("@current", whole=True))


@project_route("/", methods=["GET"])
@require_api_key(scope=None)
def retrieve_project(project: Project) -> dict[str, Any]:
    return schemas.dump(schemas.ProjectBasic.of(project))


@project_route("/", methods=["PATCH"])
@require_api_key(SCOPE_PROJECT_WRITE)
def update_project(project: Project) -> dict[str, Any]:
    body = validated(schemas.NamedBody, json_body())
    return schemas.dump(schemas.ProjectBasic.of(teams.rename_project(project, current_api_user(), body.name)))


@project_route("/", methods=["DELETE"])
@require_api_key(SCOPE_PROJECT_WRITE)
def delete_project(project: Project) -> Response:
    teams.delete_project(project, current_api_user())
    return Response(status=204)


@project_route("/reset_token/", methods=["PATCH"])
@require_api_key(SCOPE_PROJECT_WRITE)
def reset_project_token(project: Project) -> dict[str, Any]:
    return schemas.dump(schemas.ProjectBasic.of(teams.rotate_project_token(project, current_api_user())))


# --- members and invitations ----------------------------------------------------------------------


@api.get("/organizations/<organization_id>/members/", strict_slashes=False)
@require_api_key(scope=None)
def list_members(organization_id: str) -> dict[str, Any]:
    members = [schemas.Member.of(item) for item in _organization(organization_id, whole=True).memberships]
    return schemas.dump(schemas.MemberList(count=len(members), results=members))


@api.patch("/organizations/<organization_id>/members/<user_uuid>/", strict_slashes=False)
@require_api_key(SCOPE_MEMBER_WRITE)
def update_member(organization_id: str, user_uuid: str) -> dict[str, Any]:
    organization = _organization(organization_id, whole=True)
    body = validated(schemas.MemberUpdate, json_body())
    changed = teams.change_role(organization, current_api_user(), _member(organization, user_uuid),
                                schemas.LEVEL_NAMES[body.level])
    return schemas.dump(schemas.Member.of(changed))


@api.delete("/organizations/<organization_id>/members/<user_uuid>/", strict_slashes=False)
@require_api_key(SCOPE_MEMBER_WRITE)
def remove_member(organization_id: str, user_uuid: str) -> Response:
    organization = _organization(organization_id, whole=True)
    teams.remove_member(organization, current_api_user(), _member(organization, user_uuid))
    return Response(status=204)


@api.get("/organizations/<organization_id>/invites/", strict_slashes=False)
@require_api_key(scope=None)
def list_invites(organization_id: str) -> dict[str, Any]:
    now = utcnow()
    invites = [schemas.Invite.of(item, now) for item in teams.pending_invites(_organization(organization_id, whole=True))]
    return schemas.dump(schemas.InviteList(count=len(invites), results=invites))


@api.post("/organizations/<organization_id>/invites/", strict_slashes=False)
@require_api_key(SCOPE_MEMBER_WRITE)
def create_invite(organization_id: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    organization = _organization(organization_id, whole=True)
    body = validated(schemas.InviteCreate, json_body())
    record, raw = teams.invite(organization, current_api_user(), body.target_email, schemas.LEVEL_NAMES[body.level])
    link = url_for("web.invitation", token=raw, _external=True)
    teams.send_invite_mail(record, link)
    # The link is in this answer only: never stored, never shown again.
    return schemas.dump(schemas.Invite.of(record, utcnow(), link=link)), 201, {"Cache-Control": "no-store"}


@api.delete("/organizations/<organization_id>/invites/<invite_id>/", strict_slashes=False)
@require_api_key(SCOPE_MEMBER_WRITE)
def revoke_invite(organization_id: str, invite_id: str) -> Response:
    teams.revoke_invite(_organization(organization_id, whole=True), current_api_user(), invite_id[:36])
    return Response(status=204)
