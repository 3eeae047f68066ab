"""What the API resolves once per API_KEY_CACHE_SECONDS per process: a key's identity (a hit asks the database
nothing about it; a revoked key or a deactivated user is refused once the bound has passed) and the snapshot a
completed heatmap serves (no query at all; a replaced snapshot served at once, a deleted heatmap gone within the
bound; a heatmap still processing never cached)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, select

from heatmap_app import storage
from heatmap_app.accounts import create_api_key, create_user, revoke_api_key
from heatmap_app.extensions import db
from heatmap_app.models import PersonalAPIKey, SavedHeatmap, User
from tests.api.conftest import jpeg_bytes

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


def heatmap_of(user: User, status: str) -> SavedHeatmap:
    heatmap = SavedHeatmap(project=user.current_project, created_by=user, short_id=f"cache{status[:3]}",
                           url="https://93.184.216.34/", target_widths=[320, 1024], status=status,
                           capture_generation=1)
    db.session.add(heatmap)
    db.session.commit()
    return heatmap


def content_client(app: Any, user: User, heatmap: SavedHeatmap) -> tuple[Any, str, dict[str, str]]:
    _, raw_key = create_api_key(user, "images", ["heatmap:read"], None)
    path = f"/api/projects/{user.current_project_id}/heatmap_screenshots/{heatmap.id}/content?width=1024"
    return app.test_client(), path, {"Authorization": f"Bearer {raw_key}"}


def test_a_completed_heatmaps_image_is_served_again_without_a_query(make_app: Any) -> None:
    app = cached_app(make_app)
    with app.app_context():
        user = create_user("images@example.com", "correct horse battery")
        heatmap = heatmap_of(user, "completed")
        image = jpeg_bytes(1024, color="red")
        storage.store_snapshot(heatmap, 1024, image, page_height=600)
        client, path, headers = content_client(app, user, heatmap)
        assert client.get(path, headers=headers).data == image

        with statements() as seen:
            again = client.get(path, headers=headers)

    assert again.status_code == 200 and again.data == image
    assert seen == []


def test_a_replaced_snapshot_is_served_at_once_and_a_deleted_heatmap_is_gone_within_the_bound(make_app: Any) -> None:
    app = cached_app(make_app)
    with app.app_context():
        user = create_user("replace@example.com", "correct horse battery")
        heatmap = heatmap_of(user, "completed")
        storage.store_snapshot(heatmap, 1024, jpeg_bytes(1024, color="red"), page_height=600)
        client, path, headers = content_client(app, user, heatmap)
        client.get(path, headers=headers)

        newer = jpeg_bytes(1024, color="blue")
        storage.store_snapshot(heatmap, 1024, newer, page_height=600)  # the old object is removed
        replaced = client.get(path, headers=headers)

        heatmap.deleted = True
        db.session.commit()
        time.sleep(BOUND + 0.1)
        gone = client.get(path, headers=headers)

    assert replaced.status_code == 200 and replaced.data == newer
    assert gone.status_code == 404


def test_a_heatmap_still_processing_is_never_cached(make_app: Any) -> None:
    app = cached_app(make_app)
    with app.app_context():
        user = create_user("landing@example.com", "correct horse battery")
        heatmap = heatmap_of(user, "processing")
        storage.store_snapshot(heatmap, 320, jpeg_bytes(320), page_height=600, generation=1)
        client, path, headers = content_client(app, user, heatmap)
        pending = client.get(path, headers=headers)  # a target width the capture has not reached: 202

        storage.store_snapshot(heatmap, 1024, jpeg_bytes(1024), page_height=600, generation=1)
        exact = client.get(path, headers=headers)

    assert pending.status_code == 202
    assert exact.status_code == 200 and "-1024.jpg" in exact.headers["Content-Disposition"]
