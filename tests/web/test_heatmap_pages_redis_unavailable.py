"""The heatmap pages while Redis is down: an error page that says what happened (503), and nothing saved."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from heatmap_app.errors import REDIS_UNAVAILABLE
from heatmap_app.extensions import db
from heatmap_app.models import SavedHeatmap, User
from tests.conftest import AuthActions
from tests.support.redis_server import RedisServer, redis_server
from tests.web.conftest import CaptureSite


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    """The app's own Redis, for the test to take down."""
    with redis_server() as server:
        yield server


@pytest.fixture
def app_config(capture_site: CaptureSite, redis: RedisServer) -> dict[str, Any]:
    return {"CAPTURE_ALLOW_HOSTS": capture_site.host_port, "REDIS_URL": redis.url}


def assert_error_page(response: Any) -> None:
    page = response.get_data(as_text=True)
    assert response.status_code == 503 and response.mimetype == "text/html"
    assert REDIS_UNAVAILABLE in page and int(response.headers["Retry-After"]) > 0


def test_creating_a_heatmap_shows_the_error_page_and_saves_nothing(
    client: FlaskClient, auth: AuthActions, logged_in: User, capture_site: CaptureSite, redis: RedisServer
) -> None:
    csrf_token = auth.csrf_token("/heatmaps/new")
    redis.stop()

    response = client.post("/heatmaps/new", data={"csrf_token": csrf_token, "url": capture_site.url(), "preset": "all"})

    assert_error_page(response)
    assert db.session.query(SavedHeatmap).count() == 0


def test_regenerating_shows_the_error_page_and_changes_nothing(
    client: FlaskClient, auth: AuthActions, logged_in: User, make_heatmap: Any, complete: Any, redis: RedisServer
) -> None:
    heatmap = complete(make_heatmap(name="Home", widths=[1440]))
    csrf_token = auth.csrf_token("/heatmaps/new")
    redis.stop()

    response = client.post(f"/heatmaps/{heatmap.short_id}/regenerate", data={"csrf_token": csrf_token})

    assert_error_page(response)
    db.session.expire_all()
    assert (heatmap.status, heatmap.capture_generation) == ("completed", 1)
