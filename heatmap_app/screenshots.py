"""Capturing a page the way the service does, for the worker and the `capture` CLI alike: settings
from the app config, the URL checked before the browser opens it, and every request the browser then
makes sent through the URL-safety guard proxy."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from heatmap_app.capture import BrowserPool, CaptureRequest, CaptureSettings, Shot
from heatmap_app.urlsafety import GuardProxy, check_url, parse_allow_hosts


def capture_settings(config: Mapping[str, Any]) -> CaptureSettings:
    return CaptureSettings(
        chrome_binary=config["CHROME_BINARY"],
        chromedriver_path=config["CHROMEDRIVER_PATH"],
        remote_url=config["SELENIUM_REMOTE_URL"],
        jpeg_quality=config["CAPTURE_JPEG_QUALITY"],
        max_height=config["CAPTURE_MAX_HEIGHT"],
    )


@dataclass(frozen=True)
class GuardedCapture:
    """What the engine needs to capture one URL behind the guard proxy."""

    url: str
    settings: CaptureSettings
    explain_navigation_failure: Callable[[str], str | None]


@contextmanager
def guarded_capture(config: Mapping[str, Any], url: str) -> Iterator[GuardedCapture]:
    """One capture with a browser of its own: check `url` (UnsafeURLError if refused), then run the guard
    proxy for as long as the capture lasts."""
    allow_hosts = parse_allow_hosts(config["CAPTURE_ALLOW_HOSTS"])
    checked_url = check_url(url, allow_hosts)
    with GuardProxy(allow_hosts) as guard:
        yield GuardedCapture(checked_url, replace(capture_settings(config), proxy_server=guard.url), guard.blocked_reason)


class WarmCapturer:
    """The worker's captures: one guard proxy and one warm browser behind it, kept across jobs.

    A warm browser saves the Chrome start of every job (bench/README.md: 3.4 s → 1.9 s a job); the pool
    replaces it after CAPTURE_BROWSER_RECYCLE_AFTER jobs and after any error.
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        self._allow_hosts = parse_allow_hosts(config["CAPTURE_ALLOW_HOSTS"])
        self._guard = GuardProxy(self._allow_hosts)
        self._guard.start()
        self._pool = BrowserPool(
            replace(capture_settings(config), proxy_server=self._guard.url),
            max_jobs=config["CAPTURE_BROWSER_RECYCLE_AFTER"],
        )

    def capture(
        self,
        request: CaptureRequest,
        *,
        on_shot: Callable[[Shot], None] | None = None,
    ) -> list[Shot]:
        """Capture the request at every width; raises UnsafeURLError or a CaptureError with a readable reason."""
        checked_url = check_url(request.url, self._allow_hosts)
        self._guard.forget()
        return self._pool.capture(
            replace(request, url=checked_url),
            on_shot=on_shot,
            explain_navigation_failure=self._guard.blocked_reason,
        )

    def close(self) -> None:
        self._pool.close()
        self._guard.stop()
