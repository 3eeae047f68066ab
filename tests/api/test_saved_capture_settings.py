"""Capture settings through the API: saved encrypted, shown masked, kept, replaced and removed, and sent
to the worker only as the heatmap's id; bad settings get a 400 that names no secret."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from click.testing import Result
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from heatmap_app.extensions import db
from heatmap_app.models import SavedHeatmap
from heatmap_app.secretbox import UnreadableSecret
from jobs.capture import capture_request
from tests.api.conftest import PAGE_URL, queued_captures

HEADER_SECRET = "Bearer hdr-s3cret-7f1e"
COOKIE_SECRET = "ck-s3cret-90aa"
PASSWORD_SECRET = "pw-s3cret-41bd"
SECRETS = (HEADER_SECRET, "hdr-s3cret-7f1e", COOKIE_SECRET, PASSWORD_SECRET)
SETTINGS = {
    "headers": [{"name": "Authorization", "value": HEADER_SECRET}, {"name": "X-Preview", "value": "preview-1"}],
    "cookies": [{"name": "session", "value": COOKIE_SECRET}],
    "wait_for_selector": "#app",
    "delay_seconds": 1.5,
    "hide_selectors": ["#chat", ".popup"],
    "device_scale_factor": 2,
}


def assert_no_secret(text_: str) -> None:
    for secret in SECRETS:
        assert secret not in text_


def raw_settings_column() -> str:
    return " ".join(str(row[0]) for row in db.session.execute(text("SELECT capture_settings FROM saved_heatmap")))


def create(client: FlaskClient, saved_url: Any, headers: dict[str, str], settings: dict[str, Any]) -> Any:
    return client.post(saved_url(), json={"url": PAGE_URL, "capture_settings": settings}, headers=headers)


def test_settings_are_saved_encrypted_and_shown_masked(
    client: FlaskClient, write_headers: dict[str, str], saved_url: Any, capture_queue: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = {**SETTINGS, "headers": SETTINGS["headers"][1:], "basic_auth": {"username": "ada", "password": PASSWORD_SECRET}}

    response = create(client, saved_url, write_headers, settings)

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["capture_settings"] == {
        "headers": [{"name": "X-Preview", "value_set": True}],
        "cookies": [{"name": "session", "value_set": True, "domain": None, "path": "/"}],
        "basic_auth": {"username": "ada", "password_set": True},
        "wait_for_selector": "#app", "delay_seconds": 1.5, "hide_selectors": ["#chat", ".popup"],
        "device_scale_factor": 2,
    }
    assert (body["source"], body["user_access_level"]) == ("server", "editor")
    assert_no_secret(response.get_data(as_text=True))
    raw = raw_settings_column()
    assert "session" in raw and "gAAAAA" in raw, "the row holds the settings, secrets as Fernet tokens"
    assert_no_secret(raw)
    assert "preview-1" not in raw
    assert queued_captures(capture_queue) == [("jobs.capture.capture_heatmap", body["id"], 1)]
    assert_no_secret(repr([job.args for job in capture_queue.get_jobs()]) + repr([job.kwargs for job in capture_queue.get_jobs()]))
    retrieved = client.get(saved_url(f"{body['short_id']}/"), headers=write_headers)
    assert_no_secret(retrieved.get_data(as_text=True))
    assert_no_secret(caplog.text)


def test_the_worker_gets_the_decrypted_settings_and_the_request_hides_them_from_repr(
    client: FlaskClient, write_headers: dict[str, str], saved_url: Any
) -> None:
    body = create(client, saved_url, write_headers, SETTINGS).get_json()

    request = capture_request(db.session.get(SavedHeatmap, body["id"]))

    assert request.headers == (("Authorization", HEADER_SECRET), ("X-Preview", "preview-1"))
    assert [(cookie.name, cookie.value, cookie.domain, cookie.path) for cookie in request.cookies] == [
        ("session", COOKIE_SECRET, None, "/")
    ]
    assert (request.wait_for_selector, request.delay_seconds, request.hide_selectors, request.device_scale_factor) == (
        "#app", 1.5, ("#chat", ".popup"), 2
    )
    assert_no_secret(repr(request))


def test_a_patch_keeps_replaces_and_removes_secrets(
    client: FlaskClient, write_headers: dict[str, str], saved_url: Any
) -> None:
    body = create(client, saved_url, write_headers, SETTINGS).get_json()
    detail = saved_url(f"{body['short_id']}/")

    # What was read back, sent back unchanged: nothing changes, nothing is captured again.
    same = client.patch(detail, json={"capture_settings": body["capture_settings"]}, headers=write_headers)
    assert same.status_code == 200 and same.get_json()["capture_settings"] == body["capture_settings"]
    heatmap = db.session.get(SavedHeatmap, body["id"])
    assert heatmap.capture_generation == 1
    assert capture_request(heatmap).headers[0] == ("Authorization", HEADER_SECRET)

    replaced = client.patch(detail, json={"capture_settings": {"headers": [
        {"name": "Authorization", "value": "Bearer new-token"},
    ]}}, headers=write_headers)
    assert replaced.status_code == 200
    db.session.expire_all()
    heatmap = db.session.get(SavedHeatmap, body["id"])
    assert heatmap.capture_generation == 2, "a changed secret regenerates"
    assert capture_request(heatmap).headers == (("Authorization", "Bearer new-token"),)
    assert [cookie.value for cookie in capture_request(heatmap).cookies] == [COOKIE_SECRET], "untouched keys stay"

    removed = client.patch(detail, json={"capture_settings": {"headers": [], "cookies": []}}, headers=write_headers)
    assert removed.get_json()["capture_settings"]["headers"] == []
    db.session.expire_all()
    assert capture_request(db.session.get(SavedHeatmap, body["id"])).cookies == ()


@pytest.mark.parametrize(
    ("settings", "attr"),
    [
        ({"headers": [{"name": "Authorization", "value": HEADER_SECRET + "\r\nX-Evil: 1"}]}, "capture_settings.headers[0].value"),
        ({"headers": [{"name": "Bad Name", "value": HEADER_SECRET}]}, "capture_settings.headers[0].name"),
        ({"headers": [{"name": "Host", "value": HEADER_SECRET}]}, "capture_settings.headers[0].name"),
        ({"headers": [{"name": "X-New"}]}, "capture_settings.headers[0].value"),
        ({"cookies": [{"name": "session", "value": COOKIE_SECRET + "; Domain=evil"}]}, "capture_settings.cookies[0].value"),
        ({"cookies": [{"name": "session", "value": COOKIE_SECRET, "domain": "evil.example"}]}, "capture_settings.cookies[0].domain"),
        ({"basic_auth": {"username": "a:b", "password": PASSWORD_SECRET}}, "capture_settings.basic_auth.username"),
        ({"basic_auth": {"username": "ada", "password": PASSWORD_SECRET},
          "headers": [{"name": "authorization", "value": HEADER_SECRET}]}, "capture_settings.basic_auth"),
        ({"delay_seconds": 16}, "capture_settings.delay_seconds"),
        ({"delay_seconds": True}, "capture_settings.delay_seconds"),
        ({"device_scale_factor": 3}, "capture_settings.device_scale_factor"),
        ({"hide_selectors": ["#a { color: red }"]}, "capture_settings.hide_selectors"),
        ({"hide_selectors": ["#x"] * 21}, "capture_settings.hide_selectors"),
        ({"wait_for_selector": "x" * 501}, "capture_settings.wait_for_selector"),
        ({"colour": "red"}, "capture_settings.colour"),
        ("not an object", "capture_settings"),
    ],
)
def test_bad_settings_get_a_400_naming_the_field_and_no_secret(
    client: FlaskClient, write_headers: dict[str, str], saved_url: Any, settings: Any, attr: str
) -> None:
    response = create(client, saved_url, write_headers, settings)

    assert response.status_code == 400
    assert response.get_json()["attr"] == attr
    assert_no_secret(response.get_data(as_text=True))
    assert db.session.scalar(text("SELECT count(*) FROM saved_heatmap")) == 0


def test_a_cookie_domain_is_checked_again_when_the_url_changes(
    client: FlaskClient, write_headers: dict[str, str], saved_url: Any
) -> None:
    body = create(client, saved_url, write_headers, {"cookies": [
        {"name": "session", "value": COOKIE_SECRET, "domain": "93.184.216.34", "path": "/pricing"},
    ]}).get_json()
    assert body["capture_settings"]["cookies"][0]["domain"] == "93.184.216.34"

    moved = client.patch(saved_url(f"{body['short_id']}/"), json={"url": "https://93.184.216.35/"}, headers=write_headers)

    assert moved.status_code == 400 and moved.get_json()["attr"] == "capture_settings.cookies[0].domain"


def test_rotation_re_encrypts_every_secret_under_the_new_key(
    make_app: Any, app: Flask, client: FlaskClient, write_headers: dict[str, str], saved_url: Any
) -> None:
    body = create(client, saved_url, write_headers, SETTINGS).get_json()
    old_key = app.config["CAPTURE_SECRET_KEYS"][0]
    new_key = Fernet.generate_key().decode()
    rotating = make_app(CAPTURE_SECRET_KEYS=[new_key, old_key])

    with rotating.app_context():
        result: Result = rotating.test_cli_runner().invoke(args=["rotate-capture-secrets"])
    assert result.exit_code == 0, result.output
    assert "1 heatmaps" in result.output

    with make_app(CAPTURE_SECRET_KEYS=[new_key]).app_context():
        assert capture_request(db.session.get(SavedHeatmap, body["id"])).headers[0] == ("Authorization", HEADER_SECRET)
    with make_app(CAPTURE_SECRET_KEYS=[old_key]).app_context():
        with pytest.raises(UnreadableSecret):
            capture_request(db.session.get(SavedHeatmap, body["id"]))


def test_null_settings_drop_every_saved_secret(client: FlaskClient, write_headers: dict[str, str], saved_url: Any) -> None:
    body = create(client, saved_url, write_headers, SETTINGS).get_json()

    response = client.patch(saved_url(f"{body['short_id']}/"), json={"capture_settings": None}, headers=write_headers)

    assert response.status_code == 200
    assert response.get_json()["capture_settings"]["headers"] == []
    assert "gAAAAA" not in raw_settings_column()
    assert db.session.get(SavedHeatmap, body["id"]).capture_generation == 2
