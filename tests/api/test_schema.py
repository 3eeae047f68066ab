"""The OpenAPI document at /api/schema/ describes every endpoint, and the app served by gunicorn keeps to it.

The fuzz run (schemathesis over real HTTP, tests.support.fuzz) also sends the hand-made bad inputs, and
ends with no server error. A longer run, by hand: FUZZ_EXAMPLES=200 .venv/bin/pytest -s tests/api/test_schema.py
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import requests
import schemathesis
from flask.testing import FlaskClient

from heatmap_app import storage
from heatmap_app.models import Project
from tests.api.conftest import PAGE_URL, jpeg_bytes
from tests.interactions.conftest import click, heatmap_event
from tests.support.fuzz import CONFORMANCE_CHECKS, fuzz_api
from tests.support.gunicorn import Served

# Per operation, mode and phase: 10 make about 900 requests, well within a minute.
EXAMPLES_PER_CASE = int(os.environ.get("FUZZ_EXAMPLES", "10"))


@pytest.fixture
def app_config(gunicorn: Served) -> dict[str, Any]:
    return {"MEDIA_ROOT": gunicorn.environment["MEDIA_ROOT"]}


def test_the_schema_is_public_and_covers_every_endpoint_under_both_prefixes(client: FlaskClient) -> None:
    document = client.get("/api/schema/").get_json()

    assert document["openapi"].startswith("3.")
    operations = {(method.upper(), path) for path, item in document["paths"].items() for method in item if method != "parameters"}
    assert ("GET", "/api/users/@me/") in operations
    for prefix in ("/api/projects/{project_id}", "/api/environments/{project_id}"):
        assert {
            ("GET", f"{prefix}/saved/"),
            ("POST", f"{prefix}/saved/"),
            ("GET", f"{prefix}/saved/{{short_id}}/"),
            ("PATCH", f"{prefix}/saved/{{short_id}}/"),
            ("DELETE", f"{prefix}/saved/{{short_id}}/"),
            ("POST", f"{prefix}/saved/{{short_id}}/regenerate/"),
            ("GET", f"{prefix}/heatmap_screenshots/{{id}}/content"),
            ("GET", f"{prefix}/heatmaps/"),
            ("GET", f"{prefix}/heatmaps/events/"),
            ("GET", f"{prefix}/heatmap_screenshots/{{id}}/overlay"),
            ("POST", f"{prefix}/saved/capture/"),
            ("POST", f"{prefix}/saved/prewarm/"),
            ("POST", f"{prefix}/saved/preflight/"),
        } <= operations
    assert len(operations) == 56


def test_a_valid_create_conforms_to_the_schema(gunicorn: Served, bearer: Any, project: Project) -> None:
    # Generated URLs never resolve on an offline machine, so the fuzz run below never sees a 201.
    schema = schemathesis.openapi.from_url(f"{gunicorn.base_url}/api/schema/")
    create = schema["/api/projects/{project_id}/saved/"]["POST"]
    case = create.Case(path_parameters={"project_id": str(project.id)}, body={"url": PAGE_URL, "widths": [320, 320]})

    response = case.call_and_validate(base_url=gunicorn.base_url, headers=bearer("heatmap:write"),
                                      checks=CONFORMANCE_CHECKS)

    assert response.status_code == 201


def test_a_fuzz_run_over_http_finds_no_server_error_and_nothing_off_schema(
    gunicorn: Served, bearer: Any, project: Project, make_heatmap: Any
) -> None:
    def fresh_rows() -> dict[str, str]:
        heatmap = make_heatmap()
        storage.store_snapshot(heatmap, 1024, jpeg_bytes(1024), page_height=600)
        return {"project_id": str(project.id), "short_id": heatmap.short_id, "id": heatmap.id}

    # Heatmap data on the heatmaps' page, so the heatmap-data endpoints answer with points and buckets too.
    data = [heatmap_event([click(720, 400), click(100, 40, fixed=True)], url=PAGE_URL),
            heatmap_event(event="$pageleave", url=PAGE_URL,
                          **{"$prev_pageview_pathname": "/pricing", "$prev_pageview_max_scroll": 900})]
    ingested = requests.post(f"{gunicorn.base_url}/i/v0/e/", json={"api_key": project.api_token, "batch": data},
                             timeout=10)
    assert ingested.status_code == 200
    result = fuzz_api(gunicorn.base_url, bearer("*"), fresh_rows, examples=EXAMPLES_PER_CASE)
    print(result.summary())

    assert result.requests > 500
    assert result.server_errors == [], gunicorn.log_text()[-5000:]
    assert result.check_failures == []
    assert requests.get(f"{gunicorn.base_url}/api/schema/", timeout=10).status_code == 200  # still serving
