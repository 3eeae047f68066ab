"""The real posthog-js (vendored 1.449.2), in headless Chromium, sends a site's clicks and scrolls to us.

A loopback "customer site" pastes the install page's snippet (plus `opt_out_useragent_filter`, without
which the library drops headless browsers) pointed at the app on a real port. Clicks at known places at
two viewport widths, a rage click, a click on a fixed header after scrolling, and scrolls; once the
library has flushed, `heatmaps/` answers those points and depths, and the exported PNG is hot there.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.remote.webdriver import WebDriver

from heatmap_app.extensions import db
from heatmap_app.interactions.snippet import install_snippet
from heatmap_app.models import InteractionPoint, Project
from tests.interactions.conftest import distance, png_pixels, poll
from tests.support.site import serve_site
from tests.web.conftest import LiveServer

pytestmark = pytest.mark.browser

PAGES = Path(__file__).resolve().parent / "pages"
FLUSH_TIMEOUT = 30  # posthog-js flushes heatmaps every 5 s and its request queue every 3 s


@pytest.fixture
def chrome(browser: WebDriver) -> WebDriver:
    browser.get_log("browser")  # start with an empty console
    return browser


@pytest.fixture
def customer_site(tmp_path: Path, live_server: LiveServer, project: Project) -> Iterator[str]:
    """The tracked page with the install snippet pasted in, on a loopback site of its own (another origin)."""
    snippet = install_snippet(live_server.base_url, project.api_token, {"opt_out_useragent_filter": True})
    (tmp_path / "tracked.html").write_text((PAGES / "tracked.html").read_text().replace("<!-- SNIPPET -->", snippet))
    with serve_site(tmp_path) as site:
        yield site.url("tracked.html")


def open_tracked(chrome: WebDriver, url: str) -> dict[str, int]:
    chrome.get(url)
    poll(lambda: chrome.execute_script("return !!(window.posthog && window.posthog.__loaded)"), 10,
         "posthog-js to load")
    return chrome.execute_script("return {width: innerWidth, height: innerHeight}")


def click_at(chrome: WebDriver, x: int, y: int, times: int = 1) -> None:
    """Click at viewport coordinates, as a person would (real mouse events through the DevTools input domain)."""
    actions = ActionBuilder(chrome)
    actions.pointer_action.move_to_location(x, y)
    for _ in range(times):
        actions.pointer_action.click()
    actions.perform()


def scroll_to(chrome: WebDriver, y: int) -> None:
    chrome.execute_script("window.scrollTo(0, arguments[0])", y)
    poll(lambda: chrome.execute_script("return scrollY") == y, 5, "the page to scroll")


def js_round(value: float) -> int:
    return math.floor(value + 0.5)


def stored(type_: str) -> int:
    return db.session.query(InteractionPoint).filter_by(type=type_).count()


def test_posthog_js_sends_clicks_and_scrolls_that_heatmaps_answer_and_the_png_paints(
    chrome: WebDriver, customer_site: str, live_server: LiveServer, api_get: Callable[..., Any],
    saved_heatmap: Callable[..., Any],
) -> None:
    # Desktop: a click, a rage click (three quick clicks), then scrolled down, a click on the fixed header.
    desktop = open_tracked(chrome, customer_site)
    assert desktop["width"] == 1440
    click_at(chrome, 400, 300)
    click_at(chrome, 700, 500, times=3)
    scroll_to(chrome, 600)
    click_at(chrome, 100, 40)  # on the fixed header's button, 600 px down the page
    # The library's own timer flushes (fetch, gzip body, no compression parameter).
    poll(lambda: stored("click") >= 5, FLUSH_TIMEOUT, "the desktop clicks")
    chrome.get("about:blank")  # leaving sends $pageleave with the scroll depth, by sendBeacon
    poll(lambda: stored("scrolldepth") >= 1, FLUSH_TIMEOUT, "the desktop scroll depth")

    # Phone width, emulated: a click, a scroll, and leaving flushes both at once.
    chrome.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": False})
    try:
        phone = open_tracked(chrome, customer_site)
        assert phone["width"] == 390
        click_at(chrome, 200, 250)
        scroll_to(chrome, 1200)
        chrome.get("about:blank")
        poll(lambda: stored("scrolldepth") >= 2 and stored("click") >= 6, FLUSH_TIMEOUT, "the phone's data")
    finally:
        chrome.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

    # The page's URL is the heatmap's key; positions come back in PostHog's shape (16 px buckets).
    desktop_clicks = api_get("heatmaps/", type="click", url_exact=customer_site, viewport_width_min=1296,
                             viewport_width_max=1584)
    assert desktop_clicks.status_code == 200
    assert desktop_clicks.headers["Cache-Control"] == "max-age=30"
    body = desktop_clicks.get_json()
    assert body["results"] == [
        # 700 / 16 → 44, 44 / 90 → 0.49; 500 / 16 → 31 → 496 px: three clicks of the rage click
        {"pointer_target_fixed": False, "pointer_relative_x": 0.49, "pointer_y": 496, "count": 3},
        # the header is fixed: its y is where it sits on screen (40 → 48), not 640
        {"pointer_target_fixed": True, "pointer_relative_x": 0.07, "pointer_y": 48, "count": 1},
        # 400 → 25 → 0.28; 300 → 19 → 304
        {"pointer_target_fixed": False, "pointer_relative_x": 0.28, "pointer_y": 304, "count": 1},
    ]
    assert body["has_more"] is False
    fold_line = js_round(desktop["height"] / 16) * 16
    assert body["fold"] == {"total_count": 4, "below_fold_count": 0, "pct_below_fold": 0.0,
                            "median_viewport_height": fold_line}

    rage = api_get("heatmaps/", type="rageclick", url_exact=customer_site).get_json()["results"]
    assert rage == [{"pointer_target_fixed": False, "pointer_relative_x": 0.49, "pointer_y": 496, "count": 1}]

    phone_clicks = api_get("heatmaps/", type="click", url_exact=customer_site, viewport_width_max=429).get_json()
    # 200 / 16 → 13, 390 / 16 → 24, 13 / 24 → 0.54; 250 → 16 → 256
    assert phone_clicks["results"] == [
        {"pointer_target_fixed": False, "pointer_relative_x": 0.54, "pointer_y": 256, "count": 1}]

    # Scroll depth: the deepest scroll plus the screen's height, in 100 px buckets, deepest reached by fewest.
    def depth(scrolled: int, screen_height: int) -> int:
        return (js_round(scrolled / 16) + js_round(screen_height / 16)) * 16 // 100 * 100

    buckets = api_get("heatmaps/", type="scrolldepth", url_exact=customer_site).get_json()["results"]
    assert buckets == sorted([
        {"scroll_depth_bucket": depth(600, desktop["height"]), "bucket_count": 1, "cumulative_count": 2},
        {"scroll_depth_bucket": depth(1200, phone["height"]), "bucket_count": 1, "cumulative_count": 1},
    ], key=lambda bucket: bucket["scroll_depth_bucket"])

    # Who clicked on the header: the visitor's id and session, from the raw points.
    events = api_get("heatmaps/events/", url_exact=customer_site,
                     points='[{"x": 0.07, "y": 48, "target_fixed": true}]').get_json()
    assert events["total_count"] == 1
    assert events["results"][0]["current_url"] == customer_site
    assert events["results"][0]["session_id"] and events["results"][0]["distinct_id"]

    # The PNG export: hot where people clicked, the screenshot untouched elsewhere.
    heatmap = saved_heatmap(url=customer_site, widths=(390, 1440), height=1600)
    png = api_get(f"heatmap_screenshots/{heatmap.id}/overlay", width=1440, type="click")
    assert png.status_code == 200 and png.mimetype == "image/png"
    picture = png_pixels(png.data)
    assert picture.size == (1440, 1600 + 36)  # and the caption strip
    hottest = picture.getpixel((round(0.49 * 1440), 496))
    assert hottest[0] > 200 and hottest[2] < 80, f"the rage-clicked spot should be red, is {hottest}"
    for x, y in ((round(0.28 * 1440), 304), (round(0.07 * 1440), 48)):
        assert distance(picture.getpixel((x, y))) > 20, f"({x}, {y}) should be painted"
    for x, y in ((1300, 1200), (60, 900), (1000, 100)):
        assert distance(picture.getpixel((x, y))) < 8, f"({x}, {y}) should be the bare screenshot"

    phone_png = png_pixels(api_get(f"heatmap_screenshots/{heatmap.id}/overlay", width=390).data)
    assert distance(phone_png.getpixel((round(0.54 * 390), 256))) > 60  # the only click there: the hottest
    assert distance(phone_png.getpixel((300, 1000))) < 8

    # Everything the library asked this server for loaded: no CORS or missing-file errors on the site.
    problems = [entry["message"] for entry in chrome.get_log("browser")
                if entry["level"] == "SEVERE" and live_server.base_url in entry["message"]]
    assert problems == []
