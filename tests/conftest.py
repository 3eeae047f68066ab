"""Fixtures shared by the whole suite: a migrated database, a real Redis database, apps, clients, users, keys.

The suite runs against SQLite by default and against PostgreSQL when TEST_DATABASE_URL names a server
(a fresh database is created on it for the run and dropped afterwards).
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from redis import Redis
from sqlalchemy.engine import make_url

from heatmap_app import create_app
from heatmap_app.accounts import create_api_key, create_user
from heatmap_app.config import testing_config
from heatmap_app.extensions import db
from heatmap_app.models import User
from tests.support.site import Site, serve_site

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
PASSWORD = "correct horse battery"


def _postgres_database(server_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for this run on the server TEST_DATABASE_URL names."""
    server = make_url(server_url.replace("postgresql+psycopg://", "postgresql://"))
    name = f"heatmap_test_{uuid.uuid4().hex[:10]}"
    admin_dsn = server.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The run's database, migrated to head once (which also proves the migrations apply)."""
    server_url = os.environ.get("TEST_DATABASE_URL")
    if server_url:
        databases = _postgres_database(server_url)
        url = next(databases)
    else:
        databases = None
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    app = create_app(testing_config(tmp_path_factory.mktemp("migrate"), database_url=url, redis_url=TEST_REDIS_URL))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    yield url
    if databases is not None:
        next(databases, None)


@pytest.fixture
def make_app(database_url: str, tmp_path: Path) -> Iterator[Any]:
    """Build a test app with overrides; every app made in a test shares its database, Redis and media."""
    apps: list[Flask] = []
    Redis.from_url(TEST_REDIS_URL).flushdb()  # nothing a crashed earlier run left behind

    def factory(**overrides: Any) -> Flask:
        app = create_app(testing_config(tmp_path, database_url=database_url, redis_url=TEST_REDIS_URL, **overrides))
        apps.append(app)
        return app

    yield factory
    for app in apps:
        with app.app_context():
            db.session.remove()
            for table in reversed(db.metadata.sorted_tables):
                db.session.execute(table.delete())
            db.session.commit()
            db.engine.dispose()
    Redis.from_url(TEST_REDIS_URL).flushdb()


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Settings the `app` fixture overrides; a test folder's conftest redefines this fixture to change them."""
    return {}


@pytest.fixture
def app(make_app: Any, app_config: dict[str, Any]) -> Iterator[Flask]:
    application = make_app(**app_config)
    with application.app_context():
        yield application


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def redis_conn() -> Redis:
    connection = Redis.from_url(TEST_REDIS_URL)
    connection.ping()
    return connection


@pytest.fixture
def user(app: Flask) -> User:
    return create_user("ada@example.com", PASSWORD, first_name="Ada", last_name="Lovelace", organization_name="Analytical")


@pytest.fixture
def other_user(app: Flask) -> User:
    return create_user("grace@example.com", PASSWORD, first_name="Grace", organization_name="Navy")


@pytest.fixture
def make_key(app: Flask) -> Any:
    """make_key(user, "heatmap:read", projects=[...]) -> the raw `phx_` key."""

    def factory(owner: User, *scopes: str, projects: list[int] | None = None, label: str = "test") -> str:
        return create_api_key(owner, label, scopes or ("heatmap:read",), projects)[1]

    return factory


@pytest.fixture
def bearer(make_key: Any, user: User) -> Any:
    """bearer("heatmap:write") -> Authorization headers with a fresh key of `user` holding those scopes."""

    def factory(*scopes: str, owner: User | None = None, projects: list[int] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {make_key(owner or user, *scopes, projects=projects)}"}

    return factory


@pytest.fixture
def site() -> Iterator[Site]:
    """A loopback web site serving tests/fixtures/pages/ (see tests.support.site)."""
    with serve_site() as served:
        yield served


class AuthActions:
    """Logs the test client in and out through the real login form, CSRF token included."""

    def __init__(self, client: FlaskClient) -> None:
        self._client = client

    def csrf_token(self, path: str) -> str:
        page = self._client.get(path).get_data(as_text=True)
        match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
            r'name="csrf_token" value="([^"]+)"', page
        )
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def login(self, email: str = "ada@example.com", password: str = PASSWORD) -> Any:
        token = self.csrf_token("/login")
        return self._client.post("/login", data={"email": email, "password": password, "csrf_token": token})

    def logout(self) -> Any:
        token = self.csrf_token("/home")
        return self._client.post("/logout", data={"csrf_token": token})


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)
