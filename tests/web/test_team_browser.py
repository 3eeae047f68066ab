"""The Team page and the UI fixes found in use, in a real headless Chromium against the app on a real port."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as page_has
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from heatmap_app import teams
from heatmap_app.accounts import MEMBER, create_user
from heatmap_app.extensions import db
from heatmap_app.models import PersonalAPIKey, SavedHeatmap, User
from tests.conftest import PASSWORD
from tests.web.conftest import LiveServer
from tests.web.test_browser import confirm_in_dialog, element, log_in, type_into, wait

pytestmark = pytest.mark.browser


@pytest.fixture
def phone(browser: WebDriver) -> Iterator[WebDriver]:
    """The browser as a 375 px wide phone (device-metrics emulation: a window cannot be made that narrow)."""
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": 375, "height": 800, "deviceScaleFactor": 1, "mobile": True})
    yield browser
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def overflow(browser: WebDriver) -> int:
    """How many CSS px the page is wider than the viewport (a sideways scroll)."""
    return browser.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")


def test_the_team_page_invites_promotes_and_removes(browser: WebDriver, live_server: LiveServer, user: User) -> None:
    carol = create_user("carol@example.com", PASSWORD, first_name="Carol", join=(user.current_project.organization,
                                                                                 MEMBER))
    log_in(browser, live_server, user)
    browser.find_element(By.LINK_TEXT, "Team").click()
    assert element(browser, "h1").text == "Analytical"

    type_into(browser, "target_email", "dan@example.com")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit][value='Create invitation']").click()
    link = element(browser, "#new-link").get_attribute("value")
    assert "/invitations/" in link and "dan@example.com" in element(browser, "#invites").text
    browser.refresh()
    assert not browser.find_elements(By.ID, "new-link")  # shown once; the reload created nothing
    assert len(teams.pending_invites(user.current_project.organization)) == 1

    # Choosing a role submits it.
    Select(browser.find_element(By.ID, f"level-{carol.id}")).select_by_value("admin")
    assert "carol@example.com is now admin" in element(browser, ".flash").text
    db.session.expire_all()
    assert teams.is_admin(carol, user.current_project.organization)

    role_changed = browser.find_element(By.CSS_SELECTOR, ".flash")
    browser.find_element(By.CSS_SELECTOR, f"#member-{carol.id} button.danger").click()
    confirm_in_dialog(browser, "Remove")
    # Read the next page's flash, not the last one: while the page is replaced, chromedriver may answer a
    # question about the old one with an error of its own instead of "stale".
    WebDriverWait(browser, 10, ignored_exceptions=(WebDriverException,)).until(page_has.staleness_of(role_changed))
    assert "was removed" in element(browser, ".flash").text
    assert not browser.find_elements(By.ID, f"member-{carol.id}")


def test_a_reload_after_creating_a_key_creates_no_second_one(
    browser: WebDriver, live_server: LiveServer, user: User
) -> None:
    log_in(browser, live_server, user)
    browser.get(live_server.url("/settings/api-keys"))
    type_into(browser, "label", "CI")
    type_into(browser, "password", PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit][value='Create key']").click()
    assert element(browser, "#new-key").get_attribute("value").startswith("phx_")

    browser.refresh()

    assert not browser.find_elements(By.ID, "new-key")
    assert db.session.query(PersonalAPIKey).count() == 1


def test_the_keys_page_and_the_project_switcher_fit_a_phone(phone: WebDriver, live_server: LiveServer,
                                                            user: User) -> None:
    teams.create_project(user.current_project.organization, user, "A second project with a long name")
    log_in(phone, live_server, user)
    assert phone.find_element(By.ID, "project_id").is_displayed()
    assert overflow(phone) <= 0

    phone.get(live_server.url("/settings/api-keys"))
    type_into(phone, "label", "Phone")
    type_into(phone, "password", PASSWORD)
    phone.find_element(By.CSS_SELECTOR, "input[type=submit][value='Create key']").click()
    element(phone, "#new-key")

    assert overflow(phone) <= 0
    assert phone.find_element(By.XPATH, "//button[starts-with(normalize-space(), 'Revoke')]").is_displayed()


def test_the_team_page_fits_a_phone(phone: WebDriver, live_server: LiveServer, user: User) -> None:
    create_user("carol.with.a.long.address@example.com", PASSWORD, join=(user.current_project.organization, MEMBER))
    teams.invite(user.current_project.organization, user, "someone.invited@example.com")
    log_in(phone, live_server, user)

    phone.get(live_server.url("/settings/organization"))
    element(phone, "#members")

    assert overflow(phone) <= 0
    assert phone.find_element(By.NAME, "target_email").is_displayed()


def test_switching_project_on_a_detail_page_lands_on_the_new_projects_list(
    browser: WebDriver, live_server: LiveServer, user: User, make_heatmap: Any
) -> None:
    heatmap = make_heatmap(name="Pricing", type="iframe")
    second = teams.create_project(user.current_project.organization, user, "Second")
    log_in(browser, live_server, user)
    browser.get(live_server.url(f"/heatmaps/{heatmap.short_id}"))

    Select(browser.find_element(By.ID, "project_id")).select_by_value(str(second.id))

    wait(browser).until(lambda driver: "Switched to Second" in driver.page_source)
    assert browser.current_url == live_server.url("/heatmaps/")
    assert element(browser, "h1").text == "Heatmaps"


def test_a_too_long_search_says_so(browser: WebDriver, live_server: LiveServer, user: User, make_heatmap: Any) -> None:
    make_heatmap(name="Pricing", type="iframe")
    log_in(browser, live_server, user)

    browser.get(live_server.url("/heatmaps/?search=" + "p" * 201))

    assert "at most 200 characters" in element(browser, "#search-error").text
    assert not browser.find_elements(By.CSS_SELECTOR, ".card")


def test_a_long_unnamed_url_is_shortened_in_headings(
    browser: WebDriver, live_server: LiveServer, user: User, make_heatmap: Any, capture_site: Any
) -> None:
    long_url = capture_site.url("/landing.html?" + "utm_campaign=spring-sale-2026&" * 8)
    heatmap = make_heatmap(url=long_url, type="iframe")
    log_in(browser, live_server, user)

    card_title = element(browser, ".card h2").text
    browser.get(live_server.url(f"/heatmaps/{heatmap.short_id}"))
    heading = element(browser, "h1")

    assert card_title == heading.text and heading.text.endswith("…") and len(heading.text) == 60
    assert heading.get_attribute("title") == long_url


def test_focus_moves_to_the_first_field_in_error(browser: WebDriver, live_server: LiveServer, user: User) -> None:
    log_in(browser, live_server, user)
    browser.get(live_server.url("/heatmaps/new"))
    type_into(browser, "url", "http://10.0.0.1/")
    browser.find_element(By.CSS_SELECTOR, "main input[type=submit]").click()

    element(browser, "#url-error")
    assert browser.execute_script("return document.activeElement.id") == "url"


def test_the_viewer_fits_the_screenshot_by_default_and_keeps_the_choice_across_tabs(
    browser: WebDriver, live_server: LiveServer, user: User, make_heatmap: Any, complete: Any
) -> None:
    heatmap = complete(make_heatmap(name="Wide", widths=[1440, 1920]))
    log_in(browser, live_server, user)
    browser.execute_script("window.localStorage.clear()")
    browser.get(live_server.url(f"/heatmaps/{heatmap.short_id}?width=1920"))

    def shown_width() -> int:
        return browser.execute_script("return document.getElementById('screenshot').clientWidth")

    toggle = element(browser, "[data-fit-target]")
    assert toggle.get_attribute("aria-pressed") == "true" and shown_width() < 1920  # fitted into the panel
    toggle.click()
    assert shown_width() == 1920
    browser.find_element(By.CSS_SELECTOR, ".tabs a[href*='width=1440']").click()
    wait(browser).until(lambda driver: "width=1440" in driver.current_url)

    assert element(browser, "[data-fit-target]").get_attribute("aria-pressed") == "false"
    assert shown_width() == 1440  # the real size, as chosen on the other tab


def test_the_being_captured_notice_goes_when_the_capture_settles(
    browser: WebDriver, live_server: LiveServer, user: User, capture_site: Any, complete: Any
) -> None:
    log_in(browser, live_server, user)
    browser.get(live_server.url("/heatmaps/new"))
    type_into(browser, "url", capture_site.url())
    browser.find_element(By.CSS_SELECTOR, "main input[type=submit]").click()
    assert "being captured" in element(browser, ".flash").text

    complete(db.session.query(SavedHeatmap).one())  # the capture settles (as the worker would finish it)

    wait(browser, 20).until(lambda driver: not driver.find_elements(By.CSS_SELECTOR, ".flash[data-settles]"))
    assert element(browser, ".viewer .badge").text == "Ready"
