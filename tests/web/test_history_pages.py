"""The history pages: the runs of a heatmap, the schedule form, and comparing two runs side by side, with a
slider, and as a diff (the last in a real Chromium)."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image, ImageDraw
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from heatmap_app import heatmaps, storage
from heatmap_app.models import SavedHeatmap, User
from jobs.capture import settle
from tests.conftest import AuthActions
from tests.web.conftest import LiveServer
from tests.web.test_browser import element, image_width, log_in, wait
from tests.web.test_heatmap_pages import post_form

WIDTH, HEIGHT = 1024, 1600


def page(*, promotion: bool) -> bytes:
    """A landing page; with `promotion`, a red band across its middle."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "#f4f4f4")
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, WIDTH, 200], fill="#2c3e50")
    if promotion:
        draw.rectangle([0, 600, WIDTH, 900], fill="#c0392b")
    output = io.BytesIO()
    image.save(output, "JPEG", quality=80)
    return output.getvalue()


@pytest.fixture
def two_runs(make_heatmap: Callable[..., SavedHeatmap]) -> SavedHeatmap:
    """Run 1 without the promotion band, run 2 with it, both completed at 1024 px."""
    heatmap = make_heatmap(name="Spring landing page", widths=[WIDTH])
    for promotion in (False, True):
        if promotion:
            heatmaps.regenerate_heatmap(heatmap)
        storage.store_snapshot(heatmap, WIDTH, page(promotion=promotion), HEIGHT, generation=heatmap.capture_generation)
        settle(heatmap.id, heatmap.capture_generation, exception=None)
    return heatmap


def test_the_history_lists_each_run_with_why_it_ran_and_how_it_ended(
    client: FlaskClient, logged_in: User, two_runs: SavedHeatmap
) -> None:
    page_html = client.get(f"/heatmaps/{two_runs.short_id}/history").get_data(as_text=True)

    rows = re.findall(r'<tr id="run-(\d+)">.*?<td>(?:<time[^>]*>[^<]*</time>)</td>\s*<td>([^<]+)</td>', page_html, re.S)
    assert rows == [("2", "Regenerated"), ("1", "First capture")]
    assert page_html.count("While this version was live") == 2


def test_a_schedule_is_saved_from_the_form_and_an_internal_webhook_is_refused_at_its_field(
    client: FlaskClient, auth: AuthActions, logged_in: User, two_runs: SavedHeatmap
) -> None:
    path = f"/heatmaps/{two_runs.short_id}/schedule"

    refused = post_form(client, auth, path, frequency="daily", hour="9", weekday="0",
                        change_webhook_url="http://192.168.1.20/hook")
    saved = post_form(client, auth, path, frequency="weekly", hour="9", weekday="4", change_webhook_url="")

    assert refused.status_code == 400
    assert 'id="change_webhook_url-error"' in refused.get_data(as_text=True)
    assert saved.status_code == 302
    heatmap = heatmaps.get_heatmap(two_runs.project, two_runs.short_id)
    assert (heatmap.recapture_frequency, heatmap.recapture_hour, heatmap.recapture_weekday) == ("weekly", 9, 4)


def test_comparing_runs_that_are_not_kept_is_a_404(client: FlaskClient, logged_in: User, two_runs: SavedHeatmap) -> None:
    assert client.get(f"/heatmaps/{two_runs.short_id}/compare?a=1&b=7").status_code == 404
    assert client.get(f"/heatmaps/{two_runs.short_id}/runs/5/1024.jpg").status_code == 404


@pytest.mark.browser
def test_a_marketer_compares_two_captures_side_by_side_with_the_slider_and_as_a_diff(
    browser: WebDriver, live_server: LiveServer, user: User, two_runs: SavedHeatmap
) -> None:
    log_in(browser, live_server, user)
    browser.get(live_server.url(f"/heatmaps/{two_runs.short_id}/history"))
    browser.find_element(By.XPATH, "//button[normalize-space()='Compare']").click()

    # Side by side: both captures, each loaded at its real width.
    images = wait(browser).until(lambda _: browser.find_elements(By.CSS_SELECTOR, "#compare-side img"))
    wait(browser).until(lambda _: all(image_width(browser, image) == WIDTH for image in images))
    assert "#1" in images[0].get_attribute("alt") and "#2" in images[1].get_attribute("alt")

    # Slider: dragging it moves where the earlier capture is cut.
    browser.find_element(By.LINK_TEXT, "Slider").click()
    slider = element(browser, "#compare-slider")
    browser.execute_script("arguments[0].value = 20; arguments[0].dispatchEvent(new Event('input'))", slider)
    clip = browser.execute_script("return getComputedStyle(document.getElementById('compare-before')).clipPath")
    assert clip == "inset(0px 80% 0px 0px)"

    # Differences: the share that changed, and the picture with the band highlighted.
    browser.find_element(By.LINK_TEXT, "Differences").click()
    share = float(re.search(r"([\d.]+)%", element(browser, "#compare-figure").text).group(1))
    assert abs(share - 300 / HEIGHT * 100) < 3
    diff = element(browser, "#compare-diff")
    wait(browser).until(lambda _: image_width(browser, diff) == WIDTH // 2)
    band_pixel = browser.execute_script("""
        const image = arguments[0], canvas = document.createElement('canvas');
        canvas.width = image.naturalWidth; canvas.height = image.naturalHeight;
        const context = canvas.getContext('2d'); context.drawImage(image, 0, 0);
        return [...context.getImageData(256, 375, 1, 1).data, ...context.getImageData(256, 100, 1, 1).data];
    """, diff)
    in_band, header = band_pixel[:3], band_pixel[4:7]
    assert in_band[0] - in_band[1] > 60  # highlighted
    assert max(header) - min(header) < 20  # greyed, unchanged
