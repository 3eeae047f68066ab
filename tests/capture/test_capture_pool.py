"""A warm browser reused across jobs: reused while healthy, replaced when due, and forgetful between loads."""

from __future__ import annotations

import pytest

from heatmap_app.capture import BrowserPool, CaptureRequest, CaptureSettings, PermanentCaptureError
from tests.capture.pixels import GREEN, colour_at, looks_like
from tests.support.site import Site

pytestmark = pytest.mark.browser


def test_the_pool_reuses_its_browser_and_replaces_it_after_max_jobs(page_server: Site) -> None:
    with BrowserPool(CaptureSettings(), max_jobs=2) as pool:
        pool.capture(CaptureRequest(page_server.url("hero-100vh.html"), [1024]))
        first_browser = pool.process_group_id
        pool.capture(CaptureRequest(page_server.url("hero-100vh.html"), [1024]))
        assert pool.process_group_id is None, "closed after its second job"
        pool.capture(CaptureRequest(page_server.url("hero-100vh.html"), [1024]))
        assert pool.process_group_id not in (None, first_browser)


def test_the_pool_replaces_its_browser_after_an_error(page_server: Site) -> None:
    with BrowserPool(CaptureSettings()) as pool:
        pool.capture(CaptureRequest(page_server.url("hero-100vh.html"), [1024]))
        with pytest.raises(PermanentCaptureError):
            pool.capture(CaptureRequest(page_server.url("status/404"), [1024]))
        assert pool.process_group_id is None
        [shot] = pool.capture(CaptureRequest(page_server.url("hero-100vh.html"), [1024]))
        assert shot.page_height == 2000


def test_no_page_load_sees_cookies_or_storage_of_an_earlier_one(page_server: Site) -> None:
    url = page_server.url("remembers-visits.html")
    with BrowserPool(CaptureSettings()) as pool:
        first_job = pool.capture(CaptureRequest(url, [320, 1024]))
        second_job = pool.capture(CaptureRequest(url, [1024]))

    for shot in [*first_job, *second_job]:
        assert looks_like(colour_at(shot, 100, 100), GREEN), f"cookie remembered at {shot.width} px"
        assert looks_like(colour_at(shot, 100, 300), GREEN), f"localStorage remembered at {shot.width} px"
