"""Personal API keys in the UI: created with scopes and an optional project, shown once, listed masked, revoked."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from heatmap_app.accounts import create_api_key, create_user, record_api_key_use
from heatmap_app.extensions import db
from heatmap_app.models import PersonalAPIKey, User
from tests.conftest import PASSWORD, AuthActions


def create_key(client: FlaskClient, auth: AuthActions, **data: Any) -> Any:
    form = {"csrf_token": auth.csrf_token("/settings/api-keys"), "password": PASSWORD, **data}
    return client.post("/settings/api-keys", data=form)


def test_a_new_key_is_shown_once_and_then_only_masked(client: FlaskClient, auth: AuthActions, logged_in: User) -> None:
    response = create_key(client, auth, label="Zapier", scopes=["heatmap:read", "heatmap:write"], scoped_projects="")

    assert response.status_code == 303  # redirect-after-POST: a reload creates no second key
    shown = client.get(response.headers["Location"])
    raw_key = re.search(r'id="new-key" value="(phx_\w+)"', shown.get_data(as_text=True)).group(1)
    reloaded = client.get(response.headers["Location"]).get_data(as_text=True)
    later = client.get("/settings/api-keys").get_data(as_text=True)
    stored = db.session.scalar(select(PersonalAPIKey))
    assert shown.headers["Cache-Control"] == "no-store"  # no browser or proxy cache keeps a copy
    assert raw_key not in reloaded and db.session.query(PersonalAPIKey).count() == 1
    assert stored.scopes == ["heatmap:read", "heatmap:write"] and stored.scoped_projects is None
    assert raw_key not in later
    assert stored.mask_value in later and "Zapier" in later and "Never" in later
    assert client.get("/api/users/@me/", headers={"Authorization": f"Bearer {raw_key}"}).status_code == 200


@pytest.mark.parametrize("password", ["not my password", ""])
def test_creating_a_key_asks_for_the_password_again(
    client: FlaskClient, auth: AuthActions, logged_in: User, password: str
) -> None:
    """A borrowed or stolen session alone cannot mint a key that outlives it."""
    response = create_key(client, auth, label="Exfiltrate", scopes=["*"], scoped_projects="", password=password)

    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert re.search(r'id="password-error">(The password is incorrect|Enter your password)', page)
    assert 'id="new-key"' not in page
    assert db.session.scalar(select(PersonalAPIKey)) is None


def test_password_tries_on_the_key_page_are_throttled_per_account(make_app: Any) -> None:
    app = make_app(LOGIN_RATE_LIMIT="3/minute")
    client = app.test_client()
    auth = AuthActions(client)
    with app.app_context():
        create_user("ada@example.com", PASSWORD)
        auth.login()
        statuses = [create_key(client, auth, label="Guess", scopes=["*"], scoped_projects="",
                               password=f"guess {n}").status_code for n in range(2)]
        throttled = create_key(client, auth, label="Right", scopes=["*"], scoped_projects="")

        assert statuses == [400, 400]  # the login has used one try of this account's bucket
        assert throttled.status_code == 429
        assert db.session.scalar(select(PersonalAPIKey)) is None


def test_a_key_can_be_limited_to_one_project(client: FlaskClient, auth: AuthActions, logged_in: User) -> None:
    create_key(client, auth, label="CI", scopes=["heatmap:read"], scoped_projects=str(logged_in.current_project_id))

    assert db.session.scalar(select(PersonalAPIKey.scoped_projects)) == [logged_in.current_project_id]


def test_a_key_for_someone_elses_project_is_refused(
    client: FlaskClient, auth: AuthActions, logged_in: User, other_user: User
) -> None:
    response = create_key(client, auth, label="CI", scopes=["heatmap:read"],
                          scoped_projects=str(other_user.current_project_id))

    assert response.status_code == 400
    assert db.session.scalar(select(PersonalAPIKey)) is None


def test_a_key_needs_a_label_and_a_scope(client: FlaskClient, auth: AuthActions, logged_in: User) -> None:
    response = create_key(client, auth, label="", scoped_projects="")

    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="label-error"' in page and "Choose at least one scope." in page
    assert db.session.scalar(select(PersonalAPIKey)) is None


def test_the_list_shows_when_a_key_was_last_used(client: FlaskClient, logged_in: User) -> None:
    key, _ = create_api_key(logged_in, "Reporting", ["heatmap:read"])
    record_api_key_use(key)

    page = client.get("/settings/api-keys").get_data(as_text=True)

    assert re.search(r"<td class=\"hide-small\"><time [^>]+>just now</time></td>", page)


def test_revoking_a_key_stops_it_working(client: FlaskClient, auth: AuthActions, logged_in: User) -> None:
    key, raw_key = create_api_key(logged_in, "Old integration", ["heatmap:read"])

    response = client.post(f"/settings/api-keys/{key.id}/revoke", data={"csrf_token": auth.csrf_token("/settings/api-keys")})

    assert response.headers["Location"] == "/settings/api-keys"
    assert "Old integration" not in client.get("/settings/api-keys").get_data(as_text=True)
    assert client.get("/api/users/@me/", headers={"Authorization": f"Bearer {raw_key}"}).status_code == 401


def test_someone_elses_key_cannot_be_revoked(
    client: FlaskClient, auth: AuthActions, logged_in: User, other_user: User
) -> None:
    key, _ = create_api_key(other_user, "Theirs", ["heatmap:read"])

    response = client.post(f"/settings/api-keys/{key.id}/revoke", data={"csrf_token": auth.csrf_token("/settings/api-keys")})

    assert response.status_code == 404
    assert db.session.get(PersonalAPIKey, key.id) is not None
