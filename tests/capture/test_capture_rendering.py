"""What the full-page JPEG shows: viewport emulation, lazy content, headers, consent banners, caps."""

from __future__ import annotations

import pytest

from heatmap_app.capture import Browser, CaptureRequest, Shot
from tests.capture.pixels import (
    BLUE,
    CYAN,
    GREEN,
    GREY,
    MAGENTA,
    ORANGE,
    PURPLE,
    RED,
    WHITE,
    colour_at,
    image_of,
    looks_like,
)
from tests.support.site import Site

pytestmark = pytest.mark.browser


def capture_one(browser: Browser, page_server: Site, page: str, width: int, **options: bool) -> Shot:
    [shot] = browser.capture(CaptureRequest(page_server.url(page), [width], **options))
    return shot


@pytest.mark.parametrize("width", [320, 1024, 1920])
def test_a_100vh_hero_stays_one_viewport_tall_in_the_full_page_image(
    browser: Browser, page_server: Site, width: int
) -> None:
    shot = capture_one(browser, page_server, "hero-100vh.html", width)

    assert shot.height == shot.page_height == 800 + 1200
    assert looks_like(colour_at(shot, width // 2, 790), RED)
    assert looks_like(colour_at(shot, width // 2, 810), BLUE)


def test_the_image_is_as_wide_as_the_width_asked_for_even_below_the_smallest_window(
    browser: Browser, page_server: Site
) -> None:
    shot = capture_one(browser, page_server, "hero-100vh.html", 320)

    assert image_of(shot).size == (320, 2000)
    assert shot.width == 320


def test_lazy_images_of_every_kind_are_loaded_before_the_shot(browser: Browser, page_server: Site) -> None:
    shot = capture_one(browser, page_server, "lazy-images.html", 1024)

    assert looks_like(colour_at(shot, 200, 3150), GREEN), "native loading=lazy image"
    assert looks_like(colour_at(shot, 200, 5150), MAGENTA), "data-src image loaded by an IntersectionObserver"
    assert looks_like(colour_at(shot, 200, 7150), CYAN), "data-src image loaded by a scroll listener"
    assert looks_like(colour_at(shot, 600, 3150), WHITE)


def test_lazy_content_that_appears_only_at_a_later_width_is_loaded_for_that_width(
    browser: Browser, page_server: Site
) -> None:
    narrow, wide = browser.capture(CaptureRequest(page_server.url("lazy-images.html"), [768, 1024]))

    assert looks_like(colour_at(narrow, 200, 6150), WHITE), "hidden below 900 px"
    assert looks_like(colour_at(wide, 200, 6150), GREEN)


def test_a_phone_width_gets_touch_a_mobile_user_agent_and_the_mobile_layout(
    browser: Browser, page_server: Site
) -> None:
    shot = capture_one(browser, page_server, "mobile-layout.html", 320)

    assert image_of(shot).width == 320
    assert looks_like(colour_at(shot, 160, 50), GREEN), "touch events and a coarse pointer"
    assert looks_like(colour_at(shot, 160, 150), GREEN), "the max-width media query"
    assert looks_like(colour_at(shot, 160, 250), GREEN), "an Android mobile user agent, not a headless one"


def test_a_desktop_width_after_a_phone_width_gets_no_touch_and_the_desktop_layout(
    browser: Browser, page_server: Site
) -> None:
    phone, desktop = browser.capture(CaptureRequest(page_server.url("mobile-layout.html"), [320, 1024]))

    assert looks_like(colour_at(phone, 160, 50), GREEN)
    assert looks_like(colour_at(desktop, 500, 50), RED)
    assert looks_like(colour_at(desktop, 500, 150), GREY)
    assert looks_like(colour_at(desktop, 500, 250), RED)


def test_a_phone_page_without_a_viewport_tag_is_shown_zoomed_out_as_a_phone_shows_it(
    browser: Browser, page_server: Site
) -> None:
    shot = capture_one(browser, page_server, "zoomed-out.html", 320)

    # The 960 px bar fills the 980 px layout scaled to 320 px: its blue end lands near x = 300.
    assert image_of(shot).width == 320
    assert looks_like(colour_at(shot, 150, 20), GREEN)
    assert looks_like(colour_at(shot, 305, 20), BLUE)


def test_sticky_and_fixed_headers_appear_once_at_the_top(browser: Browser, page_server: Site) -> None:
    shot = capture_one(browser, page_server, "sticky-header.html", 1024)
    image = image_of(shot)

    assert looks_like(colour_at(shot, 200, 30), ORANGE)
    assert looks_like(colour_at(shot, 1004, 20), PURPLE)
    header_rows = [y for y in range(100, shot.height, 10) if looks_like(image.getpixel((200, y)), ORANGE)]
    badge_rows = [y for y in range(100, shot.height, 10) if looks_like(image.getpixel((1004, y)), PURPLE)]
    assert header_rows == [] and badge_rows == []


def test_consent_banners_are_accepted_and_hidden_when_asked(browser: Browser, page_server: Site) -> None:
    shot = capture_one(browser, page_server, "consent.html", 1024, block_consent_modals=True)

    assert looks_like(colour_at(shot, 500, 100), WHITE), "the OneTrust container is hidden"
    assert looks_like(colour_at(shot, 500, 700), WHITE), "the home-made banner is gone"
    assert looks_like(colour_at(shot, 500, 350), GREEN), "its accept button was clicked"


def test_consent_banners_stay_when_not_asked_to_block_them(browser: Browser, page_server: Site) -> None:
    shot = capture_one(browser, page_server, "consent.html", 1024)

    assert looks_like(colour_at(shot, 500, 100), RED)
    assert looks_like(colour_at(shot, 500, 700), BLUE)
    assert looks_like(colour_at(shot, 500, 350), GREY)


def test_a_page_taller_than_the_cap_is_cut_at_16000_px_and_its_full_height_reported(
    browser: Browser, page_server: Site
) -> None:
    shot = capture_one(browser, page_server, "tall.html", 1024)

    assert shot.page_height == 30_000
    assert shot.height == 16_000
    assert image_of(shot).size == (1024, 16_000)
    assert looks_like(colour_at(shot, 512, 15_990), RED), "the bottom of the image is rendered, not blank"


def test_no_scrollbar_is_painted(browser: Browser, page_server: Site) -> None:
    shot = capture_one(browser, page_server, "tall.html", 1024)

    assert looks_like(colour_at(shot, 1020, 400), RED)


def test_animations_and_transitions_are_shown_at_their_end_and_endless_ones_at_rest(
    browser: Browser, page_server: Site
) -> None:
    shot = capture_one(browser, page_server, "animations.html", 1024)

    assert looks_like(colour_at(shot, 100, 100), GREEN), "a 60 s animation, finished"
    assert looks_like(colour_at(shot, 100, 300), GREEN), "a 60 s transition, finished"
    assert looks_like(colour_at(shot, 3, 403), BLUE), "a spinning square, unrotated"
