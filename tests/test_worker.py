"""The worker's own pieces that need no browser: ending a unit of work's database session."""

from __future__ import annotations

import psycopg
import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.engine import make_url

from heatmap_app.extensions import db
from heatmap_app.worker import end_session


def test_ending_a_session_whose_connection_the_database_dropped_leaves_a_working_session(
    app: Flask, database_url: str
) -> None:
    if make_url(database_url).get_backend_name() != "postgresql":
        pytest.skip("dropping a session's connection needs PostgreSQL; SQLite has no connection to lose")
    backend = db.session.execute(text("SELECT pg_backend_pid()")).scalar()  # a transaction left open
    admin = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute("SELECT pg_terminate_backend(%s)", [backend])

    end_session()

    assert db.session.execute(text("SELECT 1")).scalar() == 1
