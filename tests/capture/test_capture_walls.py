"""Login walls and bot-protection checks fail the capture with a reason that says what to do."""

from __future__ import annotations

import pytest

from heatmap_app.capture import Browser, CaptureRequest
from heatmap_app.capture.walls import BotChallengeError, LoginWallError, suggests_upload
from tests.capture.pixels import GREEN, colour_at, looks_like
from tests.capture.servers import Page, PagesServer

pytestmark = pytest.mark.browser

VIEWPORT = '<!doctype html><meta name="viewport" content="width=device-width">'
LOGIN_FORM = (f"{VIEWPORT}<title>Sign in</title><body style='margin:0;background:#00c000'><form method=post>"
              "<input name=email><input type=password name=password><button>Sign in</button></form>")
CLOUDFLARE_CHALLENGE = (
    f"{VIEWPORT}<title>Just a moment...</title><body><div id='challenge-running'>Checking your browser</div>"
    "<form id='challenge-form' action='/?__cf_chl_f_tk=x' method='POST'></form>"
)


def redirect(location: str) -> Page:
    return Page("", status=302, headers={"Location": location, "Content-Type": "text/html"})


def test_a_redirect_to_a_login_form_fails_with_the_login_reason(browser: Browser, pages: PagesServer) -> None:
    pages.pages["/account"] = redirect("/login?next=/account")
    pages.pages["/login"] = Page(LOGIN_FORM)

    with pytest.raises(LoginWallError) as failure:
        browser.capture(CaptureRequest(pages.url("/account"), [1024]))

    reason = str(failure.value)
    assert "login form" in reason and "/login?next=/account" in reason
    assert "cookie" in reason and "upload a screenshot" in reason and suggests_upload(reason)
    assert failure.value.permanent


def test_the_login_page_itself_is_captured(browser: Browser, pages: PagesServer) -> None:
    pages.pages["/login"] = Page(LOGIN_FORM)

    [shot] = browser.capture(CaptureRequest(pages.url("/login"), [1024]))

    assert looks_like(colour_at(shot, 500, 500), GREEN)


@pytest.mark.parametrize("status", [401, 403])
def test_a_401_or_403_answer_fails_with_the_login_reason(browser: Browser, pages: PagesServer, status: int) -> None:
    pages.pages["/private"] = Page(f"{VIEWPORT}<title>Forbidden</title>Please log in", status=status)

    with pytest.raises(LoginWallError, match=rf"asks for a login \(it answered HTTP {status}\).*capture settings"):
        browser.capture(CaptureRequest(pages.url("/private"), [1024]))


@pytest.mark.parametrize("status", [403, 503, 200])
def test_a_bot_challenge_page_fails_with_the_bot_protection_reason(
    browser: Browser, pages: PagesServer, status: int
) -> None:
    pages.pages["/"] = Page(CLOUDFLARE_CHALLENGE, status=status)

    with pytest.raises(BotChallengeError) as failure:
        browser.capture(CaptureRequest(pages.url("/"), [375, 1024]))

    assert "bot-protection check (“Just a moment...”)" in str(failure.value)
    assert suggests_upload(str(failure.value))


def test_a_challenge_known_by_its_title_alone_is_recognised(browser: Browser, pages: PagesServer) -> None:
    pages.pages["/"] = Page(f"{VIEWPORT}<title>Attention Required! | Cloudflare</title><h1>Sorry, you have been blocked</h1>")

    with pytest.raises(BotChallengeError):
        browser.capture(CaptureRequest(pages.url("/"), [1024]))

