"""One Chrome, local or on a Selenium Grid, that captures full-page JPEGs of a URL at several widths."""

from __future__ import annotations

import base64
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from importlib.resources import files
from types import TracebackType
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chromium.remote_connection import ChromiumRemoteConnection
from selenium.webdriver.remote.client_config import ClientConfig
from urllib3.exceptions import HTTPError as DriverConnectionError
from urllib3.exceptions import TimeoutError as DriverTimeoutError
from urllib3.util import Retry

from .chrome import chrome_options, context_proxy, new_profile_directory, remove_stale_profiles
from .controls import hide_elements, wait_before_first_shot
from .credentials import cookie_params, origin_headers
from .devtools import DevTools, DevToolsError
from .errors import PermanentCaptureError, TransientCaptureError
from .request import CaptureRequest
from .settings import CaptureSettings
from .walls import raise_if_walled

logger = logging.getLogger(__name__)

# Below the cap, JPEG quality is lowered in these steps before a page counts as too large.
FALLBACK_JPEG_QUALITIES = (50, 35, 20)
LOAD_POLL_SECONDS = 0.05
LOAD_POLL_TIMEOUT_SECONDS = 1.0
# chromedriver's own answer to a script over its timeout must arrive before our read of it gives up.
DRIVER_GRACE_SECONDS = 5.0
# Starting Chrome takes seconds more on a loaded machine than any command may.
BROWSER_START_TIMEOUT_SECONDS = 60.0
# SIGKILLed processes end within milliseconds; a machine whose init reaps no orphan is not waited on longer.
KILLED_GROUP_WAIT_SECONDS = 2.0
# A Grid's session is ended politely, but never waited on for long.
REMOTE_QUIT_TIMEOUT_SECONDS = 10.0
MAX_FAILED_URLS_KEPT = 200
ANDROID_PLATFORM = "(Linux; Android 10; K)"
# Network errors that trying again will not mend: the URL or the server's answer is at fault.
PAGE_NETWORK_ERRORS = {
    "ERR_TOO_MANY_REDIRECTS": "The page redirects in a loop",
    "ERR_UNSAFE_REDIRECT": "The page redirects to an address a browser may not follow",
    "ERR_INVALID_REDIRECT": "The page redirects to an invalid address",
    "ERR_UNSAFE_PORT": "The URL's port is one browsers refuse to connect to",
    "ERR_INVALID_URL": "The URL is not valid",
    "ERR_INVALID_RESPONSE": "The server's answer is not a valid page",
    "ERR_INVALID_HTTP_RESPONSE": "The server's answer is not valid HTTP",
    "ERR_CONTENT_DECODING_FAILED": "The server's answer could not be decoded",
    "ERR_RESPONSE_HEADERS_TOO_BIG": "The server's answer has headers too large to read",
    "ERR_RESPONSE_HEADERS_MULTIPLE_LOCATION": "The server's answer has several redirect locations",
    "ERR_RESPONSE_HEADERS_MULTIPLE_CONTENT_DISPOSITION": "The server's answer is malformed",
    "ERR_RESPONSE_HEADERS_MULTIPLE_CONTENT_LENGTH": "The server's answer is malformed",
    "ERR_BLOCKED_BY_RESPONSE": "The server forbids showing the page here",
}
# Watches the process that started the browser: once that is gone (even SIGKILLed, when no close() can
# run), it kills the browser's process group and removes its profile. $1: owner pid, $2: browser
# process group; $PROFILE: the profile folder (not an argument: only Chrome's command lines name it).
ORPHAN_WATCHDOG_SH = '''
while state=$(cut -d" " -f3 "/proc/$1/stat" 2>/dev/null) && [ "$state" != Z ] && kill -0 "-$2" 2>/dev/null
do sleep 1; done
kill -KILL "-$2" 2>/dev/null
rm -rf -- "$PROFILE"
'''

