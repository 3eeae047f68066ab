"""The floor: the least work a full-page capture per width can do — one Chrome, one load, then per width
only new device metrics and one captureBeyondViewport JPEG (no waits, no lazy content).

    .venv/bin/python bench/floor.py URL --chrome /usr/bin/chromium --chromedriver /usr/bin/chromedriver \
        --argument=--headless --argument=--no-sandbox ...

bench/capture.py calls floor() in its own process, and runs this file as a command to set against the
`capture` CLI: both then pay an interpreter's start and Selenium's import. It imports nothing of the app.
"""

from __future__ import annotations

import argparse
import os
import signal
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from selenium import webdriver

WIDTHS = [320, 375, 425, 768, 1024, 1440, 1920]


@dataclass(frozen=True)
class PlainChrome:
    """A Chrome as the engine starts it, minus everything the engine adds after the start."""

    binary: str
    chromedriver: str
    arguments: Sequence[str]

    @contextmanager
    def driver(self, page_load_strategy: str = "normal") -> Iterator[webdriver.Chrome]:
        options = webdriver.ChromeOptions()
        options.binary_location = self.binary
        options.page_load_strategy = page_load_strategy
        for argument in self.arguments:
            options.add_argument(argument)
        service = webdriver.ChromeService(self.chromedriver, popen_kw={"start_new_session": True})
        driver = webdriver.Chrome(options=options, service=service)
        try:
            yield driver
        finally:
            driver.quit()
            try:
                os.killpg(service.process.pid, signal.SIGKILL)
            except ProcessLookupError:  # quit() may already have ended the whole group
                pass
            service.process.wait()


def floor(url: str, chrome: PlainChrome, widths: Sequence[int] = WIDTHS) -> None:
    with chrome.driver() as driver:
        driver.get(url)
        for width in widths:
            driver.execute_cdp_cmd(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": 800, "deviceScaleFactor": 1, "mobile": width < 500},
            )
            height = driver.execute_script("return document.documentElement.scrollHeight")
            driver.execute_cdp_cmd(
                "Page.captureScreenshot",
                {
                    "format": "jpeg",
                    "quality": 70,
                    "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
                    "captureBeyondViewport": True,
                },
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("--chrome", required=True)
    parser.add_argument("--chromedriver", required=True)
    parser.add_argument("--argument", action="append", default=[], help="A Chrome switch; give it once per switch.")
    options = parser.parse_args()
    floor(options.url, PlainChrome(options.chrome, options.chromedriver, options.argument))


if __name__ == "__main__":
    main()
