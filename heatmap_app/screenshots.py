"""Capturing a page the way the service does, for the worker and the `capture` CLI alike: settings
from the app config, the URL checked before any browser starts, and every request the browser then
makes sent through the URL-safety guard proxy."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from heatmap_app.capture import Browser, CaptureSettings, Shot
from heatmap_app.urlsafety import GuardProxy, check_url, parse_allow_hosts


def capture_settings(config: Mapping[str, Any]) -> CaptureSettings:
    return CaptureSettings(
        chrome_binary=config["CHROME_BINARY"],
        chromedriver_path=config["CHROMEDRIVER_PATH"],
        remote_url=config["SELENIUM_REMOTE_URL"],
        jpeg_quality=config["CAPTURE_JPEG_QUALITY"],
        max_height=config["CAPTURE_MAX_HEIGHT"],
    )


def capture_page(
    config: Mapping[str, Any],
    url: str,
    widths: Sequence[int],
    *,
    block_consent_modals: bool = False,
    on_shot: Callable[[Shot], None] | None = None,
) -> list[Shot]:
    """Capture `url` at every width; raises UnsafeURLError or a CaptureError with a readable reason."""
    allow_hosts = parse_allow_hosts(config["CAPTURE_ALLOW_HOSTS"])
    checked_url = check_url(url, allow_hosts)
    with GuardProxy(allow_hosts) as guard, Browser(replace(capture_settings(config), proxy_server=guard.url)) as browser:
        return browser.capture(
            checked_url,
            widths,
            block_consent_modals=block_consent_modals,
            on_shot=on_shot,
            explain_navigation_failure=guard.blocked_reason,
        )
