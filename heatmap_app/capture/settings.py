"""How the capture engine finds, starts and bounds its browser."""

from __future__ import annotations

import shutil
from dataclasses import dataclass

CHROME_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMEDRIVER_CANDIDATES = ("chromedriver",)


@dataclass(frozen=True)
class CaptureSettings:
    chrome_binary: str | None = None
    """Path of Chrome/Chromium; found on PATH (chromium, chromium-browser, google-chrome) when None."""
    chromedriver_path: str | None = None
    """Path of chromedriver; found on PATH when None. Selenium Manager is never asked."""
    remote_url: str | None = None
    """Selenium Grid URL: drive a remote Chrome instead of starting one here."""
    proxy_server: str | None = None
    """Every request of the browser, loopback included, goes through this proxy (e.g. the URL-safety guard)."""
    jpeg_quality: int = 70
    max_height: int = 16_000
    """Taller pages are cut here: Chrome renders captures much over 16,384 px blank or repeated."""
    max_bytes: int = 10_000_000
    viewport_height: int = 800
    mobile_below_width: int = 500
    """Widths below this are captured as a phone: touch, mobile user agent, mobile viewport."""
    page_load_timeout: float = 20.0
    """Seconds for the main document to answer and be parsed."""
    resources_timeout: float = 5.0
    """Seconds granted to subresources (after the document is parsed) and, per width, to lazy content,
    images and fonts. What is still pending then is stopped and the page captured as it is."""
    network_quiet_period: float = 0.5
    """Once no request has finished for this long and no image is pending, the page counts as loaded."""
    command_timeout: float = 30.0
    """Upper bound of one command to the browser (an in-page script, a screenshot, a DevTools call): a page
    that holds the browser longer fails the capture for good."""

    def resolved_chrome_binary(self) -> str:
        return self.chrome_binary or _find_on_path(CHROME_CANDIDATES, "Chrome or Chromium")

    def resolved_chromedriver_path(self) -> str:
        return self.chromedriver_path or _find_on_path(CHROMEDRIVER_CANDIDATES, "chromedriver")


def _find_on_path(candidates: tuple[str, ...], what: str) -> str:
    for name in candidates:
        found = shutil.which(name)
        if found:
            return found
    raise FileNotFoundError(f"{what} not found on PATH (looked for {', '.join(candidates)})")
