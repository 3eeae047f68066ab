"""GET saved/: the project's heatmaps, filtered, searched, ordered and paginated."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event, insert

from heatmap_app.extensions import db
from heatmap_app.models import HeatmapSnapshot, SavedHeatmap
from heatmap_app.models.base import utcnow


def names(response) -> list[str]:
    return [heatmap["name"] for heatmap in response.get_json()["results"]]


def test_lists_the_projects_heatmaps_that_are_not_deleted(
    client: FlaskClient, read_headers, saved_url, make_heatmap, other_user
) -> None:
    make_heatmap(name="Pricing")
    make_heatmap(name="Gone", deleted=True)
    make_heatmap(name="Elsewhere", owner=other_user, in_project=other_user.current_project)

    response = client.get(saved_url(), headers=read_headers)

    assert response.status_code == 200
    body = response.get_json()
    assert names(response) == ["Pricing"]
    assert body["count"] == 1 and body["next"] is None and body["previous"] is None


@pytest.mark.parametrize("prefix", ["/api/projects/{id}/saved/", "/api/environments/{id}/saved", "/api/projects/@current/saved"])
def test_answers_under_both_prefixes_with_current_and_without_trailing_slash(
    client: FlaskClient, read_headers, project, make_heatmap, prefix: str
) -> None:
    make_heatmap(name="Pricing")

    response = client.get(prefix.format(id=project.id), headers=read_headers)

    assert response.status_code == 200
    assert names(response) == ["Pricing"]


def test_filters_by_type_status_and_creator(
    client: FlaskClient, read_headers, saved_url, make_heatmap, user, other_user, project
) -> None:
    make_heatmap(name="shot done")
    make_heatmap(name="shot failed", status="failed")
    make_heatmap(name="iframe", type="iframe")
    make_heatmap(name="by grace", owner=other_user)

    assert names(client.get(saved_url() + "?type=iframe", headers=read_headers)) == ["iframe"]
    assert names(client.get(saved_url() + "?status=failed", headers=read_headers)) == ["shot failed"]
    assert names(client.get(saved_url() + f"?created_by={other_user.id}", headers=read_headers)) == ["by grace"]


def test_search_is_a_case_insensitive_substring_of_url_or_name(
    client: FlaskClient, read_headers, saved_url, make_heatmap
) -> None:
    make_heatmap(name="Checkout Flow", url="https://93.184.216.34/cart")
    make_heatmap(name="Landing", url="https://93.184.216.34/CHECKOUT/step-2")
    make_heatmap(name="Blog", url="https://93.184.216.34/blog")
    make_heatmap(name="100% off", url="https://93.184.216.34/sale")

    found = names(client.get(saved_url() + "?search=checkout&order=name", headers=read_headers))
    literal = names(client.get(saved_url() + "?search=0%25", headers=read_headers))

    assert found == ["Checkout Flow", "Landing"]
    assert literal == ["100% off"]  # % is matched literally, not as a wildcard


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("name", ["alpha", "bravo", "charlie"]),
        ("-name", ["charlie", "bravo", "alpha"]),
        ("created_at", ["charlie", "alpha", "bravo"]),
        ("-created_at", ["bravo", "alpha", "charlie"]),
        ("updated_at", ["bravo", "charlie", "alpha"]),
        (None, ["alpha", "charlie", "bravo"]),  # default: -updated_at
    ],
)
def test_orders_by_a_whitelisted_column(
    client: FlaskClient, read_headers, saved_url, make_heatmap, order, expected
) -> None:
    now = utcnow()
    make_heatmap(name="alpha", created_at=now - timedelta(hours=2), updated_at=now)
    make_heatmap(name="bravo", created_at=now - timedelta(hours=1), updated_at=now - timedelta(hours=3))
    make_heatmap(name="charlie", created_at=now - timedelta(hours=3), updated_at=now - timedelta(hours=1))

    query = f"?order={order}" if order else ""
    assert names(client.get(saved_url() + query, headers=read_headers)) == expected


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("url", ["bravo", "charlie", "alpha"]),
        ("-url", ["alpha", "charlie", "bravo"]),
        ("status", ["alpha", "bravo", "charlie"]),
        ("-type", ["charlie", "bravo", "alpha"]),
        ("target_widths", ["alpha", "bravo", "charlie"]),  # by the list's text: "[1024]" < "[1440]" < "[320]"
        ("-short_id", ["charlie", "bravo", "alpha"]),
    ],
)
def test_orders_by_any_field_of_the_heatmap(
    client: FlaskClient, read_headers, saved_url, make_heatmap, order, expected
) -> None:
    for name, url, status, kind, widths in [("alpha", "https://93.184.216.34/c", "completed", "iframe", [1024]),
                                            ("bravo", "https://93.184.216.34/a", "failed", "recording", [1440]),
                                            ("charlie", "https://93.184.216.34/b", "processing", "screenshot", [320])]:
        make_heatmap(name=name, url=url, status=status, type=kind, target_widths=widths, short_id=f"{name[0]}0000000")

    response = client.get(saved_url() + f"?order={order}", headers=read_headers)

    assert response.status_code == 200
    assert names(response) == expected


@pytest.mark.parametrize(
    ("query", "shown"),
    [("limit=0", 1), ("limit=-5", 1), ("limit=501", 3), ("limit=99999999999999999999999", 3),
     ("offset=-1", 3), ("offset=13441428104777776665586565120", 0)],
)
def test_limit_and_offset_out_of_range_are_clamped_not_refused(
    client: FlaskClient, read_headers, saved_url, make_heatmap, query, shown
) -> None:
    for number in range(3):
        make_heatmap(name=f"n{number}")

    response = client.get(f"{saved_url()}?{query}", headers=read_headers)

    assert response.status_code == 200
    body = response.get_json()
    assert len(body["results"]) == shown and body["count"] == 3


def test_limit_above_500_answers_500(client: FlaskClient, read_headers, saved_url, project, user) -> None:
    _insert_heatmaps(project, user, range(501))

    response = client.get(f"{saved_url()}?limit=1000", headers=read_headers)

    assert response.status_code == 200 and len(response.get_json()["results"]) == 500


@pytest.mark.parametrize("query", ["type=video", "status=done", "type=SCREENSHOT", "status=" + "x" * 300])
def test_an_unknown_type_or_status_lists_nothing(
    client: FlaskClient, read_headers, saved_url, make_heatmap, query
) -> None:
    make_heatmap(name="shot")

    response = client.get(f"{saved_url()}?{query}", headers=read_headers)

    assert response.status_code == 200
    assert response.get_json()["results"] == [] and response.get_json()["count"] == 0


def test_recording_heatmaps_are_listed_by_type(client: FlaskClient, read_headers, saved_url, make_heatmap) -> None:
    make_heatmap(name="shot")
    make_heatmap(name="replay", type="recording")

    assert names(client.get(saved_url() + "?type=recording", headers=read_headers)) == ["replay"]


@pytest.mark.parametrize(
    ("query", "attr"),
    [
        ("order=nope", "order"),
        ("order=has_content", "order"),
        ("order=-snapshots", "order"),
        ("order=name;drop", "order"),
        ("order=--name", "order"),
        ("limit=ten", "limit"),
        ("offset=1.5", "offset"),
        ("created_by=67428576631347531091017728", "created_by"),
        ("created_by=ada", "created_by"),
    ],
)
def test_bad_query_parameters_answer_400_naming_the_parameter(
    client: FlaskClient, read_headers, saved_url, query: str, attr: str
) -> None:
    response = client.get(f"{saved_url()}?{query}", headers=read_headers)

    assert response.status_code == 400
    assert response.get_json()["type"] == "validation_error"
    assert response.get_json()["attr"] == attr


def test_limit_defaults_to_100_and_offset_pages_through(
    client: FlaskClient, read_headers, saved_url, make_heatmap
) -> None:
    for number in range(105):
        make_heatmap(name=f"n{number:03d}")

    first = client.get(saved_url() + "?order=name", headers=read_headers).get_json()
    second = client.get(first["next"], headers=read_headers).get_json()
    middle = client.get(saved_url() + "?order=name&limit=2&offset=50", headers=read_headers).get_json()

    assert first["count"] == 105 and len(first["results"]) == 100 and first["previous"] is None
    assert [heatmap["name"] for heatmap in second["results"]] == [f"n{number:03d}" for number in range(100, 105)]
    assert second["next"] is None and second["previous"] is not None
    assert [heatmap["name"] for heatmap in middle["results"]] == ["n050", "n051"]


def test_a_key_without_access_to_the_project_gets_404(client: FlaskClient, bearer, other_user, make_heatmap) -> None:
    response = client.get(f"/api/projects/{other_user.current_project_id}/saved/", headers=bearer("heatmap:read"))

    assert response.status_code == 404


def _insert_heatmaps(project, user, numbers: range) -> None:
    now = utcnow()
    rows = [
        {
            "id": f"00000000-0000-4000-8000-{number:012d}", "short_id": f"b{number:07d}", "project_id": project.id,
            "name": f"bulk {number}", "url": "https://93.184.216.34/", "data_url": "https://93.184.216.34/",
            "target_widths": [320, 1024], "type": "screenshot", "status": "completed", "block_consent_modals": False,
            "created_by_id": user.id, "created_at": now, "updated_at": now, "deleted": False, "capture_generation": 1,
        }
        for number in numbers
    ]
    db.session.execute(insert(SavedHeatmap), rows)
    db.session.execute(
        insert(HeatmapSnapshot),
        [
            {"heatmap_id": row["id"], "generation": 1, "width": width, "height": 600, "page_height": 600, "byte_size": 1000,
             "file_path": f"snapshots/{row['id']}/{width}.jpg", "thumbnail_path": f"snapshots/{row['id']}/{width}-t.jpg",
             "content_hash": "0" * 64, "created_at": now}
            for row in rows
            for width in (320, 1024)
        ],
    )
    db.session.commit()


def _statements_to_list(client: FlaskClient, url: str, headers) -> tuple[int, dict]:
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        response = client.get(url, headers=headers)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(statements), response.get_json()


def test_listing_takes_the_same_number_of_queries_for_5_or_500_heatmaps(
    client: FlaskClient, read_headers, saved_url, project, user
) -> None:
    client.get(saved_url(), headers=read_headers)  # the key's first use also records last_used_at
    _insert_heatmaps(project, user, range(5))
    few_queries, few = _statements_to_list(client, saved_url() + "?limit=500", read_headers)
    _insert_heatmaps(project, user, range(5, 500))
    many_queries, many = _statements_to_list(client, saved_url() + "?limit=500", read_headers)

    assert len(few["results"]) == 5 and len(many["results"]) == 500
    assert many["results"][0]["created_by"]["email"] == user.email
    assert [snapshot["width"] for snapshot in many["results"][0]["snapshots"]] == [320, 1024]
    assert many_queries == few_queries
    assert many_queries <= 8