_SCRIPTS = files(__package__).joinpath("scripts")
# Both run in every frame of every page load before the page's own scripts.
NEW_DOCUMENT_JS = "\n".join(_SCRIPTS.joinpath(name).read_text() for name in ("track_requests.js", "quiet_page.js"))
LOAD_STATE_JS = _SCRIPTS.joinpath("load_state.js").read_text()
PREPARE_SHOT_JS = _SCRIPTS.joinpath("prepare_shot.js").read_text()
# Returns once the page was laid out and painted at its new size (at most 100 ms: a page may paint no frames).
AFTER_LAYOUT_JS = """const done = arguments[0]; setTimeout(done, 100);
requestAnimationFrame(() => requestAnimationFrame(() => done()));"""

ExplainNavigationFailure = Callable[[str], "str | None"]


@dataclass(frozen=True)
class Shot:
    width: int
    """CSS viewport width asked for; the JPEG is this many pixels wide times the device scale factor."""
    height: int
    """Height in CSS px, after the max_height cap (in device pixels); the JPEG's times the scale factor."""
    page_height: int
    """Full page height measured, before the cap."""
    jpeg: bytes
    page_width: int | None = None
    """Full page width measured; wider than `width` when the page overflows sideways."""


@dataclass(frozen=True)
class _UserAgents:
    desktop: str
    desktop_metadata: dict[str, Any]
    mobile: str
    mobile_metadata: dict[str, Any]


