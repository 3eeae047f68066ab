"""A real browser against a real server: shared by the browser tests and scripts/screenshots.py."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver
from werkzeug.serving import make_server

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHROME_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-gpu", "--hide-scrollbars",
)


@contextmanager
def serve_app(app: Flask) -> Iterator[str]:
    """Serve the app on a free loopback port with werkzeug, in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def start_chrome(window_size: str = "1440,1000") -> WebDriver:
    """Headless Chromium from explicit paths: Selenium Manager must not try to download anything."""
    os.environ.setdefault("SE_OFFLINE", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROME_BINARY", "/usr/bin/chromium")
    for flag in (*CHROME_FLAGS, f"--window-size={window_size}"):
        options.add_argument(flag)
    service = Service(executable_path=os.environ.get("CHROMEDRIVER_PATH", "/usr/bin/chromedriver"))
    return webdriver.Chrome(options=options, service=service)


class BurstWorker:
    """`flask worker --burst` in a subprocess on the app's database, Redis, media folder and allow list."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.process: subprocess.Popen[str] | None = None

    def environment(self) -> dict[str, str]:
        config = self.app.config
        return {
            **os.environ,
            "SE_OFFLINE": "true",
            "SECRET_KEY": config["SECRET_KEY"],
            "DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": config["REDIS_URL"],
            "MEDIA_ROOT": config["MEDIA_ROOT"],
            "CAPTURE_ALLOW_HOSTS": config["CAPTURE_ALLOW_HOSTS"],
            **{name: config[name] for name in ("CHROME_BINARY", "CHROMEDRIVER_PATH") if config.get(name)},
        }

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--burst"],
            cwd=PROJECT_ROOT, env=self.environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )

    def finish(self, timeout: float = 120) -> str:
        """Wait until the queue is empty and the worker has exited; its output, for failure messages."""
        assert self.process is not None, "the worker was not started"
        output, _ = self.process.communicate(timeout=timeout)
        assert self.process.returncode == 0, output
        return output

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
