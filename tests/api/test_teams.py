"""The account endpoints: the calling key, organizations, projects, members and invitations, and who may do what."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from heatmap_app import teams
from heatmap_app.accounts import ADMIN, MEMBER, create_api_key, create_user
from heatmap_app.extensions import db
from heatmap_app.models import OrganizationInvite, OrganizationMembership, Project, User
from heatmap_app.models.base import utcnow
from tests.conftest import PASSWORD

ALL = "*"


@pytest.fixture
def org(user: User):
    return user.current_project.organization


@pytest.fixture
def member(app, org) -> User:
    """Carol, a member (not admin) of Ada's organization."""
    carol = create_user("carol@example.com", PASSWORD, first_name="Carol", join=(org, MEMBER))
    return carol


def test_personal_api_keys_current_describes_the_calling_key(client: FlaskClient, make_key, user: User) -> None:
    raw = make_key(user, "heatmap:read", label="MCP")

    response = client.get("/api/personal_api_keys/@current", headers={"Authorization": f"Bearer {raw}"})

    body = response.get_json()
    assert response.status_code == 200
    assert (body["label"], body["scopes"], body["scoped_teams"], body["scoped_organizations"]) == (
        "MCP", ["heatmap:read"], [], [])
    assert body["mask_value"] == f"{raw[:4]}...{raw[-4:]}" and body["user_id"] == user.id
    assert raw not in response.get_data(as_text=True)


def test_users_me_has_the_organizations_and_the_current_team(client: FlaskClient, bearer, user: User, org) -> None:
    body = client.get("/api/users/@me/", headers=bearer("heatmap:read")).get_json()

    assert body["distinct_id"] == user.distinct_id
    assert body["organization"]["id"] == org.id and body["organization"]["membership_level"] == 8
    assert [item["id"] for item in body["organizations"]] == [org.id]
    assert body["team"]["id"] == user.current_project_id and body["team"]["organization"] == org.id
    assert body["team"]["api_token"].startswith("phc_")


def test_organizations_current_and_projects_current(client: FlaskClient, bearer, user: User, org) -> None:
    headers = bearer("heatmap:read")

    organization = client.get("/api/organizations/@current/", headers=headers).get_json()
    projects = client.get("/api/projects/", headers=headers).get_json()
    current = client.get("/api/projects/@current/", headers=headers).get_json()
    environment = client.get(f"/api/environments/{user.current_project_id}", headers=headers).get_json()
    nested = client.get(f"/api/organizations/{org.id}/projects/", headers=headers).get_json()

    assert (organization["id"], organization["name"]) == (org.id, "Analytical")
    assert [team["id"] for team in organization["teams"]] == [user.current_project_id]
    assert [project["id"] for project in projects["results"]] == [user.current_project_id] == [
        project["id"] for project in nested["results"]]
    assert current == environment and current["id"] == user.current_project_id


def test_an_admin_creates_renames_rotates_and_deletes_projects(client: FlaskClient, bearer, user: User, org) -> None:
    headers = bearer(ALL)

    created = client.post("/api/projects/", json={"name": "Marketing site"}, headers=headers)
    project_id = created.get_json()["id"]
    renamed = client.patch(f"/api/projects/{project_id}/", json={"name": "Shop"}, headers=headers)
    before = renamed.get_json()["api_token"]
    rotated = client.patch(f"/api/environments/{project_id}/reset_token/", headers=headers)
    deleted = client.delete(f"/api/projects/{project_id}/", headers=headers)

    assert created.status_code == 201 and created.get_json()["organization"] == org.id
    assert renamed.get_json()["name"] == "Shop"
    assert rotated.get_json()["api_token"].startswith("phc_") and rotated.get_json()["api_token"] != before
    assert deleted.status_code == 204
    assert db.session.get(Project, project_id).deleted is True  # soft
    assert client.get(f"/api/projects/{project_id}/", headers=headers).status_code == 404
    assert client.get(f"/api/projects/{project_id}/saved/", headers=headers).status_code == 404
    assert [p["id"] for p in client.get("/api/projects/", headers=headers).get_json()["results"]] == [
        user.current_project_id]


def test_the_last_project_of_an_organization_cannot_be_deleted(client: FlaskClient, bearer, user: User) -> None:
    response = client.delete(f"/api/projects/{user.current_project_id}/", headers=bearer(ALL))

    assert response.status_code == 400 and "at least one project" in response.get_json()["detail"]


@pytest.mark.parametrize("name", ["", "   ", "x" * 201, None, 5])
def test_a_bad_project_name_answers_400(client: FlaskClient, bearer, name: Any) -> None:
    response = client.post("/api/projects/", json={"name": name}, headers=bearer(ALL))

    assert response.status_code == 400 and response.get_json()["attr"] == "name"


def test_writes_need_their_scope(client: FlaskClient, bearer, user: User, org) -> None:
    headers = bearer("heatmap:write")

    assert client.post("/api/projects/", json={"name": "x"}, headers=headers).status_code == 403
    assert client.patch(f"/api/organizations/{org.id}/", json={"name": "x"}, headers=headers).status_code == 403
    assert client.post(f"/api/organizations/{org.id}/invites/", json={"target_email": "a@b.c"},
                       headers=headers).status_code == 403


