"""One Chrome, local or on a Selenium Grid, that captures full-page JPEGs of a URL at several widths."""

from __future__ import annotations

import base64
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from importlib.resources import files
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chromium.remote_connection import ChromiumRemoteConnection
from urllib3.exceptions import HTTPError as DriverConnectionError

from .errors import PermanentCaptureError, TransientCaptureError
from .settings import CaptureSettings

logger = logging.getLogger(__name__)

CHROME_ARGUMENTS = (
    "--headless",
    "--no-sandbox",  # the service runs as root in its containers
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
)
# Below the cap, JPEG quality is lowered in these steps before a page counts as too large.
FALLBACK_JPEG_QUALITIES = (50, 35, 20)
LOAD_POLL_SECONDS = 0.05
LOAD_POLL_TIMEOUT_SECONDS = 1.0
ANDROID_PLATFORM = "(Linux; Android 10; K)"
# Watches the process that started the browser: once that is gone (even SIGKILLed, when no close() can
# run), it kills the browser's process group. $1: owner pid, $2: browser process group.
ORPHAN_WATCHDOG_SH = '''
while state=$(cut -d" " -f3 "/proc/$1/stat" 2>/dev/null) && [ "$state" != Z ] && kill -0 "-$2" 2>/dev/null
do sleep 1; done
kill -KILL "-$2" 2>/dev/null
'''

_SCRIPTS = files(__package__).joinpath("scripts")
TRACK_REQUESTS_JS = _SCRIPTS.joinpath("track_requests.js").read_text()
LOAD_STATE_JS = _SCRIPTS.joinpath("load_state.js").read_text()
PREPARE_SHOT_JS = _SCRIPTS.joinpath("prepare_shot.js").read_text()

AFTER_LOAD_JS = """
const urls = [location.href, ...performance.getEntriesByType('resource').map((entry) => entry.name)];
const origins = [...new Set(urls.filter((url) => /^https?:/.test(url)).map((url) => new URL(url).origin))];
return [origins, window.__heatmapRequests ? window.__heatmapRequests.failedUrls : []];
"""

ExplainNavigationFailure = Callable[[str], "str | None"]


