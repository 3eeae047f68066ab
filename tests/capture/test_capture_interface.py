"""What callers of the engine rely on: the order of shots, per-width callbacks, files on disk, proxies, Grids."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest
from PIL import Image

from heatmap_app.capture import Browser, CaptureRequest, CaptureSettings, Shot, capture, capture_to_directory
from tests.capture.pixels import RED, colour_at, looks_like
from tests.capture.servers import RecordingProxy
from tests.support.site import Site

pytestmark = pytest.mark.browser


def test_shots_come_back_in_the_order_asked_without_duplicates(browser: Browser, page_server: Site) -> None:
    shots = browser.capture(CaptureRequest(page_server.url("hero-100vh.html"), [1024, 320, 1024, 375]))

    assert [shot.width for shot in shots] == [1024, 320, 375]
    assert [Image.open(io.BytesIO(shot.jpeg)).size for shot in shots] == [(1024, 2000), (320, 2000), (375, 2000)]


def test_the_page_is_loaded_once_for_the_phone_widths_and_once_for_the_others(
    browser: Browser, page_server: Site
) -> None:
    served_before = len(page_server.times_served("mobile-layout.html"))

    browser.capture(CaptureRequest(page_server.url("mobile-layout.html"), [320, 375, 425, 768, 1024, 1440, 1920]))

    assert len(page_server.times_served("mobile-layout.html")) - served_before == 2


def test_each_shot_is_handed_over_as_soon_as_it_is_taken(browser: Browser, page_server: Site) -> None:
    handed_over: list[tuple[float, Shot]] = []
    served_before = len(page_server.times_served("hero-100vh.html"))

    shots = browser.capture(
        CaptureRequest(page_server.url("hero-100vh.html"), [320, 1024]),
        on_shot=lambda shot: handed_over.append((time.monotonic(), shot)),
    )

    assert [shot for _, shot in handed_over] == shots
    phone_handed_over_at = handed_over[0][0]
    desktop_page_served_at = page_server.times_served("hero-100vh.html")[served_before + 1]
    assert phone_handed_over_at < desktop_page_served_at, "the phone shot came before the desktop load began"


def test_capture_to_directory_writes_one_jpeg_per_width_and_returns_the_summary(
    page_server: Site, tmp_path: Path
) -> None:
    url = page_server.url("hero-100vh.html")

    summary = capture_to_directory(CaptureRequest(url, [320, 1024]), tmp_path / "shots", CaptureSettings())

    assert summary["url"] == url
    assert 0 < summary["seconds"] < 30
    assert summary["shots"] == [
        {"width": 320, "height": 2000, "bytes": (tmp_path / "shots" / "320.jpg").stat().st_size},
        {"width": 1024, "height": 2000, "bytes": (tmp_path / "shots" / "1024.jpg").stat().st_size},
    ]
    assert Image.open(tmp_path / "shots" / "1024.jpg").size == (1024, 2000)
    assert sorted(path.name for path in (tmp_path / "shots").iterdir()) == ["1024.jpg", "320.jpg"]
    json.dumps(summary)


def test_every_request_goes_through_the_configured_proxy_loopback_included(
    page_server: Site, recording_proxy: RecordingProxy
) -> None:
    url = page_server.url("lazy-images.html")

    [shot] = capture(CaptureRequest(url, [1024]), CaptureSettings(proxy_server=recording_proxy.address))

    assert url in recording_proxy.requested_urls
    assert page_server.url("images/magenta.svg") in recording_proxy.requested_urls
    assert shot.page_height == 8000


def test_a_remote_webdriver_such_as_a_selenium_grid_can_drive_the_browser(
    page_server: Site, remote_webdriver_url: str
) -> None:
    with Browser(CaptureSettings(remote_url=remote_webdriver_url)) as remote:
        phone, desktop = remote.capture(CaptureRequest(page_server.url("hero-100vh.html"), [320, 1024]))
        assert remote.process_group_id is None

    assert (phone.width, desktop.width) == (320, 1024)
    assert looks_like(colour_at(phone, 160, 790), RED)
    assert looks_like(colour_at(desktop, 500, 790), RED)
