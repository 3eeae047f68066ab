"""Capture settings in the web UI: given on the create form, shown masked on the settings page, kept,
replaced and removed there, and bad lines answered with a form error."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from heatmap_app.extensions import db
from heatmap_app.models import SavedHeatmap, User
from jobs.capture import capture_request
from tests.web.conftest import CaptureSite

HEADER_SECRET = "Bearer web-s3cret-5c2"
COOKIE_SECRET = "webcookie-s3cret-1d"
PASSWORD_SECRET = "web-pass-s3cret-88"


def post_form(client: FlaskClient, auth: Any, path: str, **data: Any) -> Any:
    return client.post(path, data={"csrf_token": auth.csrf_token(path), **data})


def only_heatmap() -> SavedHeatmap:
    [heatmap] = db.session.query(SavedHeatmap).all()
    return heatmap


def test_the_create_form_saves_the_settings_and_the_settings_page_shows_them_masked(
    client: FlaskClient, auth: Any, logged_in: User, capture_site: CaptureSite
) -> None:
    response = post_form(
        client, auth, "/heatmaps/new", url=capture_site.url(), preset="desktop",
        headers=f"Authorization: {HEADER_SECRET}\nX-Preview: yes", cookies=f"session={COOKIE_SECRET}; Path=/app",
        basic_username="", wait_for_selector="#main", delay_seconds="2.5", hide_selectors="#chat\n.popup",
        device_scale_factor="2",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    heatmap = only_heatmap()
    request = capture_request(heatmap)
    assert request.headers == (("Authorization", HEADER_SECRET), ("X-Preview", "yes"))
    assert [(c.name, c.value, c.path) for c in request.cookies] == [("session", COOKIE_SECRET, "/app")]
    assert (request.wait_for_selector, request.delay_seconds, request.hide_selectors, request.device_scale_factor) == (
        "#main", 2.5, ("#chat", ".popup"), 2
    )

    page = client.get(f"/heatmaps/{heatmap.short_id}/settings").get_data(as_text=True)

    assert "Authorization: ••••••••" in page and "session=••••••••; Path=/app" in page
    assert HEADER_SECRET not in page and COOKIE_SECRET not in page
    detail = client.get(f"/heatmaps/{heatmap.short_id}").get_data(as_text=True)
    assert f'href="/heatmaps/{heatmap.short_id}/settings"' in detail


def test_the_settings_page_keeps_masked_values_replaces_new_ones_and_removes_deleted_lines(
    client: FlaskClient, auth: Any, logged_in: User, capture_site: CaptureSite
) -> None:
    post_form(client, auth, "/heatmaps/new", url=capture_site.url(), preset="desktop",
              headers=f"X-Preview-Token: {HEADER_SECRET}", cookies=f"session={COOKIE_SECRET}",
              basic_username="ada", basic_password=PASSWORD_SECRET, device_scale_factor="1")
    heatmap = only_heatmap()
    assert heatmap.status == "processing" and capture_request(heatmap).basic_auth == ("ada", PASSWORD_SECRET)
    settings = f"/heatmaps/{heatmap.short_id}/settings"

    # Sent back as shown: every secret kept, no new capture.
    response = post_form(client, auth, settings, headers="X-Preview-Token: ••••••••", cookies="session=••••••••",
                         basic_username="ada", basic_password="", device_scale_factor="1")
    assert response.status_code == 302
    db.session.expire_all()
    heatmap = only_heatmap()
    assert heatmap.capture_generation == 1
    assert capture_request(heatmap).headers == (("X-Preview-Token", HEADER_SECRET),)
    assert capture_request(heatmap).basic_auth == ("ada", PASSWORD_SECRET)

    # The cookie line deleted, the header replaced, the credentials removed.
    post_form(client, auth, settings, headers="X-Preview-Token: replaced", cookies="",
              basic_username="ada", remove_basic_auth="y", device_scale_factor="1")
    db.session.expire_all()
    request = capture_request(only_heatmap())
    assert (request.headers, request.cookies, request.basic_auth) == ((("X-Preview-Token", "replaced"),), (), None)
    assert only_heatmap().capture_generation == 2


def test_bad_settings_lines_get_a_form_error_and_save_nothing(
    client: FlaskClient, auth: Any, logged_in: User, capture_site: CaptureSite
) -> None:
    for fields, message in (
        ({"headers": "no colon here"}, "write a header as Name: value"),
        ({"headers": f"Host: {HEADER_SECRET}"}, "cannot be set"),
        ({"cookies": "nameonly"}, "write a cookie as name=value"),
        ({"delay_seconds": "20"}, "between 0 and 15"),
        ({"hide_selectors": "#a { x }"}, "may not hold"),
        ({"cookies": f"session={COOKIE_SECRET}; Domain=evil.example"}, "page&#39;s host"),
    ):
        response = post_form(client, auth, "/heatmaps/new", url=capture_site.url(), preset="desktop",
                             device_scale_factor="1", **fields)
        page = response.get_data(as_text=True)
        assert response.status_code == 400, fields
        assert message in page, (fields, page[page.find("field-error") - 200:page.find("field-error") + 300])
        assert HEADER_SECRET not in page.replace(f"Host: {HEADER_SECRET}", "")
    assert db.session.query(SavedHeatmap).count() == 0
