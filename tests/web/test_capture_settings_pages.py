"""Capture settings in the web UI: given on the create form, shown masked on the settings page, kept,
replaced and removed there, and bad lines answered with a form error; the upload on the detail page."""

from __future__ import annotations

import io
import os
from typing import Any

from flask.testing import FlaskClient
from PIL import Image

from heatmap_app.capture.walls import WHAT_TO_DO_LOGIN
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


def png_bytes(width: int, height: int) -> bytes:
    """A screenshot-sized PNG of noise, which PNG cannot compress."""
    output = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(output, format="PNG")
    return output.getvalue()


def test_a_login_failure_suggests_an_upload_and_the_upload_completes_the_heatmap(
    client: FlaskClient, auth: Any, logged_in: User, make_heatmap: Any
) -> None:
    heatmap = make_heatmap(widths=[1024])
    heatmap.status, heatmap.exception = "failed", f"The page asks for a login (it answered HTTP 401). {WHAT_TO_DO_LOGIN}"
    db.session.commit()
    detail = f"/heatmaps/{heatmap.short_id}"

    page = client.get(detail).get_data(as_text=True)
    assert "Our browser could not see this page as you do" in page
    assert f'action="/heatmaps/{heatmap.short_id}/upload"' in page and 'enctype="multipart/form-data"' in page

    token = auth.csrf_token(detail)
    screenshot = png_bytes(2048, 3000)
    assert len(screenshot) > 2 * 1024 * 1024, "larger than the app's usual body limit"
    response = client.post(f"{detail}/upload", data={"csrf_token": token, "width": "1024",
                                                     "image": (io.BytesIO(screenshot), "mine.png")},
                           content_type="multipart/form-data")

    assert response.status_code == 302
    db.session.expire_all()
    heatmap = db.session.get(SavedHeatmap, heatmap.id)
    assert (heatmap.status, heatmap.exception) == ("completed", None)
    [snapshot] = heatmap.snapshots
    assert (snapshot.width, snapshot.height) == (1024, 1500), "a 2x screenshot keeps its CSS size"
    assert "Our browser could not see" not in client.get(detail).get_data(as_text=True)


def test_a_bad_upload_gets_a_form_error(client: FlaskClient, auth: Any, logged_in: User, make_heatmap: Any) -> None:
    heatmap = make_heatmap(widths=[1024])
    detail = f"/heatmaps/{heatmap.short_id}"
    token = auth.csrf_token(detail)

    response = client.post(f"{detail}/upload", data={"csrf_token": token, "width": "1024",
                                                     "image": (io.BytesIO(b"not an image"), "x.png")},
                           content_type="multipart/form-data")

    assert response.status_code == 400
    assert "Uploaded media must be a valid image" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(SavedHeatmap, heatmap.id).snapshots == []
