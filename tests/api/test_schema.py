"""The OpenAPI document at /api/schema/ describes every endpoint, and the app keeps to it (schemathesis)."""

from __future__ import annotations

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode

from heatmap_app import storage
from tests.api.conftest import PAGE_URL, jpeg_bytes
from tests.interactions.conftest import click, heatmap_event

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES_PER_OPERATION = 8


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
        } <= operations
    assert len(operations) == 21


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_app_conforms_to_its_schema(app: Flask, bearer, project, make_heatmap, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/schema/", app)
    headers = bearer("*")
    # Heatmap data on the heatmaps' page, so the heatmap-data endpoints answer with points and buckets too.
    data = [heatmap_event([click(720, 400), click(100, 40, fixed=True)], url=PAGE_URL),
            heatmap_event(event="$pageleave", url=PAGE_URL,
                          **{"$prev_pageview_pathname": "/pricing", "$prev_pageview_max_scroll": 900})]
    ingested = app.test_client().post("/i/v0/e/", json={"api_key": project.api_token, "batch": data})
    assert ingested.status_code == 200

    for result in schema.get_all_operations():
        operation = result.ok()
        # A heatmap of its own per operation, so a DELETE does not turn the others into 404s.
        heatmap = make_heatmap()
        storage.store_snapshot(heatmap, 1024, jpeg_bytes(1024), page_height=600)
        known = {"project_id": str(project.id), "short_id": heatmap.short_id, "id": heatmap.id}
        path_parameters = {name: known[name] for name in known if f"{{{name}}}" in operation.path}
        if operation.method == "post" and operation.path.endswith("/saved/"):
            # Generated URLs never resolve on an offline machine; one valid create checks the 201 too.
            valid = operation.Case(path_parameters=path_parameters, body={"url": PAGE_URL, "widths": [320, 320]})
            assert valid.call_and_validate(headers=headers, checks=CHECKS).status_code == 201

        @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
            suppress_health_check=list(HealthCheck),
        )
        def conforms(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        conforms()
