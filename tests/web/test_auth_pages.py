"""Sign-up, login, logout, the project switcher, CSRF, and the security headers and cookie flags of the UI."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from heatmap_app.accounts import PROJECT_TOKEN_PREFIX, create_user
from heatmap_app.extensions import db
from heatmap_app.models import Project, SavedHeatmap, User
from tests.conftest import PASSWORD, AuthActions


def signup(client: FlaskClient, auth: Any, email: str, **fields: str) -> Any:
    token = auth.csrf_token("/signup")
    return client.post("/signup", data={"email": email, "password": PASSWORD, "csrf_token": token, **fields})


def test_the_first_person_to_sign_up_becomes_the_admin_and_is_logged_in(app: Flask, client: FlaskClient, auth: Any) -> None:
    assert client.get("/").headers["Location"].endswith("/signup")  # an empty install starts at sign-up

    response = signup(client, auth, "Maya@Acme.example", first_name="Maya", organization_name="Acme")

    assert response.status_code == 302 and response.headers["Location"].endswith("/heatmaps/")
    maya = db.session.scalar(select(User).where(User.email == "maya@acme.example"))
    assert maya.is_staff and maya.organizations[0].name == "Acme"
    assert "this install&#39;s admin" in client.get("/heatmaps/").get_data(as_text=True)


def test_later_sign_ups_are_not_admins(app: Flask, client: FlaskClient, auth: Any, user: User) -> None:
    signup(client, auth, "second@acme.example")

    assert db.session.scalar(select(User.is_staff).where(User.email == "second@acme.example")) is False


def test_sign_up_can_be_turned_off_but_not_before_the_first_user(make_app: Any) -> None:
    app = make_app(SIGNUP_ENABLED=False)
    client = app.test_client()
    with app.app_context():
        assert client.get("/signup").status_code == 200  # nobody could ever log in otherwise
        create_user("admin@acme.example", PASSWORD)

        closed = client.get("/signup")

    assert closed.status_code == 404
    assert "turned off" in closed.get_data(as_text=True)
    assert "Create an account" not in client.get("/login").get_data(as_text=True)


def test_a_refused_sign_up_says_why_next_to_the_field(client: FlaskClient, auth: Any, user: User) -> None:
    response = signup(client, auth, user.email)

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="email-error"' in page and "already exists" in page


def test_a_wrong_password_is_refused_with_a_message(client: FlaskClient, auth: Any, user: User) -> None:
    response = auth.login(password="not the password")

    assert response.status_code == 200
    assert "Email or password is incorrect." in response.get_data(as_text=True)
    assert client.get("/heatmaps/").status_code == 302


def test_login_is_throttled(make_app: Any) -> None:
    app = make_app(LOGIN_RATE_LIMIT="3/minute")
    client = app.test_client()
    with app.app_context():
        create_user("ada@example.com", PASSWORD)

    statuses = [AuthActions(client).login(password="wrong guess").status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]


def test_login_returns_to_the_page_asked_for_but_never_to_another_site(client: FlaskClient, auth: Any, user: User) -> None:
    token = auth.csrf_token("/login")
    form = {"email": user.email, "password": PASSWORD, "csrf_token": token}

    inside = client.post("/login?next=/settings/api-keys", data=form)
    auth.logout()
    outside = client.post("/login?next=//evil.example/", data={**form, "csrf_token": auth.csrf_token("/login")})

    assert inside.headers["Location"] == "/settings/api-keys"
    assert outside.headers["Location"] == "/heatmaps/"


@pytest.mark.parametrize("path", ["/heatmaps/", "/heatmaps/new", "/settings/api-keys", "/heatmaps/abc12345"])
def test_pages_need_a_login(client: FlaskClient, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_logout_ends_the_session(client: FlaskClient, auth: Any, logged_in: User) -> None:
    response = auth.logout()

    assert response.headers["Location"].endswith("/login")
    assert client.get("/heatmaps/").status_code == 302


def test_a_form_post_without_a_csrf_token_is_refused(client: FlaskClient, logged_in: User, capture_site: Any) -> None:
    response = client.post("/heatmaps/new", data={"url": capture_site.url(), "preset": "all"})

    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert db.session.scalar(select(SavedHeatmap)) is None


def test_a_logout_without_a_csrf_token_is_refused(client: FlaskClient, logged_in: User) -> None:
    assert client.post("/logout").status_code == 400
    assert client.get("/heatmaps/").status_code == 200


def test_pages_carry_the_security_headers(client: FlaskClient) -> None:
    response = client.get("/login")

    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "<script>" not in response.get_data(as_text=True)  # scripts are files, so the CSP can forbid inline ones


def test_the_session_cookie_is_http_only_same_site_and_secure_when_configured(make_app: Any) -> None:
    app = make_app(SESSION_COOKIE_SECURE=True)
    client = app.test_client()
    with app.app_context():
        create_user("ada@example.com", PASSWORD)

    response = AuthActions(client).login()

    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


def test_the_project_switcher_changes_the_current_project(client: FlaskClient, auth: Any, logged_in: User) -> None:
    second = Project(organization=logged_in.organizations[0], name="Marketing site",
                     api_token=PROJECT_TOKEN_PREFIX + "switcher-test")
    db.session.add(second)
    db.session.commit()
    assert 'name="project_id"' in client.get("/heatmaps/").get_data(as_text=True)

    response = client.post("/projects/switch", data={"project_id": second.id, "next": "/settings/api-keys",
                                                     "csrf_token": auth.csrf_token("/heatmaps/")})

    assert response.headers["Location"] == "/settings/api-keys"
    db.session.refresh(logged_in)
    assert logged_in.current_project_id == second.id


def test_the_project_switcher_refuses_a_project_of_another_organization(
    client: FlaskClient, auth: Any, logged_in: User, other_user: User
) -> None:
    response = client.post("/projects/switch", data={"project_id": other_user.current_project_id,
                                                     "csrf_token": auth.csrf_token("/heatmaps/")})

    assert response.status_code == 400
    db.session.refresh(logged_in)
    assert logged_in.current_project_id != other_user.current_project_id
