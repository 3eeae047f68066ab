"""POST saved/: validated input becomes a heatmap; a screenshot heatmap is queued for capture."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from heatmap_app import heatmaps
from heatmap_app.heatmap_schemas import UserBasic
from heatmap_app.extensions import db
from heatmap_app.models import SavedHeatmap
from tests.api.conftest import PAGE_URL, queued_captures

OBJECT_KEYS = {
    "id", "short_id", "name", "url", "data_url", "target_widths", "type", "status", "has_content", "snapshots",
    "deleted", "block_consent_modals", "created_by", "created_at", "updated_at", "exception",
    "recapture", "change_webhook_url", "changed_at",  # our extension: schedule and change alerts
    "source", "user_access_level", "capture_settings",
}


def heatmap_count() -> int:
    return db.session.scalar(select(func.count(SavedHeatmap.id)))


def test_creates_a_screenshot_heatmap_with_the_defaults_and_answers_201_with_the_object(
    client: FlaskClient, write_headers, saved_url, user
) -> None:
    response = client.post(saved_url(), json={"url": PAGE_URL}, headers=write_headers)

    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == OBJECT_KEYS
    assert len(body["short_id"]) == 8 and body["short_id"].isalnum()
    assert body["url"] == body["data_url"] == PAGE_URL
    assert body["target_widths"] == [320, 375, 425, 768, 1024, 1440, 1920]
    assert (body["type"], body["status"], body["exception"]) == ("screenshot", "processing", None)
    assert (body["has_content"], body["snapshots"], body["deleted"], body["block_consent_modals"]) == (
        False, [], False, False,
    )
    assert body["created_by"] == UserBasic.of(user).model_dump(mode="json")
    assert body["created_at"].endswith("Z") and body["updated_at"].endswith("Z")


def test_a_screenshot_heatmap_is_enqueued_on_the_real_capture_queue(
    client: FlaskClient, write_headers, saved_url, capture_queue
) -> None:
    body = client.post(saved_url(), json={"url": PAGE_URL}, headers=write_headers).get_json()

    generation = db.session.get(SavedHeatmap, body["id"]).capture_generation
    assert queued_captures(capture_queue) == [("jobs.capture.capture_heatmap", body["id"], generation)]


def test_an_iframe_heatmap_starts_completed_and_is_not_captured(
    client: FlaskClient, write_headers, saved_url, capture_queue
) -> None:
    response = client.post(saved_url(), json={"url": PAGE_URL, "type": "iframe"}, headers=write_headers)

    assert response.status_code == 201
    assert response.get_json()["status"] == "completed"
    assert queued_captures(capture_queue) == []


def test_takes_every_writable_field_and_drops_duplicate_widths(
    client: FlaskClient, write_headers, saved_url
) -> None:
    response = client.post(
        "/api/environments/@current/saved",
        json={
            "url": PAGE_URL, "name": "Pricing page", "data_url": "https://93.184.216.34/pricing*",
            "widths": [1440, 320, 1440, 100, 3000], "block_consent_modals": True,
        },
        headers=write_headers,
    )

    body = response.get_json()
    assert response.status_code == 201
    assert (body["name"], body["data_url"]) == ("Pricing page", "https://93.184.216.34/pricing*")
    assert body["target_widths"] == [100, 320, 1440, 3000]
    assert body["block_consent_modals"] is True


@pytest.mark.parametrize(
    ("payload", "attr"),
    [
        ({}, "url"),
        ({"url": None}, "url"),
        ({"url": 42}, "url"),
        ({"url": ""}, "url"),
        ({"url": PAGE_URL + "x" * 2000}, "url"),
        ({"url": PAGE_URL, "name": "n" * 5000}, "name"),
        ({"url": PAGE_URL, "name": ["Pricing"]}, "name"),
        ({"url": PAGE_URL, "data_url": 5}, "data_url"),
        ({"url": PAGE_URL, "widths": list(range(200, 1900, 100))}, "widths"),  # 17 widths
        ({"url": PAGE_URL, "widths": [99]}, "widths"),
        ({"url": PAGE_URL, "widths": [3001]}, "widths"),
        ({"url": PAGE_URL, "widths": []}, "widths"),
        ({"url": PAGE_URL, "widths": "1024"}, "widths"),
        ({"url": PAGE_URL, "widths": [1024.5]}, "widths"),
        ({"url": PAGE_URL, "widths": [True]}, "widths"),
        ({"url": PAGE_URL, "type": "video"}, "type"),
        ({"url": PAGE_URL, "type": None}, "type"),
        ({"url": PAGE_URL, "block_consent_modals": "yes"}, "block_consent_modals"),
    ],
)
def test_invalid_input_answers_400_naming_the_field_and_saves_nothing(
    client: FlaskClient, write_headers, saved_url, capture_queue, payload, attr
) -> None:
    response = client.post(saved_url(), json=payload, headers=write_headers)

    assert response.status_code == 400
    body = response.get_json()
    assert (body["type"], body["code"], body["attr"]) == ("validation_error", "invalid_input", attr)
    assert body["detail"]
    assert heatmap_count() == 0 and queued_captures(capture_queue) == []


@pytest.mark.parametrize("raw_body", [b"{not json", b"[1, 2]", b'"https://93.184.216.34/"', b""])
def test_a_body_that_is_not_a_json_object_answers_400(
    client: FlaskClient, write_headers, saved_url, raw_body: bytes
) -> None:
    response = client.post(saved_url(), data=raw_body, headers=write_headers, content_type="application/json")

    assert response.status_code == 400
    assert response.get_json()["type"] == "validation_error"
    assert heatmap_count() == 0


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:8000/admin", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://localhost/", "localhost"),
        ("file:///etc/passwd", "Only http and https"),
        ("http://nowhere.invalid/", "does not resolve"),
    ],
)
def test_an_unsafe_url_answers_400_with_the_reason_and_enqueues_nothing(
    client: FlaskClient, write_headers, saved_url, capture_queue, url: str, reason: str
) -> None:
    response = client.post(saved_url(), json={"url": url}, headers=write_headers)

    assert response.status_code == 400
    assert response.get_json()["attr"] == "url"
    assert reason in response.get_json()["detail"]
    assert heatmap_count() == 0 and queued_captures(capture_queue) == []


def test_a_host_in_capture_allow_hosts_may_be_captured(app, client: FlaskClient, write_headers, saved_url) -> None:
    app.config["CAPTURE_ALLOW_HOSTS"] = "127.0.0.1:8000"

    response = client.post(saved_url(), json={"url": "http://127.0.0.1:8000/fixture.html"}, headers=write_headers)

    assert response.status_code == 201


def test_a_read_only_key_cannot_create(client: FlaskClient, read_headers, saved_url) -> None:
    response = client.post(saved_url(), json={"url": PAGE_URL}, headers=read_headers)

    assert response.status_code == 403
    assert response.get_json()["attr"] == "scope"


def test_creating_is_rate_limited_per_user_with_retry_after(
    app, client: FlaskClient, write_headers, saved_url, bearer, other_user
) -> None:
    app.config["HEATMAP_CREATE_RATE_LIMIT"] = "2/minute;40/day"
    statuses = [client.post(saved_url(), json={"url": PAGE_URL}, headers=write_headers).status_code for _ in range(3)]
    throttled = client.post(saved_url(), json={"url": PAGE_URL}, headers=write_headers)
    others = client.post(
        f"/api/projects/{other_user.current_project_id}/saved/", json={"url": PAGE_URL},
        headers=bearer("heatmap:write", owner=other_user),
    )

    assert statuses == [201, 201, 429]
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["Retry-After"]) <= 60
    assert throttled.get_json()["type"] == "throttled_error" and throttled.get_json()["code"] == "throttled"
    assert heatmap_count() == 3  # two of ours, one of Grace's
    assert others.status_code == 201


def test_the_daily_limit_applies_too(app, client: FlaskClient, write_headers, saved_url) -> None:
    app.config["HEATMAP_CREATE_RATE_LIMIT"] = "10/minute;2/day"
    statuses = [client.post(saved_url(), json={"url": PAGE_URL}, headers=write_headers).status_code for _ in range(3)]

    assert statuses == [201, 201, 429]


def test_the_rate_limit_is_shared_with_the_service_the_web_ui_calls(
    app, client: FlaskClient, write_headers, saved_url, user, project
) -> None:
    app.config["HEATMAP_CREATE_RATE_LIMIT"] = "1/minute"
    created = client.post(saved_url(), json={"url": PAGE_URL}, headers=write_headers)

    with pytest.raises(heatmaps.CreateRateLimited) as limited:
        heatmaps.create_heatmap(project, user, {"url": PAGE_URL})

    assert created.status_code == 201
    assert limited.value.retry_after >= 1


def test_invalid_requests_do_not_use_up_the_rate_limit(app, client: FlaskClient, write_headers, saved_url) -> None:
    app.config["HEATMAP_CREATE_RATE_LIMIT"] = "1/minute"
    rejected = [
        client.post(saved_url(), json={"url": "http://localhost/"}, headers=write_headers).status_code for _ in range(3)
    ]
    accepted = client.post(saved_url(), json={"url": PAGE_URL}, headers=write_headers)

    assert rejected == [400, 400, 400]
    assert accepted.status_code == 201


def test_refused_urls_count_against_a_limit_of_their_own_and_past_it_no_reason_is_told(
    app, client: FlaskClient, write_headers, saved_url, make_heatmap, bearer, other_user
) -> None:
    """Each refusal tells whether a name resolves inside the operator's network: they cannot be asked for freely."""
    app.config["HEATMAP_REFUSED_URL_RATE_LIMIT"] = "2/minute"
    heatmap = make_heatmap()
    refused = [client.post(saved_url(), json={"url": f"http://db{n}.invalid/"}, headers=write_headers)
               for n in range(2)]
    patched = client.patch(saved_url(f"{heatmap.short_id}/"), json={"url": "http://db3.invalid/"},
                           headers=write_headers)
    accepted = client.post(saved_url(), json={"url": PAGE_URL}, headers=write_headers)
    others = client.post(
        f"/api/projects/{other_user.current_project_id}/saved/", json={"url": "http://db4.invalid/"},
        headers=bearer("heatmap:write", owner=other_user),
    )

    assert [response.status_code for response in refused] == [400, 400]
    assert patched.status_code == 429 and 1 <= int(patched.headers["Retry-After"]) <= 60
    assert patched.get_json()["code"] == "throttled" and "resolve" not in patched.get_json()["detail"]
    db.session.refresh(heatmap)
    assert heatmap.url == PAGE_URL
    assert accepted.status_code == 201  # a URL that may be captured is not held up by the refusals
    assert others.status_code == 400  # another project has a limit of its own
