"""The UI in a real headless Chromium against the app on a real port, with the real capture worker."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as page_has
from selenium.webdriver.support.wait import WebDriverWait

from heatmap_app.models import User
from tests.conftest import PASSWORD
from tests.web.browser import BurstWorker
from tests.web.conftest import CaptureSite, LiveServer

pytestmark = pytest.mark.browser

CAPTURE_TIMEOUT = 90


def wait(browser: WebDriver, timeout: float = 10) -> WebDriverWait:
    return WebDriverWait(browser, timeout)


def element(browser: WebDriver, css: str) -> WebElement:
    return wait(browser).until(page_has.visibility_of_element_located((By.CSS_SELECTOR, css)))


def type_into(browser: WebDriver, name: str, text: str) -> None:
    field = browser.find_element(By.NAME, name)
    field.clear()
    field.send_keys(text)


def log_in(browser: WebDriver, live_server: LiveServer, user: User) -> None:
    browser.get(live_server.url("/login"))
    type_into(browser, "email", user.email)
    type_into(browser, "password", PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "main input[type=submit]").click()
    element(browser, "h1")
    assert browser.current_url == live_server.url("/heatmaps/")


def confirm_in_dialog(browser: WebDriver, action: str) -> None:
    accept = element(browser, "#confirm-dialog[open] #confirm-accept")
    assert accept.text == action
    accept.click()


def image_width(browser: WebDriver, image: WebElement) -> int:
    """The decoded width of an image: 0 until it has loaded."""
    return browser.execute_script("return arguments[0].complete ? arguments[0].naturalWidth : 0", image)


def loaded_thumbnails(browser: WebDriver) -> int:
    return browser.execute_script(
        "return [...document.querySelectorAll('.card .thumb img')].filter(i => i.complete && i.naturalWidth).length"
    )


def test_a_marketer_captures_a_page_and_works_with_it(
    browser: WebDriver, live_server: LiveServer, user: User, worker: BurstWorker, capture_site: CaptureSite
) -> None:
    log_in(browser, live_server, user)

    # Create through the form, with custom widths.
    browser.find_element(By.LINK_TEXT, "New heatmap").click()
    type_into(browser, "url", capture_site.url())
    type_into(browser, "name", "Spring landing page")
    browser.find_element(By.CSS_SELECTOR, "label[for=preset-custom]").click()
    type_into(browser, "widths", "375, 1024")
    browser.find_element(By.CSS_SELECTOR, "main input[type=submit]").click()
    assert element(browser, "h1").text == "Spring landing page"

    # The list shows it processing; the worker captures it; the thumbnails appear without a reload.
    browser.find_element(By.PARTIAL_LINK_TEXT, "All heatmaps").click()
    assert element(browser, ".card .badge").text == "Processing"
    browser.execute_script("window.stillTheSamePage = true")
    worker.start()
    wait(browser, CAPTURE_TIMEOUT).until(lambda _: loaded_thumbnails(browser) == 2, "the thumbnails never appeared")
    worker.finish()
    assert browser.execute_script("return window.stillTheSamePage") is True
    assert element(browser, ".card .badge").text == "Ready"
    assert [caption.text for caption in browser.find_elements(By.CSS_SELECTOR, ".card figcaption")] == ["375", "1024"]

    # The detail page shows each width's screenshot at its real size.
    browser.find_element(By.LINK_TEXT, "Spring landing page").click()
    screenshot = element(browser, "#screenshot")
    wait(browser).until(lambda _: image_width(browser, screenshot) == 1024)
    browser.find_element(By.PARTIAL_LINK_TEXT, "375 px").click()
    screenshot = element(browser, "#screenshot")
    wait(browser).until(lambda _: image_width(browser, screenshot) == 375)
    assert browser.current_url.endswith("width=375")
    assert browser.find_element(By.CSS_SELECTOR, ".tabs [aria-current=page]").text == "375 px"
    assert "page height" in browser.find_element(By.CSS_SELECTOR, ".shot-caption").text

    # Regenerate: capturing again, the current screenshot stays on show meanwhile.
    browser.find_element(By.XPATH, "//button[normalize-space()='Regenerate']").click()
    assert "Capturing again" in element(browser, ".flash").text
    assert element(browser, ".viewer .badge").text == "Processing"
    assert element(browser, "#screenshot").get_attribute("width") == "375"

    # Delete, after confirming in the dialog.
    browser.find_element(By.XPATH, "//button[normalize-space()='Delete']").click()
    confirm_in_dialog(browser, "Delete heatmap")
    assert "Deleted" in element(browser, ".flash").text
    assert browser.current_url == live_server.url("/heatmaps/")
    assert element(browser, ".empty h2").text == "Capture your first page"


def test_an_api_key_is_created_shown_once_copied_and_revoked(
    browser: WebDriver, live_server: LiveServer, user: User
) -> None:
    browser.execute_cdp_cmd("Browser.grantPermissions", {
        "origin": live_server.base_url, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"],
    })
    log_in(browser, live_server, user)
    browser.find_element(By.LINK_TEXT, "API keys").click()

    type_into(browser, "label", "Zapier")
    browser.find_element(By.CSS_SELECTOR, "input[name=scopes][value='heatmap:write']").click()
    type_into(browser, "password", PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit][value='Create key']").click()
    raw_key = element(browser, "#new-key").get_attribute("value")
    browser.find_element(By.CSS_SELECTOR, "[data-copy-target=new-key]").click()

    assert raw_key.startswith("phx_")
    assert browser.execute_async_script("navigator.clipboard.readText().then(arguments[0])") == raw_key
    row = element(browser, "tbody tr")
    assert "Zapier" in row.text and raw_key[-4:] in row.text and raw_key not in row.text

    browser.get(live_server.url("/settings/api-keys"))
    assert not browser.find_elements(By.ID, "new-key")  # shown once, never again

    browser.find_element(By.XPATH, "//button[starts-with(normalize-space(), 'Revoke')]").click()
    confirm_in_dialog(browser, "Revoke key")
    assert "revoked" in element(browser, ".flash").text
    assert not browser.find_elements(By.CSS_SELECTOR, "tbody tr")
