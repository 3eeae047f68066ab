"""The CLI: create-user, create-api-key and worker, each inside the app context; capture, which the Flask CLI
finds without building the app."""

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask
from PIL import Image
from redis import Redis
from rq import Queue
from sqlalchemy import select

from heatmap_app.extensions import db
from heatmap_app.models import PersonalAPIKey, User

ROOT = Path(__file__).resolve().parent.parent


def test_create_user_prints_the_user_and_project_ids(app: Flask) -> None:
    result = app.test_cli_runner().invoke(
        args=["create-user", "ops@example.com", "--password", "long enough", "--first-name", "Ops",
              "--organization", "Acme"]
    )

    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.email == "ops@example.com"))
    assert f"user id: {user.id}" in result.output
    assert f"project id: {user.current_project_id}" in result.output
    assert user.organizations[0].name == "Acme" and user.first_name == "Ops"


def test_create_user_refuses_a_duplicate_with_a_clear_message(app: Flask, user: User) -> None:
    result = app.test_cli_runner().invoke(args=["create-user", user.email, "--password", "long enough"])

    assert result.exit_code != 0
    assert "already exists" in result.output


def test_create_api_key_prints_the_key_alone_on_the_last_line(app: Flask, user: User, client) -> None:
    result = app.test_cli_runner().invoke(
        args=["create-api-key", user.email, "--label", "ci", "--scopes", "heatmap:read,heatmap:write"]
    )

    assert result.exit_code == 0, result.output
    raw_key = result.output.strip().splitlines()[-1]
    assert raw_key.startswith("phx_") and " " not in raw_key
    stored = db.session.scalar(select(PersonalAPIKey))
    assert stored.secure_value == "sha256$" + hashlib.sha256(raw_key.encode()).hexdigest()
    assert stored.scopes == ["heatmap:read", "heatmap:write"]
    assert client.get("/api/users/@me/", headers={"Authorization": f"Bearer {raw_key}"}).status_code == 200


def test_create_api_key_refuses_unknown_users_and_scopes(app: Flask, user: User) -> None:
    runner = app.test_cli_runner()

    nobody = runner.invoke(args=["create-api-key", "nobody@example.com", "--label", "x", "--scopes", "*"])
    bad_scope = runner.invoke(args=["create-api-key", user.email, "--label", "x", "--scopes", "admin"])

    assert nobody.exit_code != 0 and "No user" in nobody.output
    assert bad_scope.exit_code != 0 and "Unknown scope" in bad_scope.output


def test_the_burst_worker_runs_queued_jobs_inside_the_app_context(app: Flask, redis_conn: Redis) -> None:
    queue = Queue("cli-test", connection=redis_conn)
    job = queue.enqueue("tests.support.jobs.record_app_context", "burst")

    result = app.test_cli_runner().invoke(args=["worker", "--burst", "--queues", "cli-test"])

    assert result.exit_code == 0, result.output
    job.refresh()
    assert job.is_finished, job.get_status()
    assert redis_conn.get("test-worker:burst").decode() == app.config["MEDIA_ROOT"]


@pytest.mark.browser
def test_capture_writes_a_jpeg_per_width_and_prints_one_json_summary(app: Flask, site, tmp_path: Path) -> None:
    app.config["CAPTURE_ALLOW_HOSTS"] = site.host
    out = tmp_path / "shots"

    result = app.test_cli_runner().invoke(
        args=["capture", site.url("hero-100vh.html"), "--widths", "320,1024", "--out", str(out)]
    )

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["url"] == site.url("hero-100vh.html") and summary["seconds"] > 0
    assert [(shot["width"], shot["height"]) for shot in summary["shots"]] == [(320, 2000), (1024, 2000)]
    for shot in summary["shots"]:
        written = out / f"{shot['width']}.jpg"
        assert written.stat().st_size == shot["bytes"]
        assert Image.open(written).size == (shot["width"], shot["height"])


def test_capture_refuses_an_internal_url_before_any_browser_starts(app: Flask, site, tmp_path: Path) -> None:
    result = app.test_cli_runner().invoke(args=["capture", site.url("hero-100vh.html"), "--out", str(tmp_path)])

    assert result.exit_code != 0
    assert "loopback" in result.output
    assert site.paths == [] and list(tmp_path.iterdir()) == []


@pytest.mark.browser
def test_flask_capture_as_typed_captures_without_importing_the_web_app(site, tmp_path: Path) -> None:
    """The command is a Flask CLI plugin (pyproject.toml): found before any app is loaded, it starts Chrome
    without first importing the web app, its models and the database layer (over a second, bench/README.md)."""
    environment = {**os.environ, "SECRET_KEY": "cli-test-" * 5, "CAPTURE_ALLOW_HOSTS": site.host,
                   "PYTHONPROFILEIMPORTTIME": "1"}

    result = subprocess.run(
        [str(Path(sys.executable).with_name("flask")), "--app", "wsgi", "capture", site.url("hero-100vh.html"),
         "--widths", "375", "--out", str(tmp_path)],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120,
    )

    assert result.returncode == 0, result.stderr[-2000:]
    assert [shot["width"] for shot in json.loads(result.stdout)["shots"]] == [375]
    assert Image.open(tmp_path / "375.jpg").size[0] == 375
    imported = set(re.findall(r"^import time:.*\|\s*(\S+)$", result.stderr, re.MULTILINE))
    assert "heatmap_app.capture.browser" in imported
    assert not imported & {"heatmap_app.models", "heatmap_app.api", "heatmap_app.web", "sqlalchemy", "alembic"}


def test_capture_refuses_widths_out_of_the_api_range(app: Flask, tmp_path: Path) -> None:
    result = app.test_cli_runner().invoke(args=["capture", "https://example.com/", "--widths", "50", "--out", str(tmp_path)])

    assert result.exit_code == 2
    assert "between 100 and 3000" in result.output and list(tmp_path.iterdir()) == []


def test_capture_refuses_widths_that_are_not_numbers(app: Flask, tmp_path: Path) -> None:
    result = app.test_cli_runner().invoke(args=["capture", "https://example.com/", "--widths", "wide", "--out", str(tmp_path)])

    assert result.exit_code == 2
    assert "--widths" in result.output
