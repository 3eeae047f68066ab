"""The page controls a capture request may ask for: wait for an element, wait a little more, hide elements."""

from __future__ import annotations

import time

from selenium.webdriver.remote.webdriver import WebDriver

from .errors import PermanentCaptureError
from .request import MAX_WAIT_SECONDS, CaptureRequest

POLL_SECONDS = 0.1
# Returns true, false, or the browser's message for a selector it cannot parse.
MATCHES_JS = """
try { return document.querySelector(arguments[0]) !== null; } catch (error) { return String(error.message); }
"""
# One rule per selector, each parsed on its own: a selector that is not one fails alone, and nothing in
# it can add rules of its own. The sheet is put back should the page have removed it.
HIDE_JS = """
const id = 'heatmap-capture-hidden';
let style = document.getElementById(id);
if (!style) {
  style = document.createElement('style');
  style.id = id;
  (document.head || document.documentElement).appendChild(style);
  for (const selector of arguments[0]) {
    try { style.sheet.insertRule(selector + ' { display: none !important; }', style.sheet.cssRules.length); }
    catch (error) { /* not a selector: nothing to hide */ }
  }
}
"""


def wait_before_first_shot(driver: WebDriver, request: CaptureRequest) -> None:
    """Wait until `wait_for_selector` matches (PermanentCaptureError if it does not in time), then `delay_seconds`."""
    if request.wait_for_selector:
        budget = MAX_WAIT_SECONDS - request.delay_seconds
        deadline = time.monotonic() + budget
        while True:
            found = driver.execute_script(MATCHES_JS, request.wait_for_selector)
            if isinstance(found, str):
                raise PermanentCaptureError(f"The wait-for selector is not a valid CSS selector: {found}")
            if found:
                break
            if time.monotonic() >= deadline:
                raise PermanentCaptureError(
                    f"No element matching the wait-for selector {request.wait_for_selector!r} appeared "
                    f"within {budget:g} seconds"
                )
            time.sleep(POLL_SECONDS)
    if request.delay_seconds:
        time.sleep(request.delay_seconds)


def hide_elements(driver: WebDriver, request: CaptureRequest) -> None:
    if request.hide_selectors:
        driver.execute_script(HIDE_JS, list(request.hide_selectors))
