"""The heatmap pages: list with search, filter and pages; the create form; the detail page; images and live fragments."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from heatmap_app import heatmaps
from heatmap_app.accounts import create_user
from heatmap_app.extensions import db
from heatmap_app.models import SavedHeatmap, User
from tests.conftest import PASSWORD, AuthActions

MakeHeatmap = Callable[..., SavedHeatmap]


def post_form(client: FlaskClient, auth: AuthActions, path: str, **data: Any) -> Any:
    return client.post(path, data={"csrf_token": auth.csrf_token("/heatmaps/new"), **data})


def card_names(page: str) -> list[str]:
    return re.findall(r'<h2><a href="/heatmaps/\w+">([^<]+)</a></h2>', page)


def fail(heatmap: SavedHeatmap, reason: str) -> SavedHeatmap:
    heatmap.status, heatmap.exception = "failed", reason
    db.session.commit()
    return heatmap


# --- list -----------------------------------------------------------------------------------------


def test_the_list_shows_a_card_with_a_thumbnail_per_width(
    client: FlaskClient, logged_in: User, make_heatmap: MakeHeatmap, complete: Any
) -> None:
    heatmap = complete(make_heatmap(name="Pricing", widths=[375, 1440]))

    page = client.get("/heatmaps/").get_data(as_text=True)

    assert card_names(page) == ["Pricing"]
    for width in (375, 1440):
        assert f'src="/heatmaps/{heatmap.short_id}/thumbnails/{width}.jpg?v=' in page
    assert ">Ready</span>" in page


def test_an_empty_project_invites_to_create_the_first_heatmap(client: FlaskClient, logged_in: User) -> None:
    page = client.get("/heatmaps/").get_data(as_text=True)

    assert "Capture your first page" in page and 'href="/heatmaps/new"' in page


def test_search_and_status_filter_narrow_the_list(
    client: FlaskClient, logged_in: User, make_heatmap: MakeHeatmap, complete: Any
) -> None:
    complete(make_heatmap(name="Pricing page", widths=[1440]))
    make_heatmap(name="Pricing experiment", widths=[1440])
    make_heatmap(name="Home", widths=[1440])

    searched = card_names(client.get("/heatmaps/?search=pricing").get_data(as_text=True))
    both = card_names(client.get("/heatmaps/?search=pricing&status=processing").get_data(as_text=True))
    nothing = client.get("/heatmaps/?search=careers").get_data(as_text=True)

    assert sorted(searched) == ["Pricing experiment", "Pricing page"]
    assert both == ["Pricing experiment"]
    assert "No heatmaps match" in nothing


def test_an_unknown_status_filter_is_ignored_rather_than_an_error(
    client: FlaskClient, logged_in: User, make_heatmap: MakeHeatmap
) -> None:
    make_heatmap(name="Home", widths=[1440])

    response = client.get("/heatmaps/?status=exploded&page=abc")

    assert response.status_code == 200 and card_names(response.get_data(as_text=True)) == ["Home"]


def test_the_list_is_paginated(make_app: Any, capture_site: Any) -> None:
    app = make_app(CAPTURE_ALLOW_HOSTS=capture_site.host_port, HEATMAP_CREATE_RATE_LIMIT="100/minute")
    client = app.test_client()
    with app.app_context():
        owner = create_user("ada@example.com", PASSWORD)
        for number in range(14):
            heatmaps.create_heatmap(owner.current_project, owner, {"url": capture_site.url(), "name": f"Page {number:02}",
                                                                   "widths": [1440]})
        AuthActions(client).login()

        first = client.get("/heatmaps/").get_data(as_text=True)
        second = client.get("/heatmaps/?page=2").get_data(as_text=True)

    assert len(card_names(first)) == 12 and len(card_names(second)) == 2
    assert "Showing 1–12 of 14" in first and 'href="/heatmaps/?page=2"' in first
    assert set(card_names(first)).isdisjoint(card_names(second))


def test_another_projects_heatmaps_are_invisible(
    client: FlaskClient, logged_in: User, other_user: User, make_heatmap: MakeHeatmap
) -> None:
    theirs = make_heatmap(owner=other_user, name="Their secret launch")

    assert "Their secret launch" not in client.get("/heatmaps/").get_data(as_text=True)
    assert client.get(f"/heatmaps/{theirs.short_id}").status_code == 404
    assert client.get(f"/heatmaps/{theirs.short_id}/card").status_code == 404


def test_a_processing_card_asks_to_be_polled_and_a_finished_one_does_not(
    client: FlaskClient, logged_in: User, make_heatmap: MakeHeatmap, complete: Any
) -> None:
    heatmap = make_heatmap(name="Home", widths=[375, 1440])
    processing = client.get(f"/heatmaps/{heatmap.short_id}/card").get_data(as_text=True)
    complete(heatmap)
    finished = client.get(f"/heatmaps/{heatmap.short_id}/card").get_data(as_text=True)

    assert processing.lstrip().startswith("<li") and f'data-live-url="/heatmaps/{heatmap.short_id}/card"' in processing
    assert "0 of 2 widths captured" in processing
    assert "data-live-url" not in finished and "/thumbnails/375.jpg" in finished


# --- create ---------------------------------------------------------------------------------------


def test_creating_a_heatmap_with_a_preset_saves_it_and_opens_its_page(
    client: FlaskClient, auth: AuthActions, logged_in: User, capture_site: Any
) -> None:
    response = post_form(client, auth, "/heatmaps/new", url=capture_site.url(), name="Landing", preset="tablet",
                         widths="ignored when a preset is chosen", block_consent_modals="y")

    heatmap = db.session.scalar(select(SavedHeatmap))
    assert response.status_code == 302 and response.headers["Location"] == f"/heatmaps/{heatmap.short_id}"
    assert (heatmap.name, heatmap.target_widths, heatmap.block_consent_modals) == ("Landing", [768, 1024], True)
    assert heatmap.status == "processing" and heatmap.created_by_id == logged_in.id


def test_custom_widths_are_read_from_the_widths_field(
    client: FlaskClient, auth: AuthActions, logged_in: User, capture_site: Any
) -> None:
    post_form(client, auth, "/heatmaps/new", url=capture_site.url(), preset="custom", widths="1280, 360 px, 1280")

    assert db.session.scalar(select(SavedHeatmap.target_widths)) == [360, 1280]


def test_a_refused_url_shows_the_reason_next_to_the_field_and_keeps_the_input(
    client: FlaskClient, auth: AuthActions, logged_in: User
) -> None:
    response = post_form(client, auth, "/heatmaps/new", url="http://10.0.0.8/admin", name="Intranet", preset="mobile")

    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert re.search(r'<p class="field-error" id="url-error">[^<]*private', page)
    assert 'aria-describedby="url-hint url-error"' in page and 'aria-invalid="true"' in page
    assert 'value="http://10.0.0.8/admin"' in page and 'value="Intranet"' in page
    assert re.search(r'id="preset-mobile" value="mobile"\s+checked', page)
    assert db.session.scalar(select(SavedHeatmap)) is None


@pytest.mark.parametrize(
    ("widths", "message"),
    [("wide", "whole numbers"), ("50", "between 100 and 3000"), ("", "at least one width")],
)
def test_bad_custom_widths_get_a_form_error(
    client: FlaskClient, auth: AuthActions, logged_in: User, capture_site: Any, widths: str, message: str
) -> None:
    response = post_form(client, auth, "/heatmaps/new", url=capture_site.url(), preset="custom", widths=widths)

    assert response.status_code == 400
    assert re.search(rf'id="widths-error">[^<]*{message}', response.get_data(as_text=True))


def test_a_missing_url_gets_a_form_error(client: FlaskClient, auth: AuthActions, logged_in: User) -> None:
    response = post_form(client, auth, "/heatmaps/new", url="", preset="all")

    assert response.status_code == 400 and 'id="url-error"' in response.get_data(as_text=True)


def test_creating_too_many_heatmaps_is_throttled_with_retry_after(make_app: Any, capture_site: Any) -> None:
    app = make_app(CAPTURE_ALLOW_HOSTS=capture_site.host_port, HEATMAP_CREATE_RATE_LIMIT="1/minute")
    client = app.test_client()
    auth = AuthActions(client)
    with app.app_context():
        create_user("ada@example.com", PASSWORD)
        auth.login()
        statuses = [post_form(client, auth, "/heatmaps/new", url=capture_site.url(), preset="all") for _ in range(2)]

    assert statuses[0].status_code == 302
    assert statuses[1].status_code == 429 and int(statuses[1].headers["Retry-After"]) > 0
    assert "Try again in" in statuses[1].get_data(as_text=True)


def test_refused_urls_are_throttled_with_a_form_error_that_gives_no_reason(make_app: Any) -> None:
    app = make_app(HEATMAP_REFUSED_URL_RATE_LIMIT="1/minute")
    client = app.test_client()
    auth = AuthActions(client)
    with app.app_context():
        create_user("ada@example.com", PASSWORD)
        auth.login()
        responses = [post_form(client, auth, "/heatmaps/new", url=f"http://intranet{n}.invalid/", preset="all")
                     for n in range(2)]

    assert responses[0].status_code == 400 and "does not resolve" in responses[0].get_data(as_text=True)
    assert responses[1].status_code == 429 and int(responses[1].headers["Retry-After"]) > 0
    page = responses[1].get_data(as_text=True)
    assert "refused in a short time" in page and "does not resolve" not in page


# --- detail ---------------------------------------------------------------------------------------


def test_the_detail_page_shows_the_chosen_width_at_real_size_with_the_page_height(
    client: FlaskClient, logged_in: User, make_heatmap: MakeHeatmap, store_shot: Any
) -> None:
    heatmap = make_heatmap(name="Home", widths=[375, 1440])
    store_shot(heatmap, 375, height=2400, page_height=2400)

    page = client.get(f"/heatmaps/{heatmap.short_id}?width=375").get_data(as_text=True)

    assert f'src="/heatmaps/{heatmap.short_id}/screenshots/375.jpg?v=' in page
    assert 'width="375" height="2400"' in page
    assert "2,400 px" in page
    assert re.search(r'href="[^"]*width=375"\s+aria-current="page"', page)


def test_the_detail_page_serves_the_nearest_width_and_says_so(
    client: FlaskClient, logged_in: User, make_heatmap: MakeHeatmap, store_shot: Any
) -> None:
    heatmap = make_heatmap(name="Home", widths=[375, 1024, 1440])
    store_shot(heatmap, 1024)

    page = client.get(f"/heatmaps/{heatmap.short_id}?width=1440").get_data(as_text=True)

    assert "There is no screenshot at 1440 px yet" in page and "<strong>1024 px</strong>" in page
    assert "/screenshots/1024.jpg" in page


def test_while_processing_the_detail_page_shows_progress_per_width(
    client: FlaskClient, logged_in: User, make_heatmap: MakeHeatmap, store_shot: Any
) -> None:
    heatmap = make_heatmap(name="Home", widths=[375, 1440])
    store_shot(heatmap, 375, page_height=3100)

    viewer = client.get(f"/heatmaps/{heatmap.short_id}/viewer").get_data(as_text=True)

    assert viewer.lstrip().startswith("<section") and "data-live-url" in viewer
    assert "1 of 2 widths captured" in viewer
    assert "Captured · 3,100 px tall" in viewer and "Capturing…" in viewer


def test_a_failed_heatmap_shows_its_error(
    client: FlaskClient, logged_in: User, make_heatmap: MakeHeatmap
) -> None:
    heatmap = fail(make_heatmap(name="Sale"), "The page answered HTTP 404 Not Found")

    page = client.get(f"/heatmaps/{heatmap.short_id}").get_data(as_text=True)

    assert ">Failed</span>" in page and "The page answered HTTP 404 Not Found" in page
    assert "data-live-url" not in page


def test_rename_changes_the_name(
    client: FlaskClient, auth: AuthActions, logged_in: User, make_heatmap: MakeHeatmap
) -> None:
    heatmap = make_heatmap(name="Old name")

    response = post_form(client, auth, f"/heatmaps/{heatmap.short_id}/rename", name="Spring campaign")

    assert response.status_code == 302
    db.session.refresh(heatmap)
    assert heatmap.name == "Spring campaign"


def test_an_empty_name_is_refused_on_the_detail_page(
    client: FlaskClient, auth: AuthActions, logged_in: User, make_heatmap: MakeHeatmap
) -> None:
    heatmap = make_heatmap(name="Keep me")

    response = post_form(client, auth, f"/heatmaps/{heatmap.short_id}/rename", name="")

    assert response.status_code == 400 and 'id="name-error"' in response.get_data(as_text=True)
    db.session.refresh(heatmap)
    assert heatmap.name == "Keep me"


def test_regenerate_starts_a_new_capture_and_keeps_the_old_screenshots_in_the_history(
    client: FlaskClient, auth: AuthActions, logged_in: User, make_heatmap: MakeHeatmap, complete: Any
) -> None:
    heatmap = complete(make_heatmap(name="Home", widths=[1440]))
    generation = heatmap.capture_generation

    response = post_form(client, auth, f"/heatmaps/{heatmap.short_id}/regenerate", width="1440")

    db.session.refresh(heatmap)
    assert response.headers["Location"] == f"/heatmaps/{heatmap.short_id}?width=1440"
    assert heatmap.status == "processing" and heatmap.capture_generation == generation + 1
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "/screenshots/1440.jpg" not in page  # the new run's screenshot is not there yet
    assert f"/heatmaps/{heatmap.short_id}/runs/{generation}/1440.jpg" in page


def test_a_new_url_being_captured_never_shows_the_old_pages_screenshot(
    client: FlaskClient, auth: AuthActions, logged_in: User, make_heatmap: MakeHeatmap, complete: Any
) -> None:
    heatmap = complete(make_heatmap(name="Home", widths=[1440]))
    generation = heatmap.capture_generation

    heatmaps.update_heatmap(heatmap, {"url": "https://93.184.216.34/new-page"})

    page = client.get(f"/heatmaps/{heatmap.short_id}?width=1440").get_data(as_text=True)
    assert f"/runs/{generation}/1440.jpg" not in page and "/screenshots/1440.jpg" not in page


def test_delete_removes_the_heatmap_from_the_list(
    client: FlaskClient, auth: AuthActions, logged_in: User, make_heatmap: MakeHeatmap
) -> None:
    heatmap = make_heatmap(name="Old campaign")

    response = post_form(client, auth, f"/heatmaps/{heatmap.short_id}/delete")

    assert response.headers["Location"] == "/heatmaps/"
    assert "Old campaign" not in card_names(client.get("/heatmaps/").get_data(as_text=True))
    assert client.get(f"/heatmaps/{heatmap.short_id}").status_code == 404


# --- images ---------------------------------------------------------------------------------------


def test_thumbnails_are_small_jpegs_cached_with_an_etag(
    client: FlaskClient, logged_in: User, make_heatmap: MakeHeatmap, store_shot: Any
) -> None:
    heatmap = make_heatmap(widths=[1440])
    store_shot(heatmap, 1440, height=5000)
    path = f"/heatmaps/{heatmap.short_id}/thumbnails/1440.jpg"

    first = client.get(path)
    again = client.get(path, headers={"If-None-Match": first.headers["ETag"]})

    assert first.status_code == 200 and first.mimetype == "image/jpeg"
    assert len(first.data) < len(client.get(f"/heatmaps/{heatmap.short_id}/screenshots/1440.jpg").data)
    assert "private" in first.headers["Cache-Control"]
    assert again.status_code == 304


def test_images_of_missing_widths_and_other_projects_are_not_found(
    client: FlaskClient, logged_in: User, other_user: User, make_heatmap: MakeHeatmap, store_shot: Any
) -> None:
    mine = make_heatmap(widths=[1440])
    theirs = make_heatmap(owner=other_user, widths=[1440])
    store_shot(theirs, 1440)

    assert client.get(f"/heatmaps/{mine.short_id}/thumbnails/1440.jpg").status_code == 404
    assert client.get(f"/heatmaps/{theirs.short_id}/screenshots/1440.jpg").status_code == 404
    assert client.get(f"/heatmaps/{theirs.short_id}/thumbnails/1440.jpg").status_code == 404