@dataclass(frozen=True)
class Shot:
    width: int
    """CSS viewport width asked for; also the width of the JPEG."""
    height: int
    """Height of the JPEG in px, after the max_height cap."""
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

    A local Chrome runs under a chromedriver started in its own process group, with a fresh profile
    directory; close() kills that whole group and removes the profile on every exit path. Should this
    process die without closing it, a watchdog in the group kills the group within a second or two.
    """

    def __init__(self, settings: CaptureSettings | None = None) -> None:
        self.settings = settings or CaptureSettings()
        self._service: webdriver.ChromeService | None = None
        self._driver: webdriver.Remote | None = None
        self._user_data_dir: str | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._visited_origins: set[str] = set()
        try:
            self._driver = self._start_driver()
            self._user_agents = self._prepare_browser()
        except BaseException as error:
            self.close()
            if isinstance(error, (WebDriverException, DriverConnectionError, OSError)):
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
        if driver is not None:
            try:
                driver.quit()
            except Exception:
                logger.warning("chromedriver did not quit cleanly; killing its process group", exc_info=True)
        process_group_id = self.process_group_id
        if process_group_id is not None:
            # quit() leaves some Chrome helper processes behind, and a hung chromedriver never quits.
            try:
                os.killpg(process_group_id, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._service.process.wait()
        if self._watchdog is not None:
            # Its whole group: the shell and the `sleep` it may be waiting on.
            try:
                os.killpg(self._watchdog.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._watchdog.wait()
        if self._user_data_dir is not None:
            shutil.rmtree(self._user_data_dir, ignore_errors=True)

    def capture(
        self,
        url: str,
        widths: Sequence[int],
        *,
        block_consent_modals: bool = False,
        on_shot: Callable[[Shot], None] | None = None,
        explain_navigation_failure: ExplainNavigationFailure | None = None,
    ) -> list[Shot]:
        """Full-page JPEGs of `url`, one per width, in the order of `widths` (duplicates dropped).

        The page is loaded once for the phone widths and once for the others; each width re-lays
        the page out in place. `on_shot` receives every shot as soon as it is taken. Cookies, storage
        and cache are wiped before each load: every load is a first visit, whatever came before.
        After a TransientCaptureError the browser may be stuck: close it.
        """
        if self._driver is None:
            raise RuntimeError("capture() on a closed Browser")
        wanted = list(dict.fromkeys(widths))
        shots: dict[int, Shot] = {}
        failed_urls: list[str] = []
        try:
            for same_device_widths in self._widths_per_page_load(wanted):
                self._forget_earlier_visits()
                self._visited_origins.add(_origin(url))
                # A request that failed in this capture's first load would fail again, maybe slowly.
                self._cdp("Network.setBlockedURLs", {"urls": failed_urls})
                self._emulate_device(same_device_widths[0])
                self._load(url, explain_navigation_failure)
                scroll = True
                for width in same_device_widths:
                    shot, scroll = self._shoot(width, block_consent_modals, scroll)
                    # A page that moved itself on to a refused address shows the refusal: never keep that.
                    self._raise_if_blocked(explain_navigation_failure, *self._page_moved_to(url))
                    shots[width] = shot
                    if on_shot is not None:
                        on_shot(shot)
                origins, failed_urls = self._driver.execute_script(AFTER_LOAD_JS)
                self._visited_origins.update(origins)
        except TimeoutException as error:
            raise TransientCaptureError("The page kept the browser busy for too long") from error
        except (WebDriverException, DriverConnectionError, OSError) as error:
            raise TransientCaptureError(f"The browser failed while capturing the page: {_first_line(error)}") from error
        return [shots[width] for width in wanted]

    def _start_driver(self) -> webdriver.Remote:
        options = webdriver.ChromeOptions()
        # Our own bounded readiness wait replaces chromedriver's, which answers no command while a
        # navigation is pending.
        options.page_load_strategy = "none"
        for argument in CHROME_ARGUMENTS:
            options.add_argument(argument)
        if self.settings.proxy_server:
            options.add_argument(f"--proxy-server={self.settings.proxy_server}")
            # Chrome bypasses proxies for loopback unless told not to; the URL guard must see it all.
            options.add_argument("--proxy-bypass-list=<-loopback>")
            options.add_argument("--force-webrtc-ip-handling-policy=disable_non_proxied_udp")
        if self.settings.remote_url:
            executor = ChromiumRemoteConnection(self.settings.remote_url, vendor_prefix="goog", browser_name="chrome")
            return webdriver.Remote(command_executor=executor, options=options)

        os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must never try to download
        options.binary_location = self.settings.resolved_chrome_binary()
        self._user_data_dir = tempfile.mkdtemp(prefix="heatmap-chrome-")
        options.add_argument(f"--user-data-dir={self._user_data_dir}")
        self._service = webdriver.ChromeService(
            executable_path=self.settings.resolved_chromedriver_path(),
            popen_kw={"start_new_session": True},
        )
        driver = webdriver.Chrome(options=options, service=self._service)
        self._watchdog = subprocess.Popen(
            ["/bin/sh", "-c", ORPHAN_WATCHDOG_SH, "heatmap-browser-watchdog", str(os.getpid()), str(self.process_group_id)],
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return driver

    def _prepare_browser(self) -> _UserAgents:
        self._cdp("Network.enable")  # Network.setBlockedURLs has no effect without it
        self._cdp("Page.addScriptToEvaluateOnNewDocument", {"source": TRACK_REQUESTS_JS})
        self._cdp("Emulation.setScrollbarsHidden", {"hidden": True})
        user_agent, brands = self._driver.execute_script(
            "return [navigator.userAgent, navigator.userAgentData ? navigator.userAgentData.brands : []]"
        )
        return _user_agents(user_agent, brands)

    def _forget_earlier_visits(self) -> None:
        if not self._visited_origins:
            return
        # Cookies may also belong to hosts that left no resource entry, such as redirect hops.
        self._cdp("Network.clearBrowserCookies")
        self._cdp("Network.clearBrowserCache")
        for origin in self._visited_origins:
            self._cdp("Storage.clearDataForOrigin", {"origin": origin, "storageTypes": "all"})
        self._visited_origins.clear()

    def _cdp(self, command: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._driver.execute_cdp_cmd(command, params or {})

    def _widths_per_page_load(self, widths: list[int]) -> Iterator[list[int]]:
        phone_widths = [width for width in widths if self._is_phone(width)]
        other_widths = [width for width in widths if not self._is_phone(width)]
        yield from (group for group in (phone_widths, other_widths) if group)

    def _is_phone(self, width: int) -> bool:
        return width < self.settings.mobile_below_width

    def _emulate_device(self, width: int) -> None:
        phone = self._is_phone(width)
        self._set_viewport(width)
        if phone:
            self._cdp("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5})
        else:
            self._cdp("Emulation.setTouchEmulationEnabled", {"enabled": False})
        agents = self._user_agents
        self._cdp(
            "Emulation.setUserAgentOverride",
            {
                "userAgent": agents.mobile if phone else agents.desktop,
                "userAgentMetadata": agents.mobile_metadata if phone else agents.desktop_metadata,
            },
        )

    def _set_viewport(self, width: int) -> None:
        # Device metrics, never the window size: a window cannot go below ~500 px, and a window as
        # tall as the page would stretch every 100vh section.
        self._cdp(
            "Emulation.setDeviceMetricsOverride",
            {
                "width": width,
                "height": self.settings.viewport_height,
                "deviceScaleFactor": 1,
                "mobile": self._is_phone(width),
            },
        )

    def _load(self, url: str, explain_navigation_failure: ExplainNavigationFailure | None) -> None:
        settings = self.settings
        self._driver.set_script_timeout(settings.command_timeout)
        self._driver.execute_script("window.__heatmapPreviousDocument = true")
        self._driver.get(url)
        # Until the server answers, Chrome answers no command for the page: poll with short timeouts.
        self._driver.set_script_timeout(LOAD_POLL_TIMEOUT_SECONDS)

        parsed_by = time.monotonic() + settings.page_load_timeout
        state = self._poll_load_state(lambda s: not s["stale"] and s["readyState"] != "loading", parsed_by)
        if state is None or state["stale"] or state["failed"]:
            # Not asking the browser where it is: a navigation still pending answers no command.
            self._raise_if_blocked(explain_navigation_failure, url)
            if state is not None and state["failed"]:
                raise TransientCaptureError(f"The page could not be reached ({state['errorCode'] or 'network error'})")
            raise TransientCaptureError(f"The page did not answer within {settings.page_load_timeout:g} seconds")
        status = state["status"]
        if status and not 200 <= status < 300:
            self._raise_if_blocked(explain_navigation_failure, url, *self._page_moved_to(url))
            raise PermanentCaptureError(f"The page answered HTTP {_status_line(status)}")
        if state["readyState"] == "loading":
            # A script or stylesheet that never answers blocks the parser: take what has rendered.
            self._driver.execute_script("window.stop()")
            if not self._driver.execute_script("return document.body !== null"):
                raise TransientCaptureError(
                    f"The page did not finish loading within {settings.page_load_timeout:g} seconds"
                )
            return

        quiet = settings.network_quiet_period
        state = self._poll_load_state(
            lambda s: s["readyState"] == "complete" or (s["quietSeconds"] >= quiet and not s["imagesPending"]),
            time.monotonic() + settings.resources_timeout,
        )
        if state is None or state["readyState"] != "complete":
            # Only requests that hang or crawl are left; they must not hold the capture.
            self._driver.execute_script("window.stop()")

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

    def _poll_load_state(self, done: Callable[[dict[str, Any]], bool], deadline: float) -> dict[str, Any] | None:
        """The last load state seen by the deadline, or None if the page never answered."""
        state = None
        while time.monotonic() < deadline:
            try:
                state = self._driver.execute_script(LOAD_STATE_JS)
            except TimeoutException:
                continue
            if done(state):
                break
            time.sleep(LOAD_POLL_SECONDS)
        return state

    def _shoot(self, width: int, block_consent_modals: bool, scroll: bool) -> tuple[Shot, bool]:
        """The shot at `width`, and whether the next width needs the lazy-loading scroll again."""
        settings = self.settings
        self._set_viewport(width)
        self._driver.set_script_timeout(settings.command_timeout)
        page = self._driver.execute_async_script(
            PREPARE_SHOT_JS,
            {
                "maxHeight": settings.max_height,
                "timeoutMs": settings.resources_timeout * 1000,
                "quietMs": settings.network_quiet_period * 1000,
                "blockConsentModals": block_consent_modals,
                "scroll": scroll,
            },
        )
        if "error" in page:
            raise TransientCaptureError(f"The page could not be prepared for the screenshot: {page['error']}")
        # A phone page without a viewport meta tag is laid out wider than the screen and zoomed out
        # (scale < 1); the image shows it the way the phone does, `width` px wide.
        scale = page["scale"]
        page_height = round(page["pageHeight"] * scale)
        height = min(page_height, settings.max_height)
        shot = Shot(
            width=width,
            height=height,
            page_height=page_height,
            page_width=round(page["pageWidth"] * scale),
            jpeg=self._screenshot(width, height, scale),
        )
        return shot, page["scrollFetched"]

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


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def _first_line(error: BaseException) -> str:
    message = getattr(error, "msg", None) or str(error) or type(error).__name__
    return message.strip().splitlines()[0]

