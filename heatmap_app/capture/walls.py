"""Pages that are not the page: a login wall or a bot-protection check, recognised so that the capture
fails with a reason that says what to do, instead of storing a screenshot of the wrong page."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from selenium.webdriver.remote.webdriver import WebDriver

from .errors import PermanentCaptureError

WHAT_TO_DO_LOGIN = (
    "Add the session cookie or an Authorization header in the heatmap's capture settings, "
    "or upload a screenshot from your own browser."
)
WHAT_TO_DO_CHALLENGE = (
    "Upload a screenshot from your own browser, or add a cookie or header your site's protection lets through "
    "in the heatmap's capture settings."
)
UPLOAD_HINT = "upload a screenshot"
# Titles of the interstitials of Cloudflare, Akamai, Imperva/Incapsula, DataDome, PerimeterX, Sucuri, DDoS-Guard.
CHALLENGE_TITLE = re.compile(
    r"just a moment|attention required|checking your browser|verify(ing)? (that )?you are (a )?human|"
    r"are you a robot|pardon our interruption|ddos-guard|access to this page has been denied|"
    r"security check|human verification|one more step|bot verification",
    re.IGNORECASE,
)
CHALLENGE_SELECTORS = (
    "#challenge-form", "#challenge-running", "#cf-challenge-running", ".cf-browser-verification",
    "#challenge-stage", "iframe[src*='challenges.cloudflare.com']", "script[src*='/cdn-cgi/challenge-platform/']",
    "#px-captcha", "script[src*='captcha-delivery.com']", "iframe[src*='captcha-delivery.com']",
    "#sec-if-cpt-container", "#sec-cpt-if", "iframe[src*='_Incapsula_Resource']", "#ddg-captcha",
)
PAGE_FACTS_JS = """
const found = arguments[0].filter((selector) => { try { return document.querySelector(selector) !== null; }
                                                 catch (error) { return false; } });
return {url: location.href, title: document.title || '', challenge: found,
        password: document.querySelector('input[type=password]') !== null};
"""


class LoginWallError(PermanentCaptureError):
    """The page asked for a login."""


class BotChallengeError(PermanentCaptureError):
    """The page showed a bot-protection check instead of itself."""


def suggests_upload(exception: str | None) -> bool:
    """Whether a heatmap's failure reason is one that an uploaded screenshot works around."""
    return bool(exception) and UPLOAD_HINT in exception.lower()


def raise_if_walled(driver: WebDriver, requested_url: str, status: int | None) -> None:
    """Raise BotChallengeError or LoginWallError if the tab shows a challenge or a login wall for `requested_url`."""
    facts = driver.execute_script(PAGE_FACTS_JS, list(CHALLENGE_SELECTORS))
    title = facts["title"] if isinstance(facts.get("title"), str) else ""
    if facts.get("challenge") or CHALLENGE_TITLE.search(title):
        raise BotChallengeError(
            f"The page showed a bot-protection check (“{title[:80]}”) instead of itself. {WHAT_TO_DO_CHALLENGE}"
        )
    if status in (401, 403):
        raise LoginWallError(f"The page asks for a login (it answered HTTP {status}). {WHAT_TO_DO_LOGIN}")
    final_url = facts["url"] if isinstance(facts.get("url"), str) else requested_url
    if facts.get("password") and _without_fragment(final_url) != _without_fragment(requested_url):
        raise LoginWallError(f"The page sent the browser to a login form ({final_url[:200]}). {WHAT_TO_DO_LOGIN}")


def _without_fragment(url: str) -> str:
    return urlsplit(url)._replace(fragment="").geturl()
