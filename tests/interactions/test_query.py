"""GET …/heatmaps/ and …/heatmaps/events/: PostHog's parameters and answers, from the stored data."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from heatmap_app.models import Project, User
from tests.interactions.conftest import PAGE, click, heatmap_event


@pytest.fixture
def data(send: Callable[..., Any]) -> None:
    """Two visitors on the pricing page at 1440 px, one on a phone, and another page."""
    send([
        heatmap_event([click(720, 400)] * 3 + [click(720, 1200)], distinct_id="ann"),
        heatmap_event([click(720, 400), click(0, 0), click(100, 40, fixed=True)], distinct_id="bob"),
        heatmap_event([click(195, 300)], distinct_id="cat", width=390, height=844),
        heatmap_event([click(720, 400)], url="https://shop.example/about", distinct_id="ann"),
        heatmap_event([click(300, 300, kind="rageclick")], distinct_id="ann"),
    ])


def results(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.get_json()
    return response.get_json()["results"]


def test_points_come_hottest_first_with_the_fold_summary(api_get: Callable[..., Any], data: None) -> None:
    response = api_get("heatmaps/", url_exact=PAGE, viewport_width_min=1296, viewport_width_max=1584)

    body = response.get_json()
    assert body["results"] == [
        {"pointer_target_fixed": False, "pointer_relative_x": 0.5, "pointer_y": 400, "count": 4},
        {"pointer_target_fixed": True, "pointer_relative_x": 0.07, "pointer_y": 48, "count": 1},
        {"pointer_target_fixed": False, "pointer_relative_x": 0.5, "pointer_y": 1200, "count": 1},
    ]
    assert body["has_more"] is False
    # Four non-fixed clicks (the (0, 0) one hidden), one of them below the 896 px screen.
    assert body["fold"] == {"total_count": 5, "below_fold_count": 1, "pct_below_fold": 20.0,
                            "median_viewport_height": 896}
    assert response.headers["Cache-Control"] == "max-age=30"


def test_unique_visitors_counts_people_not_clicks(api_get: Callable[..., Any], data: None) -> None:
    points = results(api_get("heatmaps/", url_exact=PAGE, aggregation="unique_visitors", viewport_width_min=1000))
    assert points[0] == {"pointer_target_fixed": False, "pointer_relative_x": 0.5, "pointer_y": 400, "count": 2}


def test_zero_coordinates_are_hidden_unless_asked_for(api_get: Callable[..., Any], data: None) -> None:
    shown = results(api_get("heatmaps/", url_exact=PAGE, hide_zero_coordinates="false", viewport_width_min=1000))
    assert {"pointer_target_fixed": False, "pointer_relative_x": 0.0, "pointer_y": 0, "count": 1} in shown
    assert len(results(api_get("heatmaps/", url_exact=PAGE, viewport_width_min=1000))) == len(shown) - 1


def test_viewport_widths_select_the_phone(api_get: Callable[..., Any], data: None) -> None:
    assert results(api_get("heatmaps/", url_exact=PAGE, viewport_width_max=420)) == [
        {"pointer_target_fixed": False, "pointer_relative_x": 0.5, "pointer_y": 304, "count": 1}]


def test_url_exact_ignores_a_trailing_slash_and_wins_over_a_pattern(api_get: Callable[..., Any], data: None) -> None:
    assert len(results(api_get("heatmaps/", url_exact=PAGE + "/"))) == 4
    assert len(results(api_get("heatmaps/", url_exact=PAGE, url_pattern="https://shop.example/about"))) == 4


def test_url_patterns_are_anchored_and_star_matches_anything(api_get: Callable[..., Any], data: None) -> None:
    everything = results(api_get("heatmaps/", url_pattern="https://shop.example/*"))
    assert sum(point["count"] for point in everything) == 4 + 1 + 1 + 1 + 1
    assert results(api_get("heatmaps/", url_pattern="shop.example/*")) == []  # anchored at the start
    assert results(api_get("heatmaps/", url_pattern="https://shop.example/pri")) == []  # and the end
    bad = api_get("heatmaps/", url_pattern="https://(shop")
    assert bad.status_code == 400 and bad.get_json()["attr"] == "url_pattern"


def test_no_url_filter_covers_the_whole_project(api_get: Callable[..., Any], data: None) -> None:
    assert sum(point["count"] for point in results(api_get("heatmaps/"))) == 8


def test_type_selects_the_interactions(api_get: Callable[..., Any], data: None) -> None:
    assert results(api_get("heatmaps/", type="rageclick")) == [
        {"pointer_target_fixed": False, "pointer_relative_x": 0.21, "pointer_y": 304, "count": 1}]
    assert results(api_get("heatmaps/", type="mousemove")) == []


def test_limit_offset_and_has_more_page_through_the_points(api_get: Callable[..., Any], data: None) -> None:
    first = api_get("heatmaps/", url_exact=PAGE, limit=1).get_json()
    second = api_get("heatmaps/", url_exact=PAGE, limit=1, offset=1).get_json()
    every = api_get("heatmaps/", url_exact=PAGE, limit=0).get_json()

    assert first["has_more"] is True and len(first["results"]) == 1
    assert second["results"][0] != first["results"][0]
    assert every["has_more"] is False and len(every["results"]) == 4


def test_dates_are_days_relative_or_absolute_and_date_to_is_inclusive(
    api_get: Callable[..., Any], send: Callable[..., Any]
) -> None:
    now = datetime.now(UTC)
    send([heatmap_event([click(160, 160)], timestamp=now - timedelta(days=10)),
          heatmap_event([click(320, 320)], timestamp=now)])
    ten_days_ago = (now - timedelta(days=10)).date().isoformat()

    assert len(results(api_get("heatmaps/"))) == 1  # -7d by default
    assert len(results(api_get("heatmaps/", date_from="-30d"))) == 2
    assert len(results(api_get("heatmaps/", date_from="-24h"))) == 1
    assert len(results(api_get("heatmaps/", date_from=ten_days_ago, date_to=ten_days_ago))) == 1
    for bad in ("yesterday", "2026-13-01", "-99999y"):
        response = api_get("heatmaps/", date_from=bad)
        assert response.status_code == 400 and response.get_json()["attr"] == "date_from", bad


@pytest.mark.parametrize(("name", "value"), [
    ("type", "hover"), ("aggregation", "most"), ("limit", "-1"), ("limit", "1000001"), ("offset", "x"),
    ("viewport_width_min", "wide"), ("hide_zero_coordinates", "perhaps"),
])
def test_bad_parameters_get_a_400_naming_them(api_get: Callable[..., Any], name: str, value: str) -> None:
    response = api_get("heatmaps/", **{name: value})

    assert response.status_code == 400
    assert response.get_json()["attr"] == name
    assert response.get_json()["type"] == "validation_error"


def test_scroll_depth_buckets_with_the_share_that_reached_each(
    api_get: Callable[..., Any], send: Callable[..., Any]
) -> None:
    send([heatmap_event(event="$pageleave", distinct_id=f"v{index}", height=800,
                        **{"$prev_pageview_pathname": "/pricing", "$prev_pageview_max_scroll": scrolled})
          for index, scrolled in enumerate((0, 0, 400, 1600))])

    # depth = scroll + screen: 800, 800, 1200, 2400
    assert results(api_get("heatmaps/", type="scrolldepth", url_exact=PAGE)) == [
        {"scroll_depth_bucket": 800, "bucket_count": 2, "cumulative_count": 4},
        {"scroll_depth_bucket": 1200, "bucket_count": 1, "cumulative_count": 2},
        {"scroll_depth_bucket": 2400, "bucket_count": 1, "cumulative_count": 1},
    ]


def test_both_prefixes_and_current_answer_the_same(
    client: FlaskClient, bearer: Any, project: Project, data: None
) -> None:
    headers = bearer("heatmap:read")
    answers = [client.get(f"/api/{prefix}/{project_id}/heatmaps/?url_exact={PAGE}", headers=headers).get_json()
               for prefix in ("projects", "environments") for project_id in (project.id, "@current")]
    assert all(answer == answers[0] for answer in answers) and answers[0]["results"]


def test_a_key_is_required_and_other_projects_are_not_found(
    client: FlaskClient, bearer: Any, project: Project, other_user: User, data: None
) -> None:
    assert client.get(f"/api/projects/{project.id}/heatmaps/").status_code == 401
    assert client.get(f"/api/projects/{project.id}/heatmaps/events/?points=[]").status_code == 401
    stranger = bearer("heatmap:read", owner=other_user)
    assert client.get(f"/api/projects/{project.id}/heatmaps/", headers=stranger).status_code == 404


def test_events_list_who_interacted_at_the_positions_newest_first(
    api_get: Callable[..., Any], send: Callable[..., Any]
) -> None:
    now = datetime.now(UTC)
    send([heatmap_event([click(720, 400)], distinct_id="ann", session_id="s-ann", timestamp=now - timedelta(hours=2)),
          heatmap_event([click(720, 400)], distinct_id="bob", session_id="s-bob", timestamp=now - timedelta(hours=1)),
          heatmap_event([click(100, 40, fixed=True)], distinct_id="cat"),
          heatmap_event([click(200, 200)], distinct_id="dan")])

    body = api_get("heatmaps/events/", url_exact=PAGE, points=json.dumps([{"x": 0.5, "y": 400}])).get_json()
    assert body["total_count"] == 2 and body["has_more"] is False
    assert [(event["distinct_id"], event["session_id"]) for event in body["results"]] == [
        ("bob", "s-bob"), ("ann", "s-ann")]
    assert body["results"][0] | {"timestamp": None} == {
        "session_id": "s-bob", "distinct_id": "bob", "timestamp": None, "pointer_relative_x": 0.5, "pointer_y": 400,
        "current_url": PAGE, "type": "click"}

    page = api_get("heatmaps/events/", points='[{"x": 0.5, "y": 400}, {"x": 0.07, "y": 48, "target_fixed": true}]',
                   limit=2).get_json()
    assert page["total_count"] == 3 and page["has_more"] is True and len(page["results"]) == 2
    assert api_get("heatmaps/events/", points='[{"x": 0.07, "y": 48}]').get_json()["total_count"] == 0  # not fixed


@pytest.mark.parametrize("points", [None, "", "[]", "not json", '[{"x": 1}]', '[{"x": "a", "y": 1}]',
                                    json.dumps([{"x": 0, "y": 0}] * 101)])
def test_events_need_valid_points(api_get: Callable[..., Any], points: str | None) -> None:
    response = api_get("heatmaps/events/", **({} if points is None else {"points": points}))
    assert response.status_code == 400
    assert response.get_json()["attr"] == "points"
