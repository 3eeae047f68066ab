"""Ingestion: what posthog-js posts is decoded, checked item by item and stored as PostHog stores it."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient

from heatmap_app.extensions import db
from heatmap_app.models import (
    InteractionDailyCount,
    InteractionDailyViewport,
    InteractionDailyVisitor,
    InteractionPage,
    InteractionPoint,
    Project,
)
from tests.interactions.conftest import PAGE, click, heatmap_event


def points() -> list[tuple[Any, ...]]:
    return [(p.type, p.x, p.y, p.pointer_target_fixed, p.viewport_width, p.viewport_height)
            for p in db.session.query(InteractionPoint).order_by(InteractionPoint.id)]


def batch(project: Project, *events: dict[str, Any]) -> bytes:
    return json.dumps({"api_key": project.api_token, "batch": list(events),
                       "sent_at": datetime.now(UTC).isoformat()}).encode()


def test_a_gzip_batch_is_stored_in_16_px_units_with_its_daily_counts(send: Callable[..., Any]) -> None:
    response = send([heatmap_event([click(400, 300), click(400, 300), click(100, 40, fixed=True)])])

    assert response.status_code == 200
    assert response.get_json() == {"status": 1}
    assert points() == [("click", 25, 19, False, 90, 56), ("click", 25, 19, False, 90, 56),
                        ("click", 6, 3, True, 90, 56)]
    point = db.session.query(InteractionPoint).first()
    assert (point.session_id, point.distinct_id, point.scale_factor) == ("session-1", "visitor-1", 16)
    counts = {(c.x, c.y, c.pointer_target_fixed): c.count for c in db.session.query(InteractionDailyCount)}
    assert counts == {(25, 19, False): 2, (6, 3, True): 1}
    assert db.session.query(InteractionDailyVisitor).count() == 2  # one visitor per position and day
    viewport = db.session.query(InteractionDailyViewport).one()
    assert (viewport.interactions, viewport.unfixed, viewport.below_fold) == (3, 2, 0)


def test_a_second_batch_adds_to_the_same_day(send: Callable[..., Any]) -> None:
    send([heatmap_event([click(400, 300)])])
    send([heatmap_event([click(400, 300)], distinct_id="visitor-2")])

    assert db.session.query(InteractionDailyCount).one().count == 2
    assert db.session.query(InteractionDailyVisitor).count() == 2
    assert db.session.query(InteractionPage).count() == 1


def test_plain_json_and_every_batch_path_are_accepted(send: Callable[..., Any]) -> None:
    for path in ("/e/", "/batch/", "/capture/", "/track", "/i/v0/e"):
        assert send([heatmap_event([click(10, 10)])], path=path, compress=False).status_code == 200
    assert len(points()) == 5


def test_base64_form_bodies_of_the_beacon_fallback_are_accepted(client: FlaskClient, project: Project) -> None:
    encoded = base64.b64encode(batch(project, heatmap_event([click(160, 320)]))).decode()
    response = client.post("/e/?compression=base64", data=f"data={quote(encoded)}",
                           content_type="application/x-www-form-urlencoded")

    assert response.status_code == 200
    assert points() == [("click", 10, 20, False, 90, 56)]


def test_one_malformed_event_or_item_does_not_drop_the_good_ones(send: Callable[..., Any]) -> None:
    response = send([
        "not an event",
        {"event": "$$heatmap"},  # no properties
        heatmap_event([click(16, 16)], distinct_id="undefined"),  # an id PostHog refuses
        heatmap_event([click(16, 16)], width="wide"),  # no usable viewport
        heatmap_event([click(16, 16)], height=10**12),  # nor here
        heatmap_event([click(16, 16)], distinct_id="visitor\x00"),  # no database can store NUL
        heatmap_event([click(16, 16)], url=PAGE + "\ud800"),  # nor a lone surrogate
        heatmap_event([
            {"x": "12", "y": 5, "target_fixed": False, "type": "click"},  # x not a number
            {"x": 5, "y": 5, "target_fixed": "no", "type": "click"},  # not a boolean
            {"x": 5, "y": 5, "target_fixed": False},  # no type
            {"x": -5, "y": 5, "target_fixed": False, "type": "click"},  # off the page
            {"x": 5, "y": 5, "target_fixed": False, "type": "hover"},  # a type nobody reads
            {"x": 1e300, "y": 5, "target_fixed": False, "type": "click"},  # fits no column
            click(32, 48),
        ]),
        heatmap_event([click(64, 64, kind="rageclick")]),
    ])

    assert response.status_code == 200
    assert points() == [("click", 2, 3, False, 90, 56), ("rageclick", 4, 4, False, 90, 56)]


def test_a_pageleave_carries_the_scroll_depth_of_the_page_it_leaves(send: Callable[..., Any]) -> None:
    send([heatmap_event(event="$pageleave", url="https://shop.example/pricing?plan=pro",
                        **{"$prev_pageview_pathname": "/pricing", "$prev_pageview_max_scroll": 1200})])

    page = db.session.query(InteractionPage).one()
    assert page.url == "https://shop.example/pricing?plan=pro"
    assert points() == [("scrolldepth", 0, 75, False, 90, 56)]
    assert db.session.query(InteractionDailyCount).one().y == 75 + 56  # the depth reached: scroll plus screen


def test_an_event_without_heatmap_data_stores_nothing(send: Callable[..., Any]) -> None:
    assert send([heatmap_event(event="$pageview"), heatmap_event(event="$autocapture")]).status_code == 200
    assert points() == []
    assert db.session.query(InteractionPage).count() == 0


def test_a_page_url_with_query_parameters_is_kept_whole(send: Callable[..., Any], api_get: Callable[..., Any]) -> None:
    url = "https://shop.example/pricing?utm_source=mail&plan=pro#faq"
    send([heatmap_event([click(160, 160)], url=url)])

    assert db.session.query(InteractionPage).one().url == url
    assert len(api_get("heatmaps/", url_exact=url).get_json()["results"]) == 1
    assert api_get("heatmaps/", url_exact=PAGE).get_json()["results"] == []
    assert len(api_get("heatmaps/", url_pattern="https://shop.example/pricing*").get_json()["results"]) == 1


def test_no_ip_address_nor_anything_else_of_the_event_is_stored(
    client: FlaskClient, project: Project, app: Flask
) -> None:
    event = heatmap_event([click(16, 16)], **{"$ip": "203.0.113.9", "$browser": "Chrome", "email": "a@b.example"})
    client.post("/i/v0/e/", data=gzip.compress(batch(project, event)), content_type="text/plain",
                environ_base={"REMOTE_ADDR": "203.0.113.9"})

    with db.engine.connect() as connection:
        for table in ("interaction_page", "interaction_point", "interaction_daily_count", "interaction_daily_visitor",
                      "interaction_daily_viewport"):
            rows = connection.exec_driver_sql(f"SELECT * FROM {table}").all()
            assert rows, table
            text = repr(rows)
            for secret in ("203.0.113", "Chrome", "a@b.example"):
                assert secret not in text, f"{secret} stored in {table}"


def test_an_unknown_token_is_refused_with_401(send: Callable[..., Any]) -> None:
    response = send([heatmap_event([click(16, 16)])], token="phc_not_a_project")

    assert response.status_code == 401
    assert response.get_json()["code"] == "invalid_api_key"
    assert points() == []


def test_a_batch_without_a_token_is_refused(client: FlaskClient) -> None:
    response = client.post("/e/", data=json.dumps({"batch": [heatmap_event([click(1, 1)])]}),
                           content_type="application/json")
    assert response.status_code == 401


@pytest.mark.parametrize(("body", "content_type", "detail"), [
    (b"{not json", "application/json", "not valid JSON"),
    (b"\x1f\x8b\x08\x00garbage", "text/plain", "gzip body"),
    (gzip.compress(b'{"batch": []}')[:-6], "text/plain", "truncated"),
    (b"", "application/json", "empty"),
    (b"data=%%%", "application/x-www-form-urlencoded", "not valid base64"),
    (b"42", "application/json", "must be an event"),
])
def test_bad_bodies_get_a_clear_400(client: FlaskClient, body: bytes, content_type: str, detail: str) -> None:
    response = client.post("/i/v0/e/", data=body, content_type=content_type)

    assert response.status_code == 400
    assert detail in response.get_json()["detail"]
    assert response.get_json()["type"] == "validation_error"


def test_lz64_is_refused_by_name(client: FlaskClient) -> None:
    response = client.post("/e/?compression=lz64", data=b"N4Ig", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400 and "lz64" in response.get_json()["detail"]


def test_a_5_mb_body_is_refused_with_413(client: FlaskClient, project: Project) -> None:
    events = [heatmap_event([click(i % 1000, i % 700) for i in range(200)]) for _ in range(600)]
    body = batch(project, *events)
    assert len(body) > 5 * 1024 * 1024

    response = client.post("/e/", data=body, content_type="application/json")

    assert response.status_code == 413
    assert response.get_json()["code"] == "payload_too_large"
    assert points() == []


def test_a_gzip_bomb_is_refused_with_413(client: FlaskClient, project: Project) -> None:
    bomb = gzip.compress(b'{"batch": [' + b" " * (20 * 1024 * 1024) + b"]}")
    assert len(bomb) < 1024 * 1024

    response = client.post("/e/", data=bomb, content_type="text/plain")

    assert response.status_code == 413


def test_events_older_than_retention_are_not_stored(send: Callable[..., Any], app: Flask) -> None:
    retention = app.config["HEATMAP_DATA_RETENTION_DAYS"]
    points_retention = app.config["HEATMAP_POINTS_RETENTION_DAYS"]
    now = datetime.now(UTC)
    send([
        heatmap_event([click(16, 16)], timestamp=now - timedelta(days=retention, hours=1)),
        heatmap_event([click(32, 32)], timestamp=now - timedelta(days=points_retention + 1)),
        heatmap_event([click(48, 48)], timestamp=now - timedelta(minutes=5)),
    ])

    # Past the data retention: nothing. Past the points' retention: the daily counts only.
    assert [(c.x, c.y) for c in db.session.query(InteractionDailyCount).order_by(InteractionDailyCount.x)] == \
        [(2, 2), (3, 3)]
    assert points() == [("click", 3, 3, False, 90, 56)]


def test_a_clock_skewed_client_is_corrected_by_sent_at(client: FlaskClient, project: Project) -> None:
    now = datetime.now(UTC)
    skew = timedelta(days=3)  # the visitor's clock is three days fast
    event = heatmap_event([click(16, 16)], timestamp=now + skew - timedelta(seconds=10))
    body = json.dumps({"api_key": project.api_token, "batch": [event], "sent_at": (now + skew).isoformat()})
    client.post("/e/", data=body, content_type="application/json")

    stored = db.session.query(InteractionPoint).one().timestamp
    assert abs(stored - (now - timedelta(seconds=10))) < timedelta(seconds=5)


def test_the_batch_rate_is_limited_per_token(make_app: Any, user: Any) -> None:
    app = make_app(HEATMAP_INGEST_RATE_LIMIT="2/minute")
    with app.app_context():
        client = app.test_client()
        token = user.current_project.api_token
        body = json.dumps({"api_key": token, "batch": [heatmap_event([click(1, 1)])]})
        codes = [client.post("/e/", data=body, content_type="application/json").status_code for _ in range(3)]
        refused = client.post("/e/", data=body, content_type="application/json")

    assert codes == [200, 200, 429]
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.get_json()["code"] == "rate_limited"


def test_cors_lets_any_site_post_and_preflight(client: FlaskClient, project: Project) -> None:
    preflight = client.options("/i/v0/e/", headers={
        "Origin": "https://shop.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    posted = client.post("/i/v0/e/", data=batch(project, heatmap_event([click(1, 1)])),
                         content_type="application/json", headers={"Origin": "https://shop.example"})
    refused = client.post("/i/v0/e/", data=b"{", content_type="application/json", headers={"Origin": "https://shop.example"})

    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert preflight.headers["Access-Control-Allow-Headers"] == "content-type"
    for response in (posted, refused):  # errors too, so the library can read them
        assert response.headers["Access-Control-Allow-Origin"] == "https://shop.example"
        assert "Origin" in response.headers["Vary"]


def test_the_library_and_its_config_are_served_from_here_with_cors(client: FlaskClient, project: Project) -> None:
    origin = {"Origin": "https://shop.example"}
    bundle = client.get("/static/array.js", headers=origin)
    dead_clicks = client.get("/static/1.449.2/dead-clicks-autocapture.js", headers=origin)
    other_version = client.get("/static/1.0.0/dead-clicks-autocapture.js")
    script = client.get(f"/array/{project.api_token}/config.js", headers=origin)
    config = client.get(f"/array/{project.api_token}/config", headers=origin)
    flags = client.post("/flags/?v=2&config=true", content_type="text/plain", headers=origin,
                        data=gzip.compress(json.dumps({"token": project.api_token}).encode()))

    assert bundle.status_code == 200 and bundle.mimetype == "text/javascript"
    assert b"posthog" in bundle.data and bundle.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert dead_clicks.status_code == 200 and other_version.status_code == 404
    assert script.mimetype == "text/javascript"
    assert f'window._POSTHOG_REMOTE_CONFIG["{project.api_token}"]'.encode() in script.data
    assert config.get_json()["heatmaps"] is True
    assert config.get_json()["analytics"] == {"endpoint": "/i/v0/e/"}
    assert "surveys" not in config.get_json()  # with any value, posthog-js loads a surveys bundle
    assert flags.status_code == 200 and flags.get_json()["flags"] == {} and flags.get_json()["heatmaps"] is True
    assert client.get("/array/phc_unknown/config").status_code == 404
    unknown = client.post("/flags/?v=2", data=b'{"token": "phc_unknown"}', content_type="application/json")
    assert unknown.status_code == 401
