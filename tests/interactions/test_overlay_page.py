"""The detail page paints the heatmap data over the screenshot, in a real browser: type, dates, width tabs,
opacity and the PNG download."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from heatmap_app.models import SavedHeatmap, User
from tests.conftest import PASSWORD
from tests.interactions.conftest import click, distance, heatmap_event, png_pixels, poll
from tests.web.conftest import LiveServer

pytestmark = pytest.mark.browser


@pytest.fixture
def pricing(saved_heatmap: Callable[..., SavedHeatmap], send: Callable[..., Any]) -> SavedHeatmap:
    """A heatmap with screenshots at 390 and 1440 px, and visitor data at both widths, some of it old."""
    long_ago = datetime.now(UTC) - timedelta(days=20)
    response = send([
        heatmap_event([click(720, 400)] * 5 + [click(200, 1200)]),
        heatmap_event([click(300, 600, kind="rageclick")] * 2),
        heatmap_event([click(1000, 800)], timestamp=long_ago),
        heatmap_event([click(100, 300)] * 3, width=390, height=844),
        *(heatmap_event(event="$pageleave", **{"$prev_pageview_pathname": "/pricing", "$prev_pageview_max_scroll": y})
          for y in (0, 400, 1000)),
    ])
    assert response.status_code == 200
    return saved_heatmap(widths=(390, 1440), height=2000)


def log_in(browser: WebDriver, live_server: LiveServer, user: User) -> None:
    browser.get(live_server.url("/login"))
    browser.find_element(By.NAME, "email").send_keys(user.email)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "main input[type=submit]").click()
    poll(lambda: browser.current_url.endswith("/heatmaps/"), 10, "the login")


def settled(browser: WebDriver) -> str:
    """Wait for the overlay to finish loading; its state (ready, empty or error)."""
    return poll(lambda: (state := browser.find_element(By.ID, "overlay").get_attribute("data-state")) not in
                ("idle", "loading") and state, 10, "the overlay to load")


def painted(browser: WebDriver, x: int, y: int) -> int:
    """The overlay canvas's opacity at (x, y) of the screenshot: 0 where nothing is drawn."""
    return browser.execute_script(
        "return document.getElementById('overlay-canvas').getContext('2d')"
        ".getImageData(arguments[0], arguments[1], 1, 1).data[3]", x, y)


def choose(browser: WebDriver, select_id: str, value: str) -> None:
    Select(browser.find_element(By.ID, select_id)).select_by_value(value)


def summary(browser: WebDriver) -> str:
    return browser.find_element(By.ID, "overlay-summary").text


def test_the_overlay_paints_each_type_range_and_width_and_exports_it(
    browser: WebDriver, live_server: LiveServer, user: User, pricing: SavedHeatmap
) -> None:
    log_in(browser, live_server, user)
    browser.get(live_server.url(f"/heatmaps/{pricing.short_id}?width=1440"))

    # Clicks of the last 7 days at 1440 px ± 10 %: the hot spot, the single click, nothing elsewhere.
    assert settled(browser) == "ready"
    assert summary(browser).startswith("6 clicks from ")
    assert "1296–1584 px" in summary(browser)
    assert browser.find_element(By.ID, "overlay-max").text == "5 clicks"
    assert painted(browser, 720, 400) > 200
    assert painted(browser, 200, 1200) > 0
    assert painted(browser, 1000, 800) == 0  # 20 days old
    assert painted(browser, 1300, 1800) == 0

    # Type switch: rage clicks only.
    choose(browser, "overlay-type", "rageclick")
    assert settled(browser) == "ready" and summary(browser).startswith("2 rage clicks")
    assert painted(browser, 300, 600) > 200 and painted(browser, 720, 400) == 0

    # Date range: the last 30 days include the old click; a custom range with no data explains the snippet.
    choose(browser, "overlay-type", "click")
    choose(browser, "overlay-range", "-30d")
    assert settled(browser) == "ready" and summary(browser).startswith("7 clicks")
    assert painted(browser, 1000, 800) > 0
    choose(browser, "overlay-range", "custom")
    browser.execute_script(
        "const form = document.getElementById('overlay-controls');"
        "form.elements.custom_from.value = '2020-01-01'; form.elements.custom_to.value = '2020-01-31';"
        "form.elements.custom_to.dispatchEvent(new Event('change', {bubbles: true}));")
    assert settled(browser) == "empty"
    empty = browser.find_element(By.ID, "overlay-empty")
    assert "No clicks from 2020-01-01 to 2020-01-31" in empty.text
    assert empty.find_element(By.LINK_TEXT, "Install page").get_attribute("href").endswith("/install")
    assert painted(browser, 720, 400) == 0
    choose(browser, "overlay-range", "-30d")
    assert settled(browser) == "ready"

    # Scroll depth: bands down to the deepest visit, with the share that reached each.
    choose(browser, "overlay-type", "scrolldepth")
    assert settled(browser) == "ready" and summary(browser).startswith("3 visits")
    assert painted(browser, 700, 50) > 0

    # Opacity is the canvas's own, no reload.
    choose(browser, "overlay-type", "click")
    settled(browser)
    browser.execute_script("const range = document.getElementById('overlay-opacity'); range.value = '0.3';"
                           "range.dispatchEvent(new Event('input', {bubbles: true}));")
    assert browser.find_element(By.ID, "overlay-canvas").value_of_css_property("opacity") == "0.3"

    # Width tab: the phone screenshot, with the same controls, shows the phone's clicks.
    browser.find_element(By.PARTIAL_LINK_TEXT, "390 px").click()
    poll(lambda: "width=390" in browser.current_url, 10, "the 390 px tab")
    assert settled(browser) == "ready"
    assert Select(browser.find_element(By.ID, "overlay-range")).first_selected_option.get_attribute("value") == "-30d"
    assert browser.find_element(By.ID, "overlay-opacity").get_attribute("value") == "0.3"
    assert summary(browser).startswith("3 clicks") and "351–429 px" in summary(browser)
    assert browser.execute_script("return document.getElementById('overlay-canvas').width") == 390
    assert painted(browser, 97, 304) > 200  # x 100 → 6 of 24 → 0.25 of 390; y 300 → 19 → 304

    # Export: the form's own request (what "Download PNG" submits) answers the painted PNG as a download.
    export = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const form = document.getElementById('overlay-controls');
        fetch(form.action + '?' + new URLSearchParams(new FormData(form)), {credentials: 'same-origin'})
          .then(async (response) => {
            const bytes = new Uint8Array(await response.arrayBuffer());
            let binary = ''; bytes.forEach((byte) => { binary += String.fromCharCode(byte); });
            done({status: response.status, type: response.headers.get('Content-Type'),
                  disposition: response.headers.get('Content-Disposition'), body: btoa(binary)});
          });
    """)
    assert export["status"] == 200 and export["type"] == "image/png"
    assert export["disposition"].startswith(f'attachment; filename="heatmap-{pricing.short_id}-390-click-')
    picture = png_pixels(base64.b64decode(export["body"]))
    assert picture.width == 390
    assert distance(picture.getpixel((100, 304))) > 30  # red at the chosen opacity, 0.3
    assert distance(picture.getpixel((300, 1500))) < 8
