"""API keys resolved once per API_KEY_CACHE_SECONDS per process: a hit asks the database nothing about the key,
and a revoked key or a deactivated user is refused once the bound has passed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, select

from heatmap_app.accounts import create_api_key, create_user, revoke_api_key
from heatmap_app.extensions import db
from heatmap_app.models import PersonalAPIKey

BOUND = 1.0


@contextmanager
def statements() -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def cached_app(make_app: Any) -> Any:
    return make_app(API_KEY_CACHE_SECONDS=BOUND)


def test_a_cached_key_is_not_looked_up_again_and_still_knows_its_user(make_app: Any) -> None:
    app = cached_app(make_app)
    with app.app_context():
        user = create_user("cache@example.com", "correct horse battery", first_name="Ada")
        _, raw_key = create_api_key(user, "cache", ["heatmap:read"], None)
        client, headers = app.test_client(), {"Authorization": f"Bearer {raw_key}"}
        assert client.get("/api/users/@me/", headers=headers).status_code == 200

        with statements() as seen:
            again = client.get("/api/users/@me/", headers=headers)

    assert again.status_code == 200 and again.get_json()["first_name"] == "Ada"
    assert not [statement for statement in seen if "FROM personal_api_key" in statement]


def test_a_revoked_key_is_refused_once_the_bound_has_passed(make_app: Any) -> None:
    app = cached_app(make_app)
    with app.app_context():
        user = create_user("revoke@example.com", "correct horse battery")
        _, raw_key = create_api_key(user, "soon revoked", ["heatmap:read"], None)
        client, headers = app.test_client(), {"Authorization": f"Bearer {raw_key}"}
        assert client.get("/api/users/@me/", headers=headers).status_code == 200
        key_id = db.session.scalar(select(PersonalAPIKey.id))

        assert revoke_api_key(user, key_id)
        revoked_at = time.monotonic()
        statuses = []
        while time.monotonic() - revoked_at < BOUND + 0.5:
            statuses.append((time.monotonic() - revoked_at, client.get("/api/users/@me/", headers=headers).status_code))
            time.sleep(0.05)

    assert all(status == 401 for elapsed, status in statuses if elapsed > BOUND)
    assert statuses[-1][1] == 401


def test_a_deactivated_user_is_refused_once_the_bound_has_passed(make_app: Any) -> None:
    app = cached_app(make_app)
    with app.app_context():
        user = create_user("leaver@example.com", "correct horse battery")
        _, raw_key = create_api_key(user, "leaver", ["heatmap:read"], None)
        client, headers = app.test_client(), {"Authorization": f"Bearer {raw_key}"}
        assert client.get("/api/users/@me/", headers=headers).status_code == 200
        user.is_active = False
        db.session.commit()

        time.sleep(BOUND + 0.1)
        refused = client.get("/api/users/@me/", headers=headers)

    assert refused.status_code == 401


def test_an_unknown_key_is_not_remembered(make_app: Any) -> None:
    app = cached_app(make_app)
    with app.app_context():
        user = create_user("new@example.com", "correct horse battery")
        client = app.test_client()
        assert client.get("/api/users/@me/", headers={"Authorization": "Bearer phx_notyet"}).status_code == 401
        _, raw_key = create_api_key(user, "new", ["heatmap:read"], None)

        assert client.get("/api/users/@me/", headers={"Authorization": f"Bearer {raw_key}"}).status_code == 200
