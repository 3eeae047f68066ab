"""Cookies, headers and basic credentials of a capture reach the page's own origin and nothing else."""

from __future__ import annotations


import pytest

from heatmap_app.capture import Browser, CaptureError, CaptureRequest
from heatmap_app.capture.request import Cookie
from tests.capture.gated import BASIC_CREDENTIALS, BEARER_TOKEN, SECRETS, SESSION_COOKIE, GatedSite, LoggingSite
from tests.capture.gated import gated, third_party  # noqa: F401  (fixtures)
from tests.capture.pixels import GREEN, RED, colour_at, looks_like

pytestmark = pytest.mark.browser


def assert_third_party_got_no_secret(third_party: LoggingSite) -> None:
    assert third_party.log, "the page did load its third-party resources"
    for received in third_party.log:
        sent = repr(received.headers)
        assert not any(secret in sent for secret in SECRETS), f"{received.path} received a secret: {sent}"
        assert "Authorization" not in received.headers and "Cookie" not in received.headers


def test_a_session_cookie_opens_the_page_and_stays_on_its_site(
    browser: Browser, gated: GatedSite, third_party: LoggingSite
) -> None:
    [without] = browser.capture(CaptureRequest(gated.url("/cookie"), [1024]))
    cookie = Cookie(*SESSION_COOKIE)

    phone, desktop = browser.capture(CaptureRequest(gated.url("/cookie"), [375, 1024], cookies=(cookie,)))

    assert looks_like(colour_at(without, 500, 500), RED)
    assert looks_like(colour_at(phone, 200, 500), GREEN) and looks_like(colour_at(desktop, 500, 500), GREEN)
    last_own_image = [r for r in gated.log if r.path == "/own-image.gif"][-1]
    assert f"{SESSION_COOKIE[0]}={SESSION_COOKIE[1]}" in last_own_image.headers.get("Cookie", ""), (
        "the site's own subresources carry the cookie"
    )
    assert_third_party_got_no_secret(third_party)


def test_a_bearer_header_opens_the_page_and_only_its_origin_receives_it(
    browser: Browser, gated: GatedSite, third_party: LoggingSite
) -> None:
    request = CaptureRequest(gated.url("/bearer"), [1024], headers=(("Authorization", f"Bearer {BEARER_TOKEN}"),))

    [shot] = browser.capture(request)

    assert looks_like(colour_at(shot, 500, 500), GREEN)
    assert [r.headers.get("Authorization") for r in gated.log if r.path == "/own-image.gif"] == [
        f"Bearer {BEARER_TOKEN}"
    ]
    assert_third_party_got_no_secret(third_party)


def test_basic_credentials_open_the_page_and_only_its_origin_receives_them(
    browser: Browser, gated: GatedSite, third_party: LoggingSite
) -> None:
    # Headless Chrome answers a basic-auth challenge by failing the load.
    with pytest.raises(CaptureError):
        browser.capture(CaptureRequest(gated.url("/basic"), [1024]))

    [shot] = browser.capture(CaptureRequest(gated.url("/basic"), [1024], basic_auth=BASIC_CREDENTIALS))

    assert looks_like(colour_at(shot, 500, 500), GREEN)
    assert_third_party_got_no_secret(third_party)


def test_a_redirect_to_another_site_drops_every_credential(
    browser: Browser, gated: GatedSite, third_party: LoggingSite
) -> None:
    request = CaptureRequest(
        gated.url("/redirect-away"), [1024],
        headers=(("Authorization", f"Bearer {BEARER_TOKEN}"), ("X-Preview-Token", BEARER_TOKEN)),
        cookies=(Cookie(*SESSION_COOKIE),),
    )

    browser.capture(request)

    redirect = [r for r in gated.log if r.path == "/redirect-away"]
    assert redirect[0].headers.get("X-Preview-Token") == BEARER_TOKEN, "the page's own origin got them"
    assert [r.path for r in third_party.log][:1] == ["/landing"]
    assert_third_party_got_no_secret(third_party)
    assert all("X-Preview-Token" not in r.headers for r in third_party.log)
