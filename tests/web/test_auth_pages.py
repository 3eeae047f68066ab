"""Sign-up, login, logout, the project switcher, CSRF, and the security headers and cookie flags of the UI."""

from __future__ import annotations

import statistics
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from heatmap_app.accounts import PROJECT_TOKEN_PREFIX, create_user
from heatmap_app.extensions import db
from heatmap_app.models import PersonalAPIKey, Project, SavedHeatmap, User
from tests.conftest import PASSWORD, AuthActions

def copy_of_session(client: FlaskClient, app: Flask) -> FlaskClient:
    """Another browser holding a copy of `client`'s session cookie (what a thief would have)."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def login_from(client: FlaskClient, address: str, email: str, password: str = "wrong guess") -> int:
    """A login try arriving through the proxy in front, which says the client's address in X-Forwarded-For."""
    token = AuthActions(client).csrf_token("/login")
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token},
                       headers={"X-Forwarded-For": address}).status_code


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


def test_login_throttling_trusts_x_forwarded_for_only_behind_the_configured_proxies(make_app: Any) -> None:
    direct = make_app(LOGIN_RATE_LIMIT="2/minute")
    proxied = make_app(LOGIN_RATE_LIMIT="2/minute", TRUSTED_PROXY_COUNT=1)
    direct_client, proxied_client = direct.test_client(), proxied.test_client()

    # Straight to the app: a forged X-Forwarded-For does not buy a fresh bucket.
    forged = [login_from(direct_client, f"203.0.113.{n}", f"person{n}@example.com") for n in range(3)]
    # Behind one proxy: each client address has a bucket of its own, so one guesser locks out only itself.
    guesser = [login_from(proxied_client, "203.0.113.7", f"other{n}@example.com") for n in range(3)]
    colleague = login_from(proxied_client, "198.51.100.4", "colleague@example.com")

    assert forged == [200, 200, 429]
    assert guesser == [200, 200, 429]
    assert colleague == 200


def test_login_is_throttled_per_account_however_many_addresses_the_guesses_come_from(
    make_app: Any, user: User
) -> None:
    app = make_app(LOGIN_RATE_LIMIT="3/minute", TRUSTED_PROXY_COUNT=1)
    client = app.test_client()

    guesses = [login_from(client, f"203.0.113.{n}", " ADA@example.com ") for n in range(4)]
    owner_with_the_password = login_from(client, "198.51.100.9", "ada@example.com", PASSWORD)
    someone_else = login_from(client, "203.0.113.200", "grace@example.com")

    assert guesses == [200, 200, 200, 429]  # the email is normalised: one bucket for the account
    assert owner_with_the_password == 429
    assert someone_else == 200


def test_a_login_takes_as_long_for_an_unknown_email_as_for_a_known_one(make_app: Any, user: User) -> None:
    """Otherwise the time of a failed login tells whether an account exists (it was 23 times apart)."""
    app = make_app(LOGIN_RATE_LIMIT="1000/minute")
    client = app.test_client()
    auth = AuthActions(client)

    def timed_login(email: str) -> float:
        form = {"email": email, "password": "wrong guess", "csrf_token": auth.csrf_token("/login")}
        started = time.perf_counter()
        assert client.post("/login", data=form).status_code == 200
        return time.perf_counter() - started

    known, unknown = [], []
    for n in range(7):
        known.append(timed_login(user.email))
        unknown.append(timed_login(f"nobody{n}@example.com"))
    ratio = statistics.median(unknown) / statistics.median(known)
    print(f"median login: known {statistics.median(known) * 1000:.1f} ms, "
          f"unknown {statistics.median(unknown) * 1000:.1f} ms, ratio {ratio:.2f}")

    assert 0.5 <= ratio <= 2


def test_login_works_while_redis_is_down(make_app: Any, unused_redis_url: str) -> None:
    app = make_app(RATELIMIT_STORAGE_URI=unused_redis_url)
    client = app.test_client()
    with app.app_context():
        create_user("ada@example.com", PASSWORD)

    response = AuthActions(client).login()

    assert response.status_code == 302 and response.headers["Location"] == "/heatmaps/"
    assert client.get("/heatmaps/").status_code == 200


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


@pytest.fixture
def separate_app(make_app: Any) -> Flask:
    """An app with Ada's account whose requests each get an app context of their own, as in production.

    (Requests of the `app` fixture's client share the test's open app context, and with it Flask-Login's
    user cached in `g`: a session check must not pass thanks to the request before.)
    """
    application = make_app()
    with application.app_context():
        create_user("ada@example.com", PASSWORD)
    return application


@pytest.fixture
def browser_client(separate_app: Flask) -> FlaskClient:
    client = separate_app.test_client()
    assert AuthActions(client).login().status_code == 302
    return client


def test_a_copied_session_cookie_is_worthless_after_logout(separate_app: Flask, browser_client: FlaskClient) -> None:
    thief = copy_of_session(browser_client, separate_app)
    assert thief.get("/heatmaps/").status_code == 200  # a copy works while the session lives ...

    AuthActions(browser_client).logout()
    page = thief.get("/heatmaps/")
    key_attempt = thief.post("/settings/api-keys", data={
        "label": "Backdoor", "scopes": ["*"], "scoped_projects": "", "password": PASSWORD,
        "csrf_token": AuthActions(thief).csrf_token("/login"),
    })

    assert page.status_code == 302 and page.headers["Location"].startswith("/login")  # ... and ends with it
    assert key_attempt.status_code == 302 and key_attempt.headers["Location"].startswith("/login")
    with separate_app.app_context():
        assert db.session.scalar(select(PersonalAPIKey)) is None


def test_logging_in_again_ends_the_earlier_session(separate_app: Flask, browser_client: FlaskClient) -> None:
    earlier = copy_of_session(browser_client, separate_app)
    assert earlier.get("/heatmaps/").status_code == 200

    AuthActions(separate_app.test_client()).login()

    assert earlier.get("/heatmaps/").status_code == 302


def test_changing_the_password_logs_out_every_other_browser_but_this_one(
    separate_app: Flask, browser_client: FlaskClient
) -> None:
    auth = AuthActions(browser_client)
    other_browser = copy_of_session(browser_client, separate_app)
    assert other_browser.get("/heatmaps/").status_code == 200

    response = browser_client.post("/settings/password", data={
        "current_password": PASSWORD, "new_password": "a new long passphrase",
        "csrf_token": auth.csrf_token("/settings/password"),
    })

    assert response.status_code == 302 and response.headers["Location"] == "/settings/password"
    assert browser_client.get("/heatmaps/").status_code == 200
    assert other_browser.get("/heatmaps/").status_code == 302
    auth.logout()
    assert auth.login(password=PASSWORD).status_code == 200  # refused: the old password is gone
    assert auth.login(password="a new long passphrase").status_code == 302


@pytest.mark.parametrize(
    ("current", "new", "error"),
    [("not my password", "a new long passphrase", "current_password"), (PASSWORD, "short", "new_password")],
)
def test_a_refused_password_change_says_why_and_changes_nothing(
    separate_app: Flask, browser_client: FlaskClient, current: str, new: str, error: str
) -> None:
    auth = AuthActions(browser_client)
    other_browser = copy_of_session(browser_client, separate_app)

    response = browser_client.post("/settings/password", data={
        "current_password": current, "new_password": new, "csrf_token": auth.csrf_token("/settings/password"),
    })

    assert response.status_code == 400 and f'id="{error}-error"' in response.get_data(as_text=True)
    assert other_browser.get("/heatmaps/").status_code == 200
    auth.logout()
    assert auth.login(password=PASSWORD).status_code == 302


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
