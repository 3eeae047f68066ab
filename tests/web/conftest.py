"""Fixtures of the web UI tests: a page to capture on loopback, saved heatmaps with screenshots, the app served
on a real port, one headless Chromium for the whole run, and the real capture worker."""

from __future__ import annotations

import io
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from PIL import Image
from selenium.webdriver.remote.webdriver import WebDriver

from heatmap_app import heatmaps, storage
from heatmap_app.extensions import db
from heatmap_app.models import SavedHeatmap, User
from jobs.capture import settle
from tests.support.site import serve_site
from tests.support.served import gunicorn  # noqa: F401  (a fixture)
from tests.web.browser import BurstWorker, serve_app, start_chrome

PAGES = Path(__file__).resolve().parent / "pages"


@dataclass(frozen=True)
class CaptureSite:
    """The loopback site the capture worker is allowed to open."""

    host_port: str

    def url(self, path: str = "/landing.html") -> str:
        return f"http://{self.host_port}{path}"


@pytest.fixture(scope="session")
def capture_site() -> Iterator[CaptureSite]:
    with serve_site(PAGES) as site:
        yield CaptureSite(site.host)


@pytest.fixture
def app_config(capture_site: CaptureSite) -> dict[str, Any]:
    """The web tests' app may capture the loopback site."""
    return {"CAPTURE_ALLOW_HOSTS": capture_site.host_port}


@pytest.fixture
def unused_redis_url() -> Iterator[str]:
    """A Redis URL on a loopback port held bound but not listening: connections are refused, as when Redis is down."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield f"redis://127.0.0.1:{held.getsockname()[1]}/0"


@pytest.fixture
def logged_in(auth: Any, user: User) -> User:
    auth.login()
    return user


@pytest.fixture
def make_heatmap(app: Flask, user: User, capture_site: CaptureSite) -> Callable[..., SavedHeatmap]:
    """make_heatmap(name=..., widths=[...]) -> a heatmap of `user`'s project, created through the service."""

    def factory(owner: User | None = None, **data: Any) -> SavedHeatmap:
        creator = owner or user
        data.setdefault("url", capture_site.url())
        return heatmaps.create_heatmap(creator.current_project, creator, data)

    return factory


def jpeg(width: int, height: int, colour: str = "#e4572e") -> bytes:
    output = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(output, format="JPEG")
    return output.getvalue()


@pytest.fixture
def store_shot(app: Flask) -> Callable[..., None]:
    """store_shot(heatmap, width, height) stores a screenshot as the worker does (file, thumbnail, row)."""

    def store(heatmap: SavedHeatmap, width: int, height: int = 1800, page_height: int | None = None) -> None:
        storage.store_snapshot(heatmap, width, jpeg(width, height), page_height or height,
                               generation=heatmap.capture_generation)

    return store


@pytest.fixture
def complete(app: Flask, store_shot: Callable[..., None]) -> Callable[[SavedHeatmap], SavedHeatmap]:
    """Finish a heatmap's capture without a browser: a screenshot per target width, then settled as the capture
    job settles it (the heatmap and its run completed)."""

    def finish(heatmap: SavedHeatmap) -> SavedHeatmap:
        for width in heatmap.target_widths:
            store_shot(heatmap, width)
        settle(heatmap.id, heatmap.capture_generation, exception=None)
        db.session.refresh(heatmap)
        return heatmap

    return finish


# --- a real browser against a real server ---------------------------------------------------------


@dataclass(frozen=True)
class LiveServer:
    app: Flask
    base_url: str

    def url(self, path: str) -> str:
        return self.base_url + path


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    with serve_app(app) as base_url:
        yield LiveServer(app=app, base_url=base_url)


@pytest.fixture(scope="session")
def shared_chrome() -> Iterator[WebDriver]:
    driver = start_chrome()
    yield driver
    driver.quit()


@pytest.fixture
def browser(shared_chrome: WebDriver, live_server: LiveServer) -> WebDriver:
    """The shared Chrome, signed out (cookies are per host, not per port, so every test starts clean)."""
    shared_chrome.get(live_server.url("/login"))
    shared_chrome.delete_all_cookies()
    return shared_chrome


@pytest.fixture
def worker(app: Flask) -> Iterator[BurstWorker]:
    running = BurstWorker(app)
    yield running
    running.stop()
