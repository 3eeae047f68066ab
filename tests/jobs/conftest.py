"""Fixtures of the worker tests: the real `flask worker` in a subprocess, capturing the loopback `site`."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.support.site import Site

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app_config(site: Site) -> dict[str, Any]:
    """The worker tests' app: the site allowed through the URL guard, retries without back-off, and room
    to create many heatmaps."""
    return {"CAPTURE_ALLOW_HOSTS": site.host, "CAPTURE_RETRY_DELAYS": [0, 0], "HEATMAP_CREATE_RATE_LIMIT": "100/minute"}


def worker_environment(app: Flask) -> dict[str, str]:
    config = app.config
    return {
        **os.environ,
        "DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": config["REDIS_URL"],
        "MEDIA_ROOT": config["MEDIA_ROOT"],
        "SECRET_KEY": config["SECRET_KEY"],
        "CAPTURE_ALLOW_HOSTS": config["CAPTURE_ALLOW_HOSTS"],
        "CAPTURE_RETRY_DELAYS": ",".join(str(delay) for delay in config["CAPTURE_RETRY_DELAYS"]),
    }


@pytest.fixture
def start_worker(app: Flask) -> Iterator[Any]:
    """start_worker(burst=True) -> the `flask worker` process, run as an operator runs it."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(*, burst: bool = True, **environment: str) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "flask", "--app", "wsgi", "worker"] + (["--burst"] if burst else [])
        marker = uuid.uuid4().hex  # inherited by every process the worker starts, Chrome included
        process = subprocess.Popen(
            command, cwd=ROOT, env={**worker_environment(app), **environment, "HEATMAP_TEST_WORKER": marker},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        process.marker = marker  # type: ignore[attr-defined]
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
