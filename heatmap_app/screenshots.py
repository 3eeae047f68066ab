"""Capturing a page the way the service does, for the worker and the `capture` CLI alike: settings
from the app config, the URL checked before the browser opens it, and every request the browser then
makes sent through the URL-safety guard proxy."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from heatmap_app.capture import BrowserPool, CaptureRequest, CaptureSettings, Shot
from heatmap_app.metrics import BROWSER_RECYCLES, GUARD_REFUSALS
from heatmap_app.urlsafety import GuardProxy, check_url, parse_allow_hosts, parse_guard_clients


def capture_settings(config: Mapping[str, Any]) -> CaptureSettings:
    return CaptureSettings(
        chrome_binary=config["CHROME_BINARY"],
        chromedriver_path=config["CHROMEDRIVER_PATH"],
        remote_url=config["SELENIUM_REMOTE_URL"],
        jpeg_quality=config["CAPTURE_JPEG_QUALITY"],
        max_height=config["CAPTURE_MAX_HEIGHT"],
    )


def guard_proxy(config: Mapping[str, Any]) -> GuardProxy:
    """The URL guard as configured: where it listens, what the browser is told, who may use it."""
    return GuardProxy(
        parse_allow_hosts(config["CAPTURE_ALLOW_HOSTS"]),
        bind_host=config["CAPTURE_GUARD_BIND"],
        advertise_host=config["CAPTURE_GUARD_ADVERTISE"],
        clients=parse_guard_clients(config["CAPTURE_GUARD_CLIENTS"]),
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
    checked_url = check_url(url, parse_allow_hosts(config["CAPTURE_ALLOW_HOSTS"]))
    with guard_proxy(config) as guard:
        yield GuardedCapture(checked_url, replace(capture_settings(config), proxy_server=guard.url), guard.blocked_reason)


class WarmCapturer:
    """The worker's captures: one guard proxy and one warm browser behind it, kept across jobs.

    A warm browser saves the Chrome start of every job (bench/README.md: 3.4 s → 1.9 s a job); the pool
    replaces it after CAPTURE_BROWSER_RECYCLE_AFTER jobs and after any error.
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        self._allow_hosts = parse_allow_hosts(config["CAPTURE_ALLOW_HOSTS"])
        self._guard = guard_proxy(config)
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
        try:
            shots = self._pool.capture(
                replace(request, url=checked_url),
                on_shot=on_shot,
                explain_navigation_failure=self._guard.blocked_reason,
            )
        except BaseException:
            BROWSER_RECYCLES.labels("error").inc()  # the pool ends its browser on any error
            raise
        finally:
            GUARD_REFUSALS.inc(len(self._guard.blocked_requests))
        if not self._pool.warm:
            BROWSER_RECYCLES.labels("max_jobs").inc()
        return shots

    def close(self) -> None:
        self._pool.close()
        self._guard.stop()