# --- roles ----------------------------------------------------------------------------------------


def test_a_member_works_on_every_project_but_manages_nothing(
    client: FlaskClient, bearer, user: User, member: User, org
) -> None:
    second = teams.create_project(org, user, "Second")
    headers = bearer(ALL, owner=member)

    assert client.get(f"/api/projects/{second.id}/saved/", headers=headers).status_code == 200
    assert client.post(f"/api/projects/{second.id}/saved/", json={"url": "https://93.184.216.34/", "type": "iframe"},
                       headers=headers).status_code == 201
    for method, path, body in [
        ("post", "/api/projects/", {"name": "Mine"}),
        ("patch", f"/api/projects/{second.id}/", {"name": "Renamed"}),
        ("delete", f"/api/projects/{second.id}/", None),
        ("patch", f"/api/projects/{second.id}/reset_token/", None),
        ("patch", f"/api/organizations/{org.id}/", {"name": "Taken over"}),
        ("post", f"/api/organizations/{org.id}/invites/", {"target_email": "eve@example.com"}),
        ("patch", f"/api/organizations/{org.id}/members/{user.uuid}/", {"level": 1}),
        ("delete", f"/api/organizations/{org.id}/members/{user.uuid}/", None),
    ]:
        response = getattr(client, method)(path, json=body, headers=headers)
        assert response.status_code == 403, (method, path)
        assert response.get_json()["code"] == "permission_denied"
    assert db.session.get(Project, second.id).name == "Second"


def test_an_admin_changes_roles_and_the_member_then_manages(
    client: FlaskClient, bearer, user: User, member: User, org
) -> None:
    promoted = client.patch(f"/api/organizations/{org.id}/members/{member.uuid}/", json={"level": 8},
                            headers=bearer(ALL))

    assert promoted.status_code == 200 and promoted.get_json()["level"] == 8
    assert client.post("/api/projects/", json={"name": "Carol's"}, headers=bearer(ALL, owner=member)).status_code == 201
    listed = client.get(f"/api/organizations/{org.id}/members/", headers=bearer("heatmap:read")).get_json()
    assert {(item["user"]["email"], item["level"]) for item in listed["results"]} == {
        ("ada@example.com", 8), ("carol@example.com", 8)}


def test_the_last_admin_can_be_neither_demoted_nor_removed(client: FlaskClient, bearer, user: User, member, org) -> None:
    headers = bearer(ALL)

    demoted = client.patch(f"/api/organizations/{org.id}/members/{user.uuid}/", json={"level": 1}, headers=headers)
    removed = client.delete(f"/api/organizations/{org.id}/members/{user.uuid}/", headers=headers)

    assert demoted.status_code == 400 and "last admin" in demoted.get_json()["detail"]
    assert removed.status_code == 400 and "last admin" in removed.get_json()["detail"]
    assert teams.is_admin(user, org)


@pytest.mark.parametrize("level", [0, 2, "8", None, True, 8.0])
def test_a_bad_level_answers_400(client: FlaskClient, bearer, member: User, org, level: Any) -> None:
    response = client.patch(f"/api/organizations/{org.id}/members/{member.uuid}/", json={"level": level},
                            headers=bearer(ALL))

    assert response.status_code == 400 and response.get_json()["attr"] == "level"


def test_a_removed_members_keys_stop_at_once(client: FlaskClient, bearer, make_key, user: User, member, org) -> None:
    unscoped = make_key(member, ALL)
    scoped = make_key(member, ALL, projects=[user.current_project_id])
    saved = f"/api/projects/{user.current_project_id}/saved/"
    assert client.get(saved, headers={"Authorization": f"Bearer {unscoped}"}).status_code == 200

    response = client.delete(f"/api/organizations/{org.id}/members/{member.uuid}/", headers=bearer(ALL))

    assert response.status_code == 204
    assert client.get(saved, headers={"Authorization": f"Bearer {unscoped}"}).status_code == 404
    assert client.get(saved, headers={"Authorization": f"Bearer {scoped}"}).status_code == 401  # revoked with it
    assert db.session.query(OrganizationMembership).filter_by(user_id=member.id).count() == 0


def test_a_member_may_leave(client: FlaskClient, bearer, member: User, org) -> None:
    response = client.delete(f"/api/organizations/{org.id}/members/{member.uuid}/", headers=bearer(ALL, owner=member))

    assert response.status_code == 204


# --- key scopes -----------------------------------------------------------------------------------


