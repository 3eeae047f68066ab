"""How pages load: bounded waits for what never answers, and the failures a user is told about."""

from __future__ import annotations

import socket
import time

import pytest

from heatmap_app.capture import Browser, CaptureRequest, CaptureSettings, PermanentCaptureError, TransientCaptureError
from tests.capture.pixels import GREEN, colour_at, looks_like
from tests.support.site import Site

pytestmark = pytest.mark.browser


def test_requests_that_never_answer_do_not_hold_the_capture(browser: Browser, page_server: Site) -> None:
    started = time.monotonic()
    [shot] = browser.capture(CaptureRequest(page_server.url("hanging-requests.html"), [1024]))

    assert time.monotonic() - started < 3
    assert looks_like(colour_at(shot, 500, 400), GREEN)


def test_an_image_that_never_answers_is_given_up_after_the_resources_timeout(page_server: Site) -> None:
    with Browser(CaptureSettings(resources_timeout=1)) as impatient:
        started = time.monotonic()
        phone, desktop = impatient.capture(CaptureRequest(page_server.url("hanging-image.html"), [320, 1024]))
        elapsed = time.monotonic() - started

    # One bounded wait for each of the two page loads (phone, desktop), plus the work itself.
    assert elapsed < 2 * 1 + 1.5
    assert looks_like(colour_at(phone, 300, 400), GREEN)
    assert looks_like(colour_at(desktop, 500, 400), GREEN)


def test_a_request_that_failed_in_the_first_load_is_not_waited_for_in_the_second(
    browser: Browser, page_server: Site
) -> None:
    # The wait keeps the first load open until the stylesheet has failed (its server hangs up after 1 s): a
    # quick machine shoots the phone width sooner, while the request is still only pending.
    request = CaptureRequest(page_server.url("failing-stylesheet.html"), [320, 1024], delay_seconds=1.5)
    phone, desktop = browser.capture(request)

    assert len(page_server.times_served("fail-slowly/theme.css")) == 1
    assert looks_like(colour_at(phone, 160, 400), GREEN)
    assert looks_like(colour_at(desktop, 500, 400), GREEN)


@pytest.mark.parametrize(
    ("status", "reason"), [(404, "HTTP 404 Not Found"), (410, "HTTP 410 Gone"), (500, "HTTP 500 Internal Server Error")]
)
def test_an_error_answer_fails_permanently_naming_the_status(
    browser: Browser, page_server: Site, status: int, reason: str
) -> None:
    with pytest.raises(PermanentCaptureError) as failure:
        browser.capture(CaptureRequest(page_server.url(f"status/{status}"), [1024]))

    assert str(failure.value) == f"The page answered {reason}"
    assert failure.value.permanent


def test_a_navigation_the_url_guard_refused_fails_permanently_with_the_guards_reason(
    browser: Browser, page_server: Site
) -> None:
    asked_about: list[str] = []

    def explain(url: str) -> str | None:
        asked_about.append(url)
        return "10.0.0.1 is a private address"

    url = page_server.url("status/403")
    with pytest.raises(PermanentCaptureError, match=r"^Blocked: 10\.0\.0\.1 is a private address$"):
        browser.capture(CaptureRequest(url, [1024]), explain_navigation_failure=explain)
    assert asked_about == [url]


def test_the_url_guard_is_not_consulted_for_a_page_that_loaded(browser: Browser, page_server: Site) -> None:
    asked_about: list[str] = []

    browser.capture(CaptureRequest(page_server.url("hero-100vh.html"), [1024]),
                    explain_navigation_failure=asked_about.append)

    assert asked_about == []


def test_an_unreachable_server_fails_transiently(browser: Browser) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed_port = unused.getsockname()[1]

    with pytest.raises(TransientCaptureError, match=r"could not be reached \(ERR_CONNECTION_REFUSED\)") as failure:
        browser.capture(CaptureRequest(f"http://127.0.0.1:{closed_port}/", [1024]),
                        explain_navigation_failure=lambda url: None)
    assert not failure.value.permanent


def test_a_page_that_never_answers_fails_transiently_after_the_page_load_timeout(page_server: Site) -> None:
    with Browser(CaptureSettings(page_load_timeout=1)) as impatient:
        started = time.monotonic()
        with pytest.raises(TransientCaptureError, match="did not answer within 1 seconds"):
            impatient.capture(CaptureRequest(page_server.url("hang/page.html"), [1024]))
        assert time.monotonic() - started < 2


def test_a_screenshot_over_the_byte_cap_is_retried_at_a_lower_quality(
    browser: Browser, page_server: Site
) -> None:
    url = page_server.url("lazy-images.html")
    [full_quality] = browser.capture(CaptureRequest(url, [1024]))
    cap = len(full_quality.jpeg) - 1

    with Browser(CaptureSettings(max_bytes=cap)) as capped:
        [smaller] = capped.capture(CaptureRequest(url, [1024]))

    assert len(smaller.jpeg) <= cap
    assert (smaller.width, smaller.height) == (full_quality.width, full_quality.height)


def test_a_page_too_large_even_at_the_lowest_quality_fails_permanently(page_server: Site) -> None:
    with Browser(CaptureSettings(max_bytes=1_000)) as capped:
        with pytest.raises(PermanentCaptureError, match=r"too large: its 1024 px screenshot is over 1,000 bytes"):
            capped.capture(CaptureRequest(page_server.url("lazy-images.html"), [1024]))
