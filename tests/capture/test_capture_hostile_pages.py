"""Pages that fight the browser: dialogs, downloads, self-navigation, loops and hangs are survived quickly, and
what the page caused fails for good (a PermanentCaptureError is not tried again)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from heatmap_app.capture import Browser, BrowserPool, CaptureRequest, CaptureSettings, PermanentCaptureError
from tests.capture.pixels import GREEN, colour_at, looks_like
from tests.capture.servers import Page, PagesServer

pytestmark = pytest.mark.browser

VIEWPORT = '<!doctype html><meta name="viewport" content="width=device-width">'
GREEN_PAGE = f'{VIEWPORT}<body style="margin:0;background:#00c000"><div style="height:1500px"></div>'
# A page navigating itself here is refused by Chrome itself (port 1 is unsafe), in an instant.
REFUSED_ADDRESS = "http://127.0.0.1:1/"
# Bytes that appear in no browser's own files: where they land, a download was written.
DOWNLOAD_MARKER = b"heatmap-download-marker-" * 40_000


def attachment(filename: str) -> Page:
    return Page(
        DOWNLOAD_MARKER,
        headers={"Content-Type": "application/octet-stream", "Content-Disposition": f"attachment; filename={filename}"},
    )


def files_holding_the_download(*folders: Path) -> list[Path]:
    found = []
    for folder in folders:
        for path in folder.rglob("*") if folder.exists() else ():
            try:
                if path.is_file() and (path.suffix == ".crdownload" or DOWNLOAD_MARKER[:48] in path.read_bytes()):
                    found.append(path)
            except OSError:
                continue  # a lock file or socket of the running browser
    return found


def test_dialogs_at_load_are_dismissed_and_the_page_is_captured(browser: Browser, pages: PagesServer) -> None:
    pages.pages["/"] = Page(
        f'{VIEWPORT}<body style="margin:0"><div style="height:1500px"></div><script>'
        "alert('hello'); const agreed = confirm('Are you sure?'); const answer = prompt('Your name?');"
        "document.body.style.background = agreed === false && answer === null ? '#00c000' : '#e00000';</script>"
    )

    [shot] = browser.capture(CaptureRequest(pages.url("/"), [1024]))

    assert looks_like(colour_at(shot, 500, 700), GREEN), "each dialog was answered as if dismissed"


def test_a_storm_of_dialogs_even_from_a_fresh_frame_does_not_hold_the_capture(
    browser: Browser, pages: PagesServer
) -> None:
    # A fresh frame's alert() is the browser's own, whatever the page did to its window's.
    pages.pages["/"] = Page(
        f"{GREEN_PAGE}<script>setInterval(() => alert('storm'), 0);"
        "const frame = document.body.appendChild(document.createElement('iframe'));"
        "setInterval(() => frame.contentWindow.alert('storm from a frame'), 0);</script>"
    )

    started = time.monotonic()
    phone, desktop = browser.capture(CaptureRequest(pages.url("/"), [375, 1024]))

    assert time.monotonic() - started < 15
    assert looks_like(colour_at(phone, 180, 700), GREEN)
    assert looks_like(colour_at(desktop, 500, 700), GREEN)


def test_a_url_that_is_a_download_fails_at_once_for_good_and_nothing_is_written(
    pages: PagesServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # Chrome's Downloads folder is ~/Downloads
    pages.pages["/report.pdf"] = attachment("report.pdf")

    with Browser(CaptureSettings(page_load_timeout=10)) as browser:
        started = time.monotonic()
        with pytest.raises(PermanentCaptureError, match=r"^The URL is a file download, not a page$"):
            browser.capture(CaptureRequest(pages.url("/report.pdf"), [1024]))
        assert time.monotonic() - started < 5, "failed as soon as the download began, not at the load timeout"
        assert "/report.pdf" in pages.requested
        assert files_holding_the_download(tmp_path, Path(browser.user_data_dir)) == []


def test_downloads_a_page_starts_itself_or_in_a_frame_are_denied_and_the_page_captured(
    pages: PagesServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("framed.bin", "linked.bin", "navigated.bin"):
        pages.pages[f"/{name}"] = attachment(name)
    pages.pages["/"] = Page(
        f'{GREEN_PAGE}<iframe src="/framed.bin"></iframe><a id="link" href="/linked.bin" download></a>'
        "<script>document.getElementById('link').click(); setTimeout(() => location.href = '/navigated.bin', 50);"
        "</script>"
    )

    with Browser(CaptureSettings()) as browser:
        phone, desktop = browser.capture(CaptureRequest(pages.url("/"), [375, 1024]))
        profile = Path(browser.user_data_dir)
        assert {"/framed.bin", "/linked.bin", "/navigated.bin"} <= set(pages.requested), "every download was tried"
        assert files_holding_the_download(tmp_path, profile) == []

    assert looks_like(colour_at(phone, 180, 700), GREEN)
    assert looks_like(colour_at(desktop, 500, 700), GREEN)


def test_a_redirect_loop_fails_for_good(browser: Browser, pages: PagesServer) -> None:
    pages.pages["/loop"] = Page("", status=302, headers={"Location": "/loop"})

    with pytest.raises(PermanentCaptureError, match=r"^The page redirects in a loop \(ERR_TOO_MANY_REDIRECTS\)$"):
        browser.capture(CaptureRequest(pages.url("/loop"), [1024]))


@pytest.mark.parametrize("trigger", ["scroll", "resize", "timer"])
def test_a_page_that_navigates_to_a_refused_address_while_being_shot_is_captured_as_it_loaded(
    pages: PagesServer, trigger: str
) -> None:
    # Once loaded, it leaves when the engine scrolls it for lazy content, resizes it for the next
    # width, or at one of several moments: each a moment when the engine waits on the browser.
    set_off = {
        "scroll": "addEventListener('scroll', go, { once: true })",
        "resize": "addEventListener('resize', () => innerWidth > 800 && go())",
        "timer": "[500, 800, 1100, 1400, 1700].forEach((ms) => setTimeout(go, ms))",
    }[trigger]
    pages.pages["/"] = Page(
        f"{GREEN_PAGE}<script>const go = () => location.replace('{REFUSED_ADDRESS}');"
        f"addEventListener('load', () => {set_off});</script>"
    )

    with BrowserPool(CaptureSettings()) as pool:
        started = time.monotonic()
        shots = pool.capture(CaptureRequest(pages.url("/"), [375, 768, 1024, 1440]))
        elapsed = time.monotonic() - started

    assert elapsed < 20
    assert [shot.page_height for shot in shots] == [1500] * 4
    assert all(looks_like(colour_at(shot, shot.width // 2, 1400), GREEN) for shot in shots)


@pytest.mark.parametrize("when", ["while it is parsed", "at its load event"])
def test_a_page_that_moves_itself_on_to_a_refused_address_while_loading_fails_for_good_saying_so(
    browser: Browser, pages: PagesServer, when: str
) -> None:
    go = f"location.replace('{REFUSED_ADDRESS}')"
    script = go if when == "while it is parsed" else f"addEventListener('load', () => {go})"
    pages.pages["/"] = Page(f"{GREEN_PAGE}<script>{script}</script>")

    # Never Chrome's error page taken for the page, whether the engine sees it while loading or shooting.
    with pytest.raises(
        PermanentCaptureError, match=r"^The page moved on to an address that could not be loaded \(ERR_UNSAFE_PORT\)$"
    ):
        browser.capture(CaptureRequest(pages.url("/"), [375, 1024]))


def test_a_page_whose_script_never_ends_fails_for_good_within_the_load_timeout(pages: PagesServer) -> None:
    pages.pages["/"] = Page(f"{GREEN_PAGE}<script>for (;;) {{}}</script>")

    with Browser(CaptureSettings(page_load_timeout=3)) as browser:
        started = time.monotonic()
        with pytest.raises(PermanentCaptureError, match=r"^The page kept the browser busy for too long$"):
            browser.capture(CaptureRequest(pages.url("/"), [1024]))
        assert time.monotonic() - started < 3 + 5


def test_a_page_that_hangs_the_browser_while_being_shot_fails_for_good_and_the_browser_ends_at_once(
    pages: PagesServer,
) -> None:
    pages.pages["/"] = Page(f"{GREEN_PAGE}<script>addEventListener('scroll', () => {{ for (;;) {{}} }});</script>")
    browser = Browser(CaptureSettings(command_timeout=3))
    try:
        started = time.monotonic()
        with pytest.raises(PermanentCaptureError, match=r"^The page kept the browser busy for too long$"):
            browser.capture(CaptureRequest(pages.url("/"), [1024]))
        assert time.monotonic() - started < 3 + 10
    finally:
        closing = time.monotonic()
        browser.close()
    assert time.monotonic() - closing < 3


def test_resource_urls_the_engine_cannot_parse_do_not_fail_the_capture(browser: Browser, pages: PagesServer) -> None:
    # Chrome lists these in the page's resource timings although no URL parser accepts them.
    pages.pages["/"] = Page(
        f'{GREEN_PAGE}<img src="http://127.0.0.1:99999/port.png"><img src="http://[fe80::1%25lo]/zone.png">'
        '<link rel="stylesheet" href="http://user:secret@127.0.0.1:99999/style.css">'
    )

    phone, desktop = browser.capture(CaptureRequest(pages.url("/"), [375, 1024]))

    assert looks_like(colour_at(phone, 180, 700), GREEN)
    assert looks_like(colour_at(desktop, 500, 700), GREEN)