def test_a_project_scoped_key_sees_only_its_project(client: FlaskClient, make_key, user: User, org) -> None:
    second = teams.create_project(org, user, "Second")
    headers = {"Authorization": f"Bearer {make_key(user, ALL, projects=[second.id])}"}

    me = client.get("/api/users/@me/", headers=headers).get_json()
    key = client.get("/api/personal_api_keys/@current/", headers=headers).get_json()
    projects = client.get("/api/projects/", headers=headers).get_json()
    organization = client.get(f"/api/organizations/{org.id}/", headers=headers).get_json()

    assert key["scoped_teams"] == [second.id]
    assert me["team"]["id"] == second.id and [p["id"] for p in me["projects"]] == [second.id]
    assert [p["id"] for p in projects["results"]] == [second.id]
    assert [p["id"] for p in organization["teams"]] == [second.id]
    assert client.get(f"/api/projects/{user.current_project_id}/", headers=headers).status_code == 404
    # The organization as a whole is out of its reach.
    assert client.get(f"/api/organizations/{org.id}/members/", headers=headers).status_code == 404
    assert client.post("/api/projects/", json={"name": "x"}, headers=headers).status_code == 404


def test_an_organization_scoped_key_sees_only_that_organization(
    client: FlaskClient, make_key, user: User, other_user: User, org
) -> None:
    navy = other_user.current_project.organization
    db.session.add(OrganizationMembership(organization=navy, user=user, level=MEMBER))
    db.session.commit()
    _, raw = create_api_key(user, "org", [ALL], scoped_organizations=[navy.id])
    headers = {"Authorization": f"Bearer {raw}"}

    organizations = client.get("/api/organizations/", headers=headers).get_json()
    key = client.get("/api/personal_api_keys/@current/", headers=headers).get_json()

    assert [item["id"] for item in organizations["results"]] == [navy.id]
    assert key["scoped_organizations"] == [navy.id] and key["scoped_teams"] == []
    assert client.get(f"/api/projects/{other_user.current_project_id}/saved/", headers=headers).status_code == 200
    assert client.get(f"/api/projects/{user.current_project_id}/saved/", headers=headers).status_code == 404
    assert client.get(f"/api/organizations/{org.id}/", headers=headers).status_code == 404


def test_another_organization_is_404(client: FlaskClient, bearer, other_user: User) -> None:
    navy = other_user.current_project.organization

    assert client.get(f"/api/organizations/{navy.id}/", headers=bearer(ALL)).status_code == 404
    assert client.get(f"/api/organizations/{navy.id}/members/", headers=bearer(ALL)).status_code == 404


# --- invitations ----------------------------------------------------------------------------------


def test_an_invitation_link_is_shown_once_and_lets_the_invitee_join(
    app, client: FlaskClient, bearer, user: User, org
) -> None:
    created = client.post(f"/api/organizations/{org.id}/invites/", json={"target_email": "Dan@Example.com"},
                          headers=bearer(ALL))
    body = created.get_json()
    listed = client.get(f"/api/organizations/{org.id}/invites/", headers=bearer(ALL)).get_json()

    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    assert body["target_email"] == "dan@example.com" and body["level"] == 1 and body["link"]
    assert body["emailing_attempt_made"] is False  # no SMTP_HOST: nothing mailed, the link is on screen
    assert listed["results"][0]["link"] is None  # never again
    token = body["link"].rsplit("/", 1)[1]
    dan = teams.accept_invite_as_new_user(token, PASSWORD, "Dan")
    assert [organization.id for organization in dan.organizations] == [org.id]  # no organization of his own
    assert dan.current_project_id == user.current_project_id
    with pytest.raises(teams.InviteUnusable, match="already used"):
        teams.usable_invite(token)


def test_an_expired_invitation_cannot_be_used(app, user: User, org) -> None:
    record, token = teams.invite(org, user, "late@example.com")
    record.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()

    with pytest.raises(teams.InviteUnusable, match="expired"):
        teams.accept_invite_as_new_user(token, PASSWORD)


def test_an_invitation_for_another_email_cannot_be_accepted(app, user: User, other_user: User, org) -> None:
    _, token = teams.invite(org, user, "someone@example.com")

    with pytest.raises(teams.InviteUnusable, match="is for someone@example.com"):
        teams.accept_invite(token, other_user)
    assert teams.membership(other_user, org) is None


def test_invitations_are_valid_for_the_configured_time(app, user: User, org) -> None:
    app.config["INVITE_VALIDITY_HOURS"] = 2
    record, _ = teams.invite(org, user, "soon@example.com", ADMIN)

    assert timedelta(hours=1, minutes=59) < record.expires_at - utcnow() <= timedelta(hours=2)
    assert db.session.get(OrganizationInvite, record.id).token_hash.startswith("sha256$")


def test_inviting_a_member_again_answers_400(client: FlaskClient, bearer, member: User, org) -> None:
    response = client.post(f"/api/organizations/{org.id}/invites/", json={"target_email": member.email},
                           headers=bearer(ALL))

    assert response.status_code == 400 and response.get_json()["attr"] == "target_email"


def test_a_revoked_invitation_is_gone(client: FlaskClient, bearer, user: User, org) -> None:
    record, token = teams.invite(org, user, "gone@example.com")

    assert client.delete(f"/api/organizations/{org.id}/invites/{record.id}/", headers=bearer(ALL)).status_code == 204
    with pytest.raises(teams.InviteUnusable, match="not valid"):
        teams.usable_invite(token)