class Browser:
    """A headless Chrome kept for one or more captures; close() (or the with-block) ends it.

    Every page load runs in a browser context of its own (cookies, storage, cache, service workers,
    popups, timers), behind `settings.proxy_server`, and ended with the load: nothing of one load, or of
    one customer's page, reaches the next. What the browser does on its own goes to a proxy address that
    refuses it (see chrome.py for the switches and preferences).

    A local Chrome runs under a chromedriver started in its own process group, with a fresh profile
    folder; close() kills that whole group and removes the profile on every exit path, without waiting
    on a browser a page may have hung. Should this process die without closing it, a watchdog
    kills the group and removes the profile within a second or two; profiles of owners that died with
    their watchdog are removed when the next Browser starts.
    """

    def __init__(self, settings: CaptureSettings | None = None) -> None:
        self.settings = settings or CaptureSettings()
        self._service: webdriver.ChromeService | None = None
        self._driver: webdriver.Remote | None = None
        self._devtools: DevTools | None = None
        self._user_data_dir: str | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._spare_tab: tuple[str, int] | None = None  # (browser context, Target.createTarget sent)
        self._contexts_ending: list[int] = []  # Target.disposeBrowserContext sent, not yet answered
        # The browser's own traffic (updates, sign-in, its start tab) goes to this address, bound
        # and never listening: refused at once, it reaches neither the guard nor the network.
        self._refusing_proxy = socket.socket()
        self._refusing_proxy.bind(("127.0.0.1", 0))
        try:
            self._driver = self._start_driver()
            self._devtools = DevTools.of_driver(self._driver.capabilities, self.settings.command_timeout)
            self._home_window, self._user_agents = self._prepare_browser()
        except BaseException as error:
            self.close()
            if isinstance(error, (WebDriverException, DriverConnectionError, DevToolsError, OSError)):
                raise TransientCaptureError(f"The capture browser could not be started: {_first_line(error)}") from error
            raise

    @property
    def process_group_id(self) -> int | None:
        """Process group of chromedriver and every Chrome process it started (None on a Grid).

        A supervisor that outlives this process can end the browser with os.killpg(id, SIGKILL).
        """
        # Service sets `process` only once it has started chromedriver.
        process = getattr(self._service, "process", None)
        return process.pid if process is not None else None

    @property
    def user_data_dir(self) -> str | None:
        return self._user_data_dir

    def __enter__(self) -> Browser:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        driver, self._driver = self._driver, None
        devtools, self._devtools = self._devtools, None
        process_group_id = self.process_group_id
        if process_group_id is not None:
            # Never quit(): a page can hang chromedriver's answer for minutes. Nothing of a local
            # browser is worth keeping, so the whole group goes at once.
            try:
                os.killpg(process_group_id, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._service.process.wait()
            _wait_until_group_ends(process_group_id, KILLED_GROUP_WAIT_SECONDS)
        elif driver is not None:
            driver.command_executor.client_config.timeout = REMOTE_QUIT_TIMEOUT_SECONDS
            try:
                driver.quit()
            except Exception:
                logger.warning("the remote browser did not quit cleanly", exc_info=True)
        if devtools is not None:
            devtools.close()
        if self._watchdog is not None:
            # Its whole group: the shell and the `sleep` it may be waiting on.
            try:
                os.killpg(self._watchdog.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._watchdog.wait()
        if self._user_data_dir is not None:
            shutil.rmtree(self._user_data_dir, ignore_errors=True)
        self._refusing_proxy.close()

    def capture(
        self,
        request: CaptureRequest,
        *,
        on_shot: Callable[[Shot], None] | None = None,
        explain_navigation_failure: ExplainNavigationFailure | None = None,
    ) -> list[Shot]:
        """Full-page JPEGs of `request.url`, one per width, in the order of `request.widths`.

        The page is loaded once for the phone widths and once for the others, each time in a browser
        context of its own: every load is a first visit, whatever came before. Each width re-lays the
        page out in place. `on_shot` receives every shot as soon as it is taken. After a
        TransientCaptureError, or a PermanentCaptureError saying the page kept the browser busy, the
        browser may be stuck: close it.
        """
        if self._driver is None:
            raise RuntimeError("capture() on a closed Browser")
        url, wanted = request.url, list(request.widths)
        shots: dict[int, Shot] = {}
        hung_urls: list[str] = []
        try:
            self._close_stray_targets()
            for same_device_widths in self._widths_per_page_load(wanted):
                with self._fresh_tab(hung_urls) as tab, self._origin_credentials(tab, request):
                    self._emulate_device(same_device_widths[0], request.device_scale_factor)
                    self._load(url, tab, explain_navigation_failure)
                    raise_if_walled(self._driver, url, None)
                    wait_before_first_shot(self._driver, request)
                    scroll, previous_scale = True, None
                    for width in same_device_widths:
                        shot, page = self._shoot(width, request, scroll, previous_scale)
                        scroll, previous_scale = page["scrollFetched"], page["scale"]
                        # A page that moved itself on to a refused address shows the refusal: never keep that.
                        if page["url"] != url:
                            self._raise_if_blocked(explain_navigation_failure, page["url"])
                        shots[width] = shot
                        if on_shot is not None:
                            on_shot(shot)
                    # A request that hung in this capture's first load would hang again.
                    hung_urls = _urls_only(page["hungUrls"])
        except (TimeoutException, DriverTimeoutError) as error:
            raise PermanentCaptureError("The page kept the browser busy for too long") from error
        except (WebDriverException, DriverConnectionError, DevToolsError, OSError) as error:
            raise TransientCaptureError(f"The browser failed while capturing the page: {_first_line(error)}") from error
        return [shots[width] for width in wanted]

    def _start_driver(self) -> webdriver.Remote:
        refusing_host, refusing_port = self._refusing_proxy.getsockname()
        refusing_proxy = f"http://{refusing_host}:{refusing_port}"
        options = chrome_options(
            refusing_proxy, self.settings.proxy_server, command_timeout=self.settings.command_timeout
        )
        if self.settings.remote_url:
            return self._connect(self.settings.remote_url, options)

        remove_stale_profiles()
        os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must never try to download
        options.binary_location = self.settings.resolved_chrome_binary()
        self._user_data_dir = new_profile_directory()
        options.add_argument(f"--user-data-dir={self._user_data_dir}")
        # chromedriver's and Chrome's temporary folders (a singleton socket, copies of extensions) go
        # into the profile as well: a killed browser leaves none of them in the machine's temp folder.
        temporary_folder = os.path.join(self._user_data_dir, "tmp")
        os.mkdir(temporary_folder)
        self._service = webdriver.ChromeService(
            executable_path=self.settings.resolved_chromedriver_path(),
            env={**os.environ, "TMPDIR": temporary_folder},
            popen_kw={"start_new_session": True},
        )
        self._service.start()
        self._watchdog = subprocess.Popen(
            ["/bin/sh", "-c", ORPHAN_WATCHDOG_SH, "heatmap-browser-watchdog"]
            + [str(os.getpid()), str(self.process_group_id)],
            env={"PATH": os.environ.get("PATH", os.defpath), "PROFILE": self._user_data_dir},
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return self._connect(self._service.service_url, options)

    def _connect(self, url: str, options: webdriver.ChromeOptions) -> webdriver.Remote:
        # A command that timed out is never sent again: its second wait would be as long as its first.
        no_second_wait = {"init_args_for_pool_manager": {"retries": Retry(total=3, read=False)}}
        client_config = ClientConfig(
            url, keep_alive=True, timeout=BROWSER_START_TIMEOUT_SECONDS, init_args_for_pool_manager=no_second_wait
        )
        executor = ChromiumRemoteConnection(url, "goog", "chrome", client_config=client_config)
        driver = webdriver.Remote(command_executor=executor, options=options)
        # Every command is bounded: a page can hold chromedriver's answer (a screenshot while it
        # navigates, say) far longer than any capture may take.
        client_config.timeout = self.settings.command_timeout + DRIVER_GRACE_SECONDS
        return driver

    def _prepare_browser(self) -> tuple[str, _UserAgents]:
        home_window = self._driver.current_window_handle
        # The tab chromedriver opened stays, blank, so that the browser never runs out of windows.
        self._driver.get("about:blank")
        self._devtools.call("Browser.setDownloadBehavior", {"behavior": "deny"})
        user_agent, brands = self._driver.execute_script(
            "return [navigator.userAgent, navigator.userAgentData ? navigator.userAgentData.brands : []]"
        )
        self._open_spare_tab()
        return home_window, _user_agents(user_agent, brands)

    @contextmanager
    def _fresh_tab(self, blocked_urls: list[str]) -> Iterator[str]:
        """A new tab in a browser context of its own, driven until the block ends and then discarded."""
        if self._spare_tab is None:
            self._open_spare_tab()
        context, opening = self._spare_tab
        self._spare_tab = None
        try:
            tab = self._devtools.result(opening)["targetId"]
            self._driver.switch_to.window(tab)
            if blocked_urls:
                self._cdp("Network.enable")  # Network.setBlockedURLs has no effect without it
                self._cdp("Network.setBlockedURLs", {"urls": blocked_urls})
            self._cdp("Page.addScriptToEvaluateOnNewDocument", {"source": NEW_DOCUMENT_JS})
            self._cdp("Emulation.setScrollbarsHidden", {"hidden": True})
            yield tab
        except BaseException:
            # The capture's own failure is what the user is told; a tab that would not end is closed
            # with the whole browser.
            try:
                self._devtools.call("Target.disposeBrowserContext", {"browserContextId": context})
            except DevToolsError:
                logger.warning("a failed capture's browser context could not be ended", exc_info=True)
            raise
        # Answered while the worker stores the shots; the next capture starts only once it is.
        self._contexts_ending.append(self._devtools.send("Target.disposeBrowserContext", {"browserContextId": context}))

    def _open_spare_tab(self) -> None:
        """Start opening the next load's tab, in a context of its own: Chrome does it while this load runs.

        It loads nothing until its turn, and no page can reach it: a context shares nothing with another.
        """
        context = self._devtools.call(
            "Target.createBrowserContext", {"disposeOnDetach": True, **context_proxy(self.settings.proxy_server)}
        )["browserContextId"]
        self._devtools.call(
            "Browser.setDownloadBehavior", {"behavior": "deny", "browserContextId": context, "eventsEnabled": True}
        )
        opening = self._devtools.send("Target.createTarget", {"url": "about:blank", "browserContextId": context})
        self._spare_tab = (context, opening)

    def _close_stray_targets(self) -> None:
        """Close every page or window but the blank home tab and the spare one: no earlier job's may run on."""
        while self._contexts_ending:
            self._devtools.result(self._contexts_ending.pop())
        spare_context = self._spare_tab[0] if self._spare_tab else None
        for target in self._devtools.call("Target.getTargets")["targetInfos"]:
            ours = target["targetId"] == self._home_window or target.get("browserContextId") == spare_context
            if target["type"] in ("page", "tab") and not ours:
                self._devtools.call("Target.closeTarget", {"targetId": target["targetId"]})

    def _cdp(self, command: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._driver.execute_cdp_cmd(command, params or {})

    def _widths_per_page_load(self, widths: list[int]) -> Iterator[list[int]]:
        phone_widths = [width for width in widths if self._is_phone(width)]
        other_widths = [width for width in widths if not self._is_phone(width)]
        yield from (group for group in (phone_widths, other_widths) if group)

    def _is_phone(self, width: int) -> bool:
        return width < self.settings.mobile_below_width

    @contextmanager
    def _origin_credentials(self, tab: str, request: CaptureRequest) -> Iterator[None]:
        """The request's cookies and headers for the page's origin alone, set up before the page loads."""
        if request.cookies:
            self._cdp("Network.setCookies", {"cookies": cookie_params(request)})
        with origin_headers(self._devtools.url, tab, request, self.settings.command_timeout):
            yield

    def _emulate_device(self, width: int, scale_factor: int) -> None:
        phone = self._is_phone(width)
        self._set_viewport(width, scale_factor)
        if phone:
            self._cdp("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5})
        agents = self._user_agents
        self._cdp(
            "Emulation.setUserAgentOverride",
            {
                "userAgent": agents.mobile if phone else agents.desktop,
                "userAgentMetadata": agents.mobile_metadata if phone else agents.desktop_metadata,
            },
        )

    def _set_viewport(self, width: int, scale_factor: int) -> None:
        # Device metrics, never the window size: a window cannot go below ~500 px, and a window as
        # tall as the page would stretch every 100vh section.
        self._cdp(
            "Emulation.setDeviceMetricsOverride",
            {
                "width": width,
                "height": self.settings.viewport_height,
                "deviceScaleFactor": scale_factor,
                "mobile": self._is_phone(width),
            },
        )

    def _load(self, url: str, tab: str, explain_navigation_failure: ExplainNavigationFailure | None) -> None:
        settings = self.settings
        self._driver.get(url)
        # The browser opens the next load's tab while it waits on this page's server.
        self._open_spare_tab()
        # Until the server answers, Chrome answers no command for the page: poll with short timeouts.
        self._driver.set_script_timeout(LOAD_POLL_TIMEOUT_SECONDS)

        parsed_by = time.monotonic() + settings.page_load_timeout
        state = self._poll_load_state(
            lambda s: not s["stale"] and s["readyState"] != "loading", parsed_by, download_ends_load_in=tab
        )
        if state is None and self._committed_a_document():
            # The server answered; the page has one last chance to answer too.
            state = self._poll_load_state(lambda s: True, time.monotonic() + LOAD_POLL_TIMEOUT_SECONDS)
            if state is None:
                raise PermanentCaptureError("The page kept the browser busy for too long")
        if state is None or state["stale"] or state["failed"]:
            # Not asking the browser where it is: a navigation still pending answers no command.
            self._raise_if_blocked(explain_navigation_failure, url)
            if state is not None and state["failed"]:
                if explain_navigation_failure:
                    # A failed load is pending no more: where it got to explains an https redirect the guard
                    # could only refuse, not see.
                    self._raise_if_blocked(explain_navigation_failure, *self._page_moved_to(url))
                self._raise_load_failure(url, state["errorCode"] or "network error")
            raise TransientCaptureError(f"The page did not answer within {settings.page_load_timeout:g} seconds")
        status = state["status"]
        if status and not 200 <= status < 300:
            self._raise_if_blocked(explain_navigation_failure, url, *self._page_moved_to(url))
            raise_if_walled(self._driver, url, status)
            raise PermanentCaptureError(f"The page answered HTTP {_status_line(status)}")
        if state["readyState"] == "loading":
            # A script or stylesheet that never answers blocks the parser: take what has rendered.
            self._driver.execute_script("window.stop()")
            if not self._driver.execute_script("return document.body !== null"):
                raise TransientCaptureError(
                    f"The page did not finish loading within {settings.page_load_timeout:g} seconds"
                )
        else:
            quiet = settings.network_quiet_period
            state = self._poll_load_state(
                lambda s: s["readyState"] == "complete" or (s["quietSeconds"] >= quiet and not s["imagesPending"]),
                time.monotonic() + settings.resources_timeout,
            )
            if state is None or state["readyState"] != "complete":
                # Only requests that hang or crawl are left; they must not hold the capture.
                self._driver.execute_script("window.stop()")
        self._driver.set_script_timeout(settings.command_timeout)

    def _raise_load_failure(self, url: str, error_code: str) -> None:
        error = PermanentCaptureError if error_code in PAGE_NETWORK_ERRORS else TransientCaptureError
        if self._page_moved_to(url):
            raise error(f"The page moved on to an address that could not be loaded ({error_code})")
        if error_code in PAGE_NETWORK_ERRORS:
            raise error(f"{PAGE_NETWORK_ERRORS[error_code]} ({error_code})")
        raise error(f"The page could not be reached ({error_code})")

    @staticmethod
    def _raise_if_blocked(explain_navigation_failure: ExplainNavigationFailure | None, *urls: str) -> None:
        """Fail with the guard's reason if the navigation to any of `urls` was refused."""
        for url in urls if explain_navigation_failure else ():
            reason = explain_navigation_failure(url)
            if reason:
                raise PermanentCaptureError(f"Blocked: {reason}")

    def _page_moved_to(self, url: str) -> tuple[str, ...]:
        """Where the page sent the browser after `url` (redirect, meta refresh, script), if anywhere."""
        current_url = self._driver.current_url
        return (current_url,) if current_url != url else ()

    def _poll_load_state(
        self, done: Callable[[dict[str, Any]], bool], deadline: float, *, download_ends_load_in: str | None = None
    ) -> dict[str, Any] | None:
        """The last load state seen by the deadline, or None if the page never answered.

        With `download_ends_load_in` (a tab), a download that the tab's navigation turned into fails
        the capture at once (one the page starts later is denied, and the page captured).
        """
        state = None
        while time.monotonic() < deadline:
            if download_ends_load_in and self._navigation_became_download(download_ends_load_in):
                raise PermanentCaptureError("The URL is a file download, not a page")
            try:
                state = self._driver.execute_script(LOAD_STATE_JS)
            except TimeoutException:
                continue
            if done(state):
                break
            time.sleep(LOAD_POLL_SECONDS)
        return state

    def _navigation_became_download(self, tab: str) -> bool:
        """Whether the tab's main frame (which has the tab's id) began a download before any page showed in it."""
        downloads = self._devtools.take_events("Browser.downloadWillBegin")
        return any(event["frameId"] == tab for event in downloads) and not self._committed_a_document()

    def _committed_a_document(self) -> bool:
        """Whether the tab shows a document of the page: a page that answers no script then holds the renderer.

        (While the server has not answered, the tab's blank document answers no script either.)
        """
        return self._cdp("Page.getNavigationHistory")["currentIndex"] > 0

    def _shoot(
        self, width: int, request: CaptureRequest, scroll: bool, previous_scale: float | None
    ) -> tuple[Shot, dict[str, Any]]:
        """The shot at `width` (`previous_scale`: the page's zoom at the width before, None for a fresh load),
        and what PREPARE_SHOT_JS found: the page's URL, the requests that hung, whether the next width needs
        the lazy-loading scroll again (`scrollFetched`)."""
        settings = self.settings
        # Chrome's limit on one capture is in device pixels.
        max_height = settings.max_height // request.device_scale_factor
        self._set_viewport(width, request.device_scale_factor)
        if self._is_phone(width) and previous_scale is not None and previous_scale < 1:
            # New device metrics keep the zoom of the last width: a page zoomed out to fit a narrower phone
            # would keep that zoom (too tall, its right side cut). A fresh load's zoom is the initial one,
            # which Chrome computes from the layout at the new width: reset it once that is laid out. (A page
            # not zoomed at the narrower width is not at a wider one; there Chrome's reset would zoom it in.)
            self._driver.execute_async_script(AFTER_LAYOUT_JS)
            self._cdp("Emulation.resetPageScaleFactor")
        hide_elements(self._driver, request)
        page = self._driver.execute_async_script(
            PREPARE_SHOT_JS,
            {
                "maxHeight": max_height,
                "timeoutMs": settings.resources_timeout * 1000,
                "quietMs": settings.network_quiet_period * 1000,
                "blockConsentModals": request.block_consent_modals,
                "scroll": scroll,
                "resized": previous_scale is not None,
            },
        )
        if "error" in page:
            raise TransientCaptureError(f"The page could not be prepared for the screenshot: {page['error']}")
        # A phone page without a viewport meta tag is laid out wider than the screen and zoomed out
        # (scale < 1); the image shows it the way the phone does, `width` px wide.
        scale = page["scale"]
        page_height = round(page["pageHeight"] * scale)
        height = min(page_height, max_height)
        shot = Shot(
            width=width,
            height=height,
            page_height=page_height,
            page_width=round(page["pageWidth"] * scale),
            jpeg=self._screenshot(width, height, scale),
        )
        return shot, page

    def _screenshot(self, width: int, height: int, scale: float) -> bytes:
        settings = self.settings
        qualities = [settings.jpeg_quality, *(q for q in FALLBACK_JPEG_QUALITIES if q < settings.jpeg_quality)]
        for quality in qualities:
            # captureBeyondViewport renders the clip in one piece while the layout viewport stays
            # viewport_height tall: 100vh keeps its height and fixed headers appear once.
            result = self._cdp(
                "Page.captureScreenshot",
                {
                    "format": "jpeg",
                    "quality": quality,
                    "clip": {"x": 0, "y": 0, "width": width / scale, "height": height / scale, "scale": scale},
                    "captureBeyondViewport": True,
                },
            )
            jpeg = base64.b64decode(result["data"])
            if len(jpeg) <= settings.max_bytes:
                return jpeg
        raise PermanentCaptureError(
            f"The page is too large: its {width} px screenshot is over {settings.max_bytes:,} bytes "
            f"even at JPEG quality {qualities[-1]}"
        )


def _wait_until_group_ends(process_group_id: int, seconds: float) -> None:
    """Return once no process of the group runs any more (zombies aside), or after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and _group_has_live_process(process_group_id):
        time.sleep(0.01)


def _group_has_live_process(process_group_id: int) -> bool:
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat_file:
                stat = stat_file.read()
        except OSError:
            continue
        # After the command name, which may hold spaces: state, parent pid, process group.
        state, _, group = stat[stat.rindex(")") + 2 :].split()[:3]
        if int(group) == process_group_id and state != "Z":
            return True
    return False


def _user_agents(headless_user_agent: str, headless_brands: list[dict[str, str]]) -> _UserAgents:
    # Some sites refuse or simplify pages for "HeadlessChrome"; present the browser as plain Chrome.
    desktop = headless_user_agent.replace("HeadlessChrome/", "Chrome/")
    mobile = re.sub(r"\([^)]*\)", ANDROID_PLATFORM, desktop, count=1).replace(" Safari/", " Mobile Safari/")
    brands = [brand for brand in headless_brands if brand["brand"] != "HeadlessChrome"]
    metadata = {"brands": brands, "architecture": "", "model": "", "platformVersion": ""}
    return _UserAgents(
        desktop=desktop,
        desktop_metadata={**metadata, "platform": "Linux", "mobile": False},
        mobile=mobile,
        mobile_metadata={**metadata, "platform": "Android", "platformVersion": "10", "model": "K", "mobile": True},
    )


def _urls_only(value: Any) -> list[str]:
    """The page's own code can fill the list the engine reads back: keep what can be a URL, and not too much."""
    return [url for url in value if isinstance(url, str)][:MAX_FAILED_URLS_KEPT] if isinstance(value, list) else []


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def _first_line(error: BaseException) -> str:
    message = getattr(error, "msg", None) or str(error) or type(error).__name__
    return message.strip().splitlines()[0]

