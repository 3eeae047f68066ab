"""One warm browser, several customers: nothing one customer's page does reaches the next capture."""

from __future__ import annotations

import pytest

from heatmap_app.capture import Browser, BrowserPool, CaptureRequest, CaptureSettings
from tests.capture.pixels import BLUE, GREEN, colour_at, looks_like
from tests.capture.servers import Page, PagesServer

pytestmark = pytest.mark.browser

CUSTOMER_B_PAGE = Page(
    '<!doctype html><meta name="viewport" content="width=device-width">'
    '<body style="margin:0;background:#00c000"><div style="height:1200px">Customer B</div></body>'
)
DEFACED_PAGE = Page('<!doctype html><body style="margin:0;background:#e00000"><h1>Defaced</h1></body>')
# The engine reads which requests failed after each shot, the last read ending the capture: this is how
# a page can act just after its capture.
WHEN_THE_CAPTURE_ENDS_JS = """
Object.defineProperty(window.__heatmapRequests, 'failedUrls', {{ get() {{ {action}; return []; }} }});
"""


def customer_a_page(script: str) -> Page:
    return Page(f'<!doctype html><body style="margin:0;background:#0000e0"><div style="height:900px"></div>'
                f"<script>{script}</script></body>")


def assert_is_customer_b(shots: list, widths: list[int]) -> None:
    assert [shot.width for shot in shots] == widths
    for shot in shots:
        assert shot.page_height == 1200, f"{shot.width} px: not customer B's page"
        for y in (10, 600, 1190):
            assert looks_like(colour_at(shot, shot.width // 2, y), GREEN), f"{shot.width} px at y={y}"


def test_a_popup_of_one_customer_cannot_deface_the_next_customers_capture(pages: PagesServer) -> None:
    # Two customers' pages on one site, as on a shared host. The popup's timer waits until its opener
    # shows the other customer's page, then sends that tab to the defaced page.
    pages.pages["/watcher"] = Page(
        "<script>setInterval(() => { try { if (opener.location.pathname === '/customer-b') "
        "opener.location = '/defaced'; } catch (gone) {} }, 20);</script>"
    )
    pages.pages["/defaced"] = DEFACED_PAGE
    pages.pages["/customer-a"] = customer_a_page("window.open('/watcher', 'watcher');")
    pages.pages["/customer-b"] = CUSTOMER_B_PAGE

    with BrowserPool(CaptureSettings()) as pool:
        [customer_a] = pool.capture(CaptureRequest(pages.url("/customer-a"), [1024]))
        customer_b = pool.capture(CaptureRequest(pages.url("/customer-b"), [375, 1024]))

    assert looks_like(colour_at(customer_a, 500, 100), BLUE)
    assert_is_customer_b(customer_b, [375, 1024])
    assert "/defaced" not in pages.requested
    assert "/watcher" not in pages.requested, "the popup was opened"


def test_a_late_alert_of_one_customer_does_not_fail_the_next_customers_capture(
    pages: PagesServer, other_pages: PagesServer
) -> None:
    pages.pages["/"] = customer_a_page(
        WHEN_THE_CAPTURE_ENDS_JS.format(action="setTimeout(() => alert('Customer A was here'), 0)")
    )
    other_pages.pages["/"] = CUSTOMER_B_PAGE

    with BrowserPool(CaptureSettings()) as pool:
        pool.capture(CaptureRequest(pages.url("/"), [1024]))
        customer_b = pool.capture(CaptureRequest(other_pages.url("/"), [375, 1024]))
        assert pool.process_group_id is not None, "the same warm browser served both"

    assert_is_customer_b(customer_b, [375, 1024])


def test_a_page_opens_no_window_even_from_a_click_of_the_engine(browser: Browser, pages: PagesServer) -> None:
    pages.pages["/popup"] = DEFACED_PAGE
    pages.pages["/"] = Page(
        '<!doctype html><body style="margin:0;background:#00c000">'
        "<div class=\"cookie-banner\"><button onclick=\"window.open('/popup')\">Accept all</button></div>"
        "<script>window.open('/popup'); setTimeout(() => window.open('/popup', '_blank'), 50);</script></body>"
    )

    [shot] = browser.capture(CaptureRequest(pages.url("/"), [1024], block_consent_modals=True))

    assert looks_like(colour_at(shot, 500, 700), GREEN)
    assert "/popup" not in pages.requested
