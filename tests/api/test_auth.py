"""API authentication: Bearer personal API keys, scopes, and which projects a key reaches."""

import pytest
from flask import Flask
from flask.testing import FlaskClient

from heatmap_app.accounts import create_api_key, revoke_api_key
from heatmap_app.api.auth import resolve_project
from heatmap_app.errors import APIError
from heatmap_app.extensions import db
from heatmap_app.models import User

ME = "/api/users/@me/"


def _assert_unauthenticated(response) -> dict:
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    body = response.get_json()
    assert body["type"] == "authentication_error" and body["detail"] and "attr" in body
    return body


def test_no_key_answers_401_with_a_bearer_challenge(client: FlaskClient) -> None:
    body = _assert_unauthenticated(client.get(ME))
    assert body["code"] == "not_authenticated"


def test_unknown_revoked_and_inactive_user_keys_answer_the_same_401(client: FlaskClient, user: User, make_key) -> None:
    revoked, revoked_raw = create_api_key(user, "revoked", ["*"])
    revoke_api_key(user, revoked.id)
    inactive_raw = make_key(user, "*")

    unknown = _assert_unauthenticated(client.get(ME, headers={"Authorization": "Bearer phx_" + "x" * 50}))
    gone = _assert_unauthenticated(client.get(ME, headers={"Authorization": f"Bearer {revoked_raw}"}))
    user.is_active = False
    db.session.commit()
    inactive = _assert_unauthenticated(client.get(ME, headers={"Authorization": f"Bearer {inactive_raw}"}))

    assert unknown == gone == inactive


def test_a_key_in_the_query_string_is_refused_even_with_a_header(client: FlaskClient, bearer) -> None:
    headers = bearer("*")
    raw_key = headers["Authorization"].removeprefix("Bearer ")

    _assert_unauthenticated(client.get(f"{ME}?personal_api_key={raw_key}"))
    body = _assert_unauthenticated(client.get(f"{ME}?personal_api_key={raw_key}", headers=headers))
    assert "query string" in body["detail"]


def test_a_session_cookie_is_not_an_api_credential(client: FlaskClient, user: User, auth) -> None:
    auth.login()
    _assert_unauthenticated(client.get(ME))


def test_a_key_with_any_scope_reads_its_own_user(client: FlaskClient, bearer, user: User) -> None:
    response = client.get(ME, headers=bearer("heatmap:read"))

    assert response.status_code == 200
    body = response.get_json()
    assert body["email"] == user.email and body["uuid"] == user.uuid
    assert [project["id"] for project in body["projects"]] == [user.current_project_id]


def test_a_project_scoped_key_reaches_only_its_projects(app: Flask, user: User, other_user: User) -> None:
    own_project = user.current_project
    key, _ = create_api_key(user, "scoped", ["*"], [own_project.id])

    assert resolve_project(str(own_project.id), user, key) == own_project
    assert resolve_project("@current", user, key) == own_project
    for unreachable in (str(other_user.current_project_id), "999999", "not-a-number"):
        with pytest.raises(APIError) as error:
            resolve_project(unreachable, user, key)
        assert error.value.status == 404


def test_a_key_scoped_to_another_project_of_the_same_user_cannot_reach_the_current_one(
    app: Flask, user: User
) -> None:
    from heatmap_app.models import Project

    second = Project(organization=user.organizations[0], name="Second", api_token="phc_second")
    db.session.add(second)
    db.session.commit()
    key, _ = create_api_key(user, "second only", ["*"], [second.id])

    with pytest.raises(APIError):
        resolve_project(str(user.current_project_id), user, key)
    assert resolve_project(str(second.id), user, key) == second


def test_unknown_api_routes_answer_json_404(client: FlaskClient) -> None:
    response = client.get("/api/nothing-here/")

    assert response.status_code == 404
    assert response.get_json()["type"] == "invalid_request"
