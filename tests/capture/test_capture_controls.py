"""The page controls of a capture request: wait for an element, an extra delay, hidden elements, retina."""

from __future__ import annotations

import time

import pytest

from heatmap_app.capture import Browser, CaptureRequest, PermanentCaptureError
from tests.capture.pixels import BLUE, GREEN, RED, colour_at, image_of, looks_like
from tests.capture.servers import Page, PagesServer

pytestmark = pytest.mark.browser

VIEWPORT = '<!doctype html><meta name="viewport" content="width=device-width">'
# The green block appears 3 s after the page loaded, well after the engine's own waits are over.
LATE_CONTENT = (
    f'{VIEWPORT}<body style="margin:0;background:#e00000"><div style="height:1200px"></div><script>'
    "setTimeout(() => { const late = document.createElement('div'); late.id = 'late';"
    "late.style.cssText = 'position:absolute;top:0;left:0;width:100%;height:600px;background:#00c000';"
    "document.body.appendChild(late); }, 3000);</script>"
)
# A chat bubble and a popup, fixed on screen; the popup only shows up on wide screens.
WIDGETS = (
    f'{VIEWPORT}<style>@media (max-width: 600px) {{ .popup {{ display: none; }} }}</style>'
    '<body style="margin:0;background:#00c000"><div style="height:1500px"></div>'
    '<div id="chat" style="position:fixed;right:0;bottom:0;width:200px;height:200px;background:#e00000"></div>'
    '<div class="popup" style="position:fixed;left:0;top:0;width:300px;height:300px;background:#e00000"></div>'
)


def test_wait_for_selector_captures_content_that_appears_after_3_seconds(
    browser: Browser, pages: PagesServer
) -> None:
    pages.pages["/"] = Page(LATE_CONTENT)

    [hasty] = browser.capture(CaptureRequest(pages.url("/"), [1024]))
    started = time.monotonic()
    [patient] = browser.capture(CaptureRequest(pages.url("/"), [1024], wait_for_selector="#late"))

    assert looks_like(colour_at(hasty, 500, 300), RED), "without waiting, the late content is not there yet"
    assert looks_like(colour_at(patient, 500, 300), GREEN)
    assert time.monotonic() - started < 15


def test_a_selector_that_never_appears_fails_with_a_reason(browser: Browser, pages: PagesServer) -> None:
    pages.pages["/"] = Page(f"{VIEWPORT}<body>nothing late here")

    with pytest.raises(PermanentCaptureError, match="#never.*within 1 seconds"):
        browser.capture(CaptureRequest(pages.url("/"), [1024], wait_for_selector="#never", delay_seconds=14))


def test_an_extra_delay_is_waited_before_the_first_shot(browser: Browser, pages: PagesServer) -> None:
    pages.pages["/"] = Page(LATE_CONTENT)

    [shot] = browser.capture(CaptureRequest(pages.url("/"), [1024], delay_seconds=3.5))

    assert looks_like(colour_at(shot, 500, 300), GREEN)


def test_hidden_selectors_are_gone_at_every_width(browser: Browser, pages: PagesServer) -> None:
    pages.pages["/"] = Page(WIDGETS)
    widths = [375, 768, 1024, 1440]

    shown = browser.capture(CaptureRequest(pages.url("/"), widths))
    hidden = browser.capture(CaptureRequest(pages.url("/"), widths, hide_selectors=("#chat", ".popup")))

    for shot in shown:
        assert looks_like(colour_at(shot, shot.width - 50, 800 - 50), RED), "the chat bubble shows by default"
    for shot in hidden:
        assert looks_like(colour_at(shot, shot.width - 50, 800 - 50), GREEN), f"no chat bubble at {shot.width}"
        assert looks_like(colour_at(shot, 50, 50), GREEN), f"no popup at {shot.width}"


def test_a_2x_capture_has_twice_the_pixels_and_the_same_layout(browser: Browser, pages: PagesServer) -> None:
    # A blue band from y=400 to y=500 CSS px, over the left half: where an overlay point at (0.25, 450) lands.
    pages.pages["/"] = Page(
        f'{VIEWPORT}<body style="margin:0;background:#00c000"><div style="height:2000px"></div>'
        '<div style="position:absolute;top:400px;left:0;width:50%;height:100px;background:#0000e0"></div>'
    )

    [single] = browser.capture(CaptureRequest(pages.url("/"), [1024]))
    [double] = browser.capture(CaptureRequest(pages.url("/"), [1024], device_scale_factor=2))

    assert image_of(single).size == (1024, 2000)
    assert image_of(double).size == (2048, 4000)
    assert (double.width, double.height, double.page_height) == (single.width, single.height, single.page_height)
    assert looks_like(colour_at(single, 256, 450), BLUE) and looks_like(colour_at(double, 512, 900), BLUE)
    assert looks_like(colour_at(double, 512, 790), GREEN) and looks_like(colour_at(double, 512, 1010), GREEN)
