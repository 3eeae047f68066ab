"""Saved heatmaps: PostHog's /saved/ endpoints over the service in heatmap_app.heatmaps."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Response, request

from heatmap_app import heatmap_schemas as schemas
from heatmap_app import heatmaps
from heatmap_app.api import api, project_route
from heatmap_app.api.auth import current_api_user, require_api_key
from heatmap_app.errors import APIError, api_error_response
from heatmap_app.models import Project, SavedHeatmap

READ = "heatmap:read"
WRITE = "heatmap:write"


# The service's errors, answered in PostHog's shape for every API view that calls it.
@api.errorhandler(heatmaps.HeatmapInputError)
def _invalid_input(error: heatmaps.HeatmapInputError) -> Response:
    return api_error_response(400, error.message, code="invalid_input", attr=error.field)


@api.errorhandler(heatmaps.HeatmapNotFound)
def _not_found(error: heatmaps.HeatmapNotFound) -> Response:
    return api_error_response(404, "Not found.", code="not_found")


@api.errorhandler(heatmaps.CreateRateLimited)
def _throttled(error: heatmaps.CreateRateLimited) -> Response:
    return api_error_response(
        429,
        f"Request was throttled. Expected available in {error.retry_after} seconds.",
        code="throttled",
        headers={"Retry-After": str(error.retry_after)},
    )


def heatmap_json(heatmap: SavedHeatmap) -> dict[str, Any]:
    return schemas.SavedHeatmap.of(heatmap).model_dump(mode="json")


def json_body() -> dict[str, Any]:
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise APIError(400, "The request body must be a JSON object.", code="parse_error")
    return body


def query_args() -> dict[str, str]:
    """The query string's first values, an empty one counting as absent."""
    return {name: value for name, value in request.args.items() if value != ""}


def _page_link(offset: int, limit: int, total: int) -> str | None:
    if offset < 0 or offset >= total:
        return None
    return f"{request.base_url}?{urlencode({**request.args.to_dict(), 'limit': limit, 'offset': offset})}"


@project_route("/saved/", methods=["GET"])
@require_api_key(READ)
def list_saved(project: Project) -> dict[str, Any]:
    query = heatmaps.validated(schemas.SavedHeatmapListQuery, query_args())
    results, count = heatmaps.list_heatmaps(project, query)
    limit, offset = query.limit, query.offset
    return schemas.PaginatedSavedHeatmapList(
        count=count,
        next=_page_link(offset + limit, limit, count),
        previous=_page_link(max(0, offset - limit), limit, count) if offset > 0 else None,
        results=[schemas.SavedHeatmap.of(heatmap) for heatmap in results],
    ).model_dump(mode="json")


@project_route("/saved/", methods=["POST"])
@require_api_key(WRITE)
def create_saved(project: Project) -> tuple[dict[str, Any], int]:
    heatmap = heatmaps.create_heatmap(project, current_api_user(), json_body())
    return heatmap_json(heatmap), 201


@project_route("/saved/<short_id>/", methods=["GET"])
@require_api_key(READ)
def retrieve_saved(project: Project, short_id: str) -> dict[str, Any]:
    return heatmap_json(heatmaps.get_heatmap(project, short_id, include_deleted=True))


@project_route("/saved/<short_id>/", methods=["PATCH"])
@require_api_key(WRITE)
def update_saved(project: Project, short_id: str) -> dict[str, Any]:
    heatmap = heatmaps.update_heatmap(heatmaps.get_heatmap(project, short_id, include_deleted=True), json_body())
    return heatmap_json(heatmap)


@project_route("/saved/<short_id>/", methods=["DELETE"])
@require_api_key(WRITE)
def delete_saved(project: Project, short_id: str) -> Response:
    heatmaps.delete_heatmap(heatmaps.get_heatmap(project, short_id))
    return Response(status=204)


@project_route("/saved/<short_id>/regenerate/", methods=["POST"])
@require_api_key(WRITE)
def regenerate_saved(project: Project, short_id: str) -> dict[str, Any]:
    return heatmap_json(heatmaps.regenerate_heatmap(heatmaps.get_heatmap(project, short_id)))
