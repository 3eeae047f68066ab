"""The Team page (members, roles, invitations, projects) and the invitation link, through the real forms."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient

from heatmap_app import teams
from heatmap_app.accounts import MEMBER, create_user, find_user_by_email
from heatmap_app.extensions import db
from heatmap_app.models import Project, User
from heatmap_app.models.base import utcnow
from tests.conftest import PASSWORD, AuthActions

PAGE = "/settings/organization"


def post(client: FlaskClient, auth: AuthActions, path: str, **data: Any) -> Any:
    return client.post(path, data={"csrf_token": auth.csrf_token(PAGE), **data})


def test_an_invitation_link_is_shown_once_after_a_redirect(client: FlaskClient, auth: AuthActions, logged_in: User) -> None:
    response = post(client, auth, f"{PAGE}/invites", target_email="dan@example.com", level="member")

    assert response.status_code == 302 and "shown=" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    link = re.search(r'id="new-link" value="([^"]+)"', page).group(1)
    again = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "/invitations/" in link and link not in again and "dan@example.com" in again  # pending, link gone


def test_the_invitee_signs_up_through_the_link_even_with_sign_up_off(app, client: FlaskClient, user: User) -> None:
    app.config["SIGNUP_ENABLED"] = False
    _, token = teams.invite(user.current_project.organization, user, "dan@example.com")
    auth = AuthActions(client)
    assert client.get("/signup").status_code == 404

    form = client.get(f"/invitations/{token}")
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form.get_data(as_text=True)).group(1)
    joined = client.post(f"/invitations/{token}", data={"csrf_token": csrf, "password": PASSWORD, "first_name": "Dan"})

    assert form.status_code == 200 and "dan@example.com" in form.get_data(as_text=True)
    assert joined.status_code == 302
    dan = find_user_by_email("dan@example.com")
    assert [org.id for org in dan.organizations] == [user.current_project.organization_id]
    assert client.get("/heatmaps/").status_code == 200  # logged in, in Ada's project
    assert client.get(f"/invitations/{token}").status_code == 410  # used
    auth.logout()


def test_an_expired_link_says_so(app, client: FlaskClient, user: User) -> None:
    record, token = teams.invite(user.current_project.organization, user, "late@example.com")
    record.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()

    response = client.get(f"/invitations/{token}")

    assert response.status_code == 410 and "expired" in response.get_data(as_text=True)


def test_the_wrong_account_cannot_accept(client: FlaskClient, auth: AuthActions, user: User, other_user: User) -> None:
    _, token = teams.invite(user.current_project.organization, user, "someone@example.com")
    auth.login("grace@example.com")

    page = client.get(f"/invitations/{token}").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(f"/invitations/{token}", data={"csrf_token": csrf})

    assert "log out and open the link again" in page
    assert response.status_code == 403
    assert teams.membership(other_user, user.current_project.organization) is None


def test_an_existing_account_logs_in_and_joins(client: FlaskClient, auth: AuthActions, user: User, other_user: User) -> None:
    _, token = teams.invite(user.current_project.organization, user, "grace@example.com", "admin")
    assert "log in</a> to accept" in client.get(f"/invitations/{token}").get_data(as_text=True)
    auth.login("grace@example.com")

    page = client.get(f"/invitations/{token}").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(f"/invitations/{token}", data={"csrf_token": csrf})

    assert response.status_code == 302
    assert teams.is_admin(other_user, user.current_project.organization)
    assert other_user.current_project_id == user.current_project_id


def test_a_member_sees_the_team_but_cannot_manage_it(client: FlaskClient, auth: AuthActions, user: User) -> None:
    create_user("carol@example.com", PASSWORD, join=(user.current_project.organization, MEMBER))
    auth.login("carol@example.com")

    page = client.get(PAGE).get_data(as_text=True)
    invite = post(client, auth, f"{PAGE}/invites", target_email="eve@example.com", level="admin")
    project = post(client, auth, f"{PAGE}/projects", name="Mine")

    assert "ada@example.com" in page and "Invite someone" not in page and "Create project" not in page
    assert invite.status_code == 403 and project.status_code == 403
    assert teams.pending_invites(user.current_project.organization) == []


def test_removing_a_member_ends_their_session_at_once(app, user: User, auth: AuthActions, client: FlaskClient) -> None:
    carol = create_user("carol@example.com", PASSWORD, join=(user.current_project.organization, MEMBER))
    carol_client = app.test_client()
    with app.app_context():  # a context (and so a `g`) of each browser's own, as in two real requests
        AuthActions(carol_client).login("carol@example.com")
        assert carol_client.get("/heatmaps/").status_code == 200
    with app.app_context():
        auth.login()
        response = post(client, auth, f"{PAGE}/members/{carol.id}/remove")

    with app.app_context():
        after = carol_client.get("/heatmaps/")
    assert response.status_code == 302
    assert after.status_code == 302 and "/login" in after.headers["Location"]


def test_the_last_admin_cannot_demote_themselves(client: FlaskClient, auth: AuthActions, logged_in: User) -> None:
    response = post(client, auth, f"{PAGE}/members/{logged_in.id}/role", level="member")

    assert response.status_code == 302
    assert "last admin" in client.get(PAGE).get_data(as_text=True)
    assert teams.is_admin(logged_in, logged_in.current_project.organization)


def test_an_admin_creates_renames_and_deletes_projects(client: FlaskClient, auth: AuthActions, logged_in: User) -> None:
    created = post(client, auth, f"{PAGE}/projects", name="Shop")
    shop = db.session.query(Project).filter_by(name="Shop").one()
    token = shop.api_token
    post(client, auth, f"{PAGE}/projects/{shop.id}/rename", name="Store")
    post(client, auth, f"{PAGE}/projects/{shop.id}/rotate-token")
    post(client, auth, f"{PAGE}/projects/{shop.id}/delete")
    db.session.expire_all()

    assert created.status_code == 302
    assert (shop.name, shop.deleted) == ("Store", True) and shop.api_token != token
    assert f'id="project-{shop.id}"' not in client.get(PAGE).get_data(as_text=True)
    blank = post(client, auth, f"{PAGE}/projects", name="")
    assert blank.status_code == 400 and "Give the project a name" in blank.get_data(as_text=True)
