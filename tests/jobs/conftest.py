"""Fixtures of the worker tests: a loopback site to capture, and the real `flask worker` in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

PAGES = Path(__file__).resolve().parent.parent / "fixtures" / "pages"
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Site:
    """Serves the fixture pages. /gated/<page> answers its first request at once and later ones only
    after `gate` is set, so a test can hold the second page load of a capture."""

    base_url: str = ""
    host: str = ""
    gate: threading.Event = field(default_factory=threading.Event)
    paths: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path}"


class SiteHandler(SimpleHTTPRequestHandler):
    site: Site

    def do_GET(self) -> None:
        self.site.paths.append(self.path)
        if self.path.startswith("/gated/"):
            if self.site.paths.count(self.path) > 1:
                self.site.gate.wait(timeout=30)
            self.path = self.path.removeprefix("/gated")
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def site() -> Iterator[Site]:
    record = Site()
    handler = type("Handler", (SiteHandler,), {"site": record})
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(PAGES)))
    server.daemon_threads = True
    record.host = f"127.0.0.1:{server.server_address[1]}"
    record.base_url = f"http://{record.host}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield record
    record.gate.set()
    server.shutdown()
    server.server_close()


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
