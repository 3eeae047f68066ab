"""Real pages' traps, with the real libraries (tests/fixtures/pages/vendor): what a visitor sees is what is captured."""

from __future__ import annotations

import pytest

from heatmap_app.capture import Browser, CaptureRequest
from tests.capture.pixels import BLUE, GREEN, GREY, MAGENTA, WHITE, colour_at, image_of, looks_like
from tests.support.site import Site

pytestmark = pytest.mark.browser


def test_a_stylesheet_whose_import_fails_still_styles_every_width(browser: Browser, page_server: Site) -> None:
    phone, desktop = browser.capture(CaptureRequest(page_server.url("fidelity/failing-import.html"), [320, 1024]))

    assert looks_like(colour_at(phone, 160, 400), GREEN)
    assert looks_like(colour_at(desktop, 500, 400), GREEN)
    assert len(page_server.times_served("fidelity/theme-with-failing-imports.css")) == 2


def test_each_phone_width_of_a_page_wider_than_the_phone_is_zoomed_as_a_fresh_load_zooms_it(
    browser: Browser, page_server: Site
) -> None:
    url = page_server.url("fidelity/wide-on-phones.html")
    phones = browser.capture(CaptureRequest(url, [320, 375, 425]))
    fresh = [browser.capture(CaptureRequest(url, [width]))[0] for width in (320, 375, 425)]

    for shot, alone in zip(phones, fresh, strict=True):
        # 400 px of content shown `width` px wide: 1000 px tall at scale width / 400, the right edge in view.
        assert shot.height == alone.height == round(1000 * min(1, shot.width / 400))
        assert looks_like(colour_at(shot, round(400 * min(1, shot.width / 400)) - 3, 100), BLUE)
        assert looks_like(colour_at(shot, shot.width // 2, 100), GREEN)


def test_elements_revealed_on_scroll_by_aos_and_wow_are_visible(browser: Browser, page_server: Site) -> None:
    [shot] = browser.capture(CaptureRequest(page_server.url("fidelity/animate-on-scroll.html"), [1024]))

    for section, colour in enumerate((GREEN, BLUE, GREEN, BLUE, GREEN, BLUE)):
        assert looks_like(colour_at(shot, 200, section * 800 + 350), colour), f"section {section + 1}"


@pytest.mark.parametrize("page", ["vanilla-lazyload.html", "lazysizes.html"])
def test_every_image_of_a_lazy_loading_library_is_loaded(browser: Browser, page_server: Site, page: str) -> None:
    phone, desktop = browser.capture(CaptureRequest(page_server.url(f"fidelity/{page}"), [375, 1024]))

    for shot in (phone, desktop):
        missing = [
            index for index in range(40)
            if not looks_like(colour_at(shot, 150, index * 400 + 200), GREEN if index % 2 == 0 else MAGENTA)
        ]
        assert missing == [], f"{shot.width} px: images not shown"


@pytest.mark.parametrize("width", [375, 1024])
def test_cookieconsent_v3_shows_to_the_capture_as_to_a_visitor_and_is_dismissed_when_asked(
    browser: Browser, page_server: Site, width: int
) -> None:
    url = page_server.url("fidelity/cookieconsent-v3.html")
    [shown] = browser.capture(CaptureRequest(url, [width]))
    [dismissed] = browser.capture(CaptureRequest(url, [width], block_consent_modals=True))

    bottom_of_first_screen = [(x, y) for x in range(10, width, 40) for y in range(700, 800, 20)]
    assert not all(looks_like(colour_at(shown, x, y), GREEN) for x, y in bottom_of_first_screen)
    assert all(looks_like(colour_at(dismissed, x, y), GREEN) for x, y in bottom_of_first_screen)


def test_cjk_text_and_emoji_render_as_glyphs_not_boxes(browser: Browser, page_server: Site) -> None:
    [shot] = browser.capture(CaptureRequest(page_server.url("fidelity/fonts.html"), [1024]))
    image = image_of(shot)
    cjk, missing, emoji = (image.crop((0, top, 700, top + 100)) for top in (0, 100, 200))

    # Missing glyphs are drawn as the same box each: CJK text drawn so would look like the box row.
    assert list(cjk.get_flattened_data()) != list(missing.get_flattened_data())
    assert len(set(cjk.get_flattened_data())) > 20
    coloured = [p for p in emoji.get_flattened_data() if max(p) - min(p) > 80 and not looks_like(p, WHITE)]
    assert len(coloured) > 1000, "colour emoji"


def test_a_background_attachment_fixed_section_below_the_first_screen_keeps_its_background(
    browser: Browser, page_server: Site
) -> None:
    [shot] = browser.capture(CaptureRequest(page_server.url("fidelity/fixed-background.html"), [1024]))

    for y in (1650, 2000, 2350):
        assert looks_like(colour_at(shot, 500, y), GREEN), y
    assert looks_like(colour_at(shot, 500, 1000), GREY)


def test_a_masonry_grid_is_laid_out_again_for_each_width(browser: Browser, page_server: Site) -> None:
    narrow, wide = browser.capture(CaptureRequest(page_server.url("fidelity/masonry-grid.html"), [768, 1024]))
    [wide_alone] = browser.capture(CaptureRequest(page_server.url("fidelity/masonry-grid.html"), [1024]))

    # Four columns from 1000 px: the third and fourth hold items at the top, as in a fresh load.
    for x in (128, 384, 640, 896):
        assert looks_like(colour_at(wide, x, 100), colour_at(wide_alone, x, 100)), x
        assert not looks_like(colour_at(wide, x, 100), WHITE), x
    assert looks_like(colour_at(narrow, 200, 100), GREEN) and looks_like(colour_at(narrow, 600, 100), BLUE)


def test_jquery_fades_are_shown_at_their_end(browser: Browser, page_server: Site) -> None:
    shots = browser.capture(CaptureRequest(page_server.url("fidelity/jquery-fade.html"), [768, 1024]))

    for shot in shots:
        assert looks_like(colour_at(shot, 300, 200), BLUE), f"{shot.width} px: the panel faded in again"
        assert looks_like(colour_at(shot, 300, 600), GREEN), f"{shot.width} px: the preloader faded out"


def test_a_fixed_full_height_sidebar_runs_the_whole_height_of_the_page(browser: Browser, page_server: Site) -> None:
    [shot] = browser.capture(CaptureRequest(page_server.url("fidelity/fixed-sidebar.html"), [1024]))

    assert shot.height == 4000
    for y in (100, 1500, 3900):
        assert looks_like(colour_at(shot, 100, y), BLUE), y
        assert looks_like(colour_at(shot, 600, y), GREEN), y


def test_a_phone_page_that_overflowed_the_narrower_phone_is_not_zoomed_in_at_the_next(
    browser: Browser, page_server: Site
) -> None:
    narrow, wider = browser.capture(CaptureRequest(page_server.url("fidelity/animate-on-scroll.html"), [320, 375]))

    assert narrow.height == wider.height == 4800
