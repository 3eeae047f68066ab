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
from tests.support.workers import WorkerProcess, end_leftovers

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app_config(site: Site) -> dict[str, Any]:
    """The worker tests' app: the site allowed through the URL guard, retries without back-off, a sweep for
    stuck captures every second, and room to create many heatmaps."""
    return {"CAPTURE_ALLOW_HOSTS": site.host, "CAPTURE_RETRY_DELAYS": [0, 0], "CAPTURE_REAPER_INTERVAL": 1,
            "HEATMAP_CREATE_RATE_LIMIT": "100/minute"}


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
        "CAPTURE_REAPER_INTERVAL": str(config["CAPTURE_REAPER_INTERVAL"]),
    }


@pytest.fixture
def start_worker(app: Flask, tmp_path: Path) -> Iterator[Any]:
    """start_worker(burst=True, **environment) -> the `flask worker` process, run as an operator runs it."""
    processes: list[WorkerProcess] = []

    def start(*, burst: bool = True, **environment: str) -> WorkerProcess:
        command = [sys.executable, "-m", "flask", "--app", "wsgi", "worker"] + (["--burst"] if burst else [])
        marker = uuid.uuid4().hex  # inherited by every process the worker starts, Chrome included
        log_path = tmp_path / f"worker-{marker}.log"
        with log_path.open("wb") as log:
            process = WorkerProcess(
                command, cwd=ROOT, env={**worker_environment(app), **environment, "HEATMAP_TEST_WORKER": marker},
                stdout=log, stderr=subprocess.STDOUT,
            )
        process.marker = marker
        process.log_path = log_path
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        end_leftovers(process)
