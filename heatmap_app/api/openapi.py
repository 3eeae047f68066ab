"""The OpenAPI 3 document of the JSON API, served at /api/schema/ and checked against the app by a test."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from heatmap_app.api import capture_contract
from heatmap_app.heatmaps import (
    DEFAULT_LIMIT,
    DEFAULT_WIDTHS,
    LIST_ORDERS,
    MAX_INTEGER,
    MAX_LIMIT,
    MAX_NAME_LENGTH,
    MAX_URL_LENGTH,
    MAX_WIDTH,
    MAX_WIDTHS,
    MIN_WIDTH,
)
from heatmap_app.interactions.schemas import (
    HeatmapEventsQuery,
    HeatmapEventsResponse,
    HeatmapQuery,
    HeatmapResponse,
    OverlayQuery,
    ScrollDepthResponse,
)
from heatmap_app.models import HEATMAP_STATUSES, HEATMAP_TYPES

PROJECT_PREFIXES = ("/api/projects/{project_id}", "/api/environments/{project_id}")


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


# --- pydantic models as OpenAPI 3.0 ---------------------------------------------------------------

COMPONENT_REF = "#/components/schemas/{model}"


def openapi30(schema: Any) -> Any:
    """A pydantic (JSON Schema 2020-12) schema in OpenAPI 3.0's dialect: `nullable` instead of a null type,
    `enum` instead of `const`, no titles (the component or property name says it)."""
    if isinstance(schema, list):
        return [openapi30(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {key: openapi30(value) for key, value in schema.items() if key != "title"}
    if "properties" in schema:  # property names are not schema keywords
        converted["properties"] = {name: openapi30(value) for name, value in schema["properties"].items()}
    if "const" in converted:
        converted["enum"] = [converted.pop("const")]
    options = converted.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options:
        rest = [option for option in options if option != {"type": "null"}]
        del converted["anyOf"]
        if len(rest) == 1 and "$ref" in rest[0]:
            converted["allOf"] = rest  # a $ref takes no sibling keywords in 3.0
        elif len(rest) == 1:
            converted.update(rest[0])
        else:
            converted["anyOf"] = rest
        converted["nullable"] = True
    return converted


def openapi_components(*models: type[BaseModel]) -> dict[str, Any]:
    """Component schemas for the models and every model they refer to, named after the classes.

    Request bodies are described as validated, responses as serialized: give each model once.
    """
    _, document = models_json_schema([(model, "serialization") for model in models], ref_template=COMPONENT_REF)
    return {name: openapi30(schema) for name, schema in document.get("$defs", {}).items()}


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """The OpenAPI query parameters a model validates (a model of query-string values, e.g. HeatmapQuery)."""
    schema = model.model_json_schema(ref_template=COMPONENT_REF)
    required = set(schema.get("required", []))
    parameters = []
    for name, field in schema["properties"].items():
        field = openapi30(field)
        field.pop("nullable", None)  # an absent parameter is the null
        description = field.pop("description", "")
        parameters.append({"name": name, "in": "query", "required": name in required, "schema": field,
                           "description": description})
    return parameters


ERROR = _ref("Error")
ERRORS: dict[str, dict[str, Any]] = {
    "400": _json(ERROR, "Invalid input; `attr` names the field."),
    "401": {
        **_json(ERROR, "Missing or invalid personal API key."),
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}, "required": True}},
    },
    "403": _json(ERROR, "The key lacks the scope this operation needs."),
    "404": _json(ERROR, "No such project or heatmap for this key (deleted ones included)."),
    # Answered by the web server (gunicorn) before the app sees the request, hence not in the JSON error shape.
    "414": {"description": "The request line (path and query string) is longer than the web server accepts.",
            "content": {"text/html": {"schema": {"type": "string"}}}},
}
THROTTLED = {
    "429": {
        **_json(ERROR, "Too many heatmaps created, or too many refused URLs; retry after the given seconds."),
        "headers": {"Retry-After": {"schema": {"type": "string"}, "required": True}},
    }
}

WIDTHS = {
    "type": "array",
    "items": {"type": "integer", "minimum": MIN_WIDTH, "maximum": MAX_WIDTH},
    "minItems": 1,
    "maxItems": MAX_WIDTHS,
    "description": "Viewport widths in CSS pixels; duplicates are dropped and the list is kept sorted.",
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["type", "code", "detail", "attr"],
        "properties": {
            "type": {"type": "string"},
            "code": {"type": "string"},
            "detail": {"type": "string"},
            "attr": _nullable({"type": "string"}),
        },
    },
    "UserBasic": {
        "type": "object",
        "required": ["id", "uuid", "distinct_id", "first_name", "last_name", "email"],
        "properties": {
            "id": {"type": "integer"},
            "uuid": {"type": "string", "format": "uuid"},
            "distinct_id": _nullable({"type": "string"}),
            "first_name": {"type": "string"},
            "last_name": {"type": "string"},
            "email": {"type": "string", "format": "email"},
            "is_email_verified": _nullable({"type": "boolean"}),
            "hedgehog_config": _nullable({"type": "object"}),
            "role_at_organization": _nullable({"type": "string"}),
        },
    },
    "Project": {
        "type": "object",
        "required": ["id", "uuid", "name", "organization", "api_token"],
        "properties": {
            "id": {"type": "integer"},
            "uuid": {"type": "string"},
            "name": {"type": "string"},
            "organization": {"type": "string"},
            "api_token": {"type": "string"},
        },
    },
    "Me": {
        "allOf": [
            _ref("UserBasic"),
            {
                "type": "object",
                "required": ["is_staff", "organizations", "organization", "team", "projects", "scopes"],
                "properties": {
                    "is_staff": {"type": "boolean"},
                    "organizations": {"type": "array", "items": {"type": "object"}},
                    "organization": _nullable({"type": "object"}),
                    "team": _nullable(_ref("Project")),
                    "projects": {"type": "array", "items": _ref("Project")},
                    "scopes": {"type": "array", "items": {"type": "string"}},
                },
            },
        ]
    },
    "HeatmapSnapshot": {
        "type": "object",
        "required": ["width", "has_content"],
        "properties": {"width": {"type": "integer"}, "has_content": {"type": "boolean"}},
    },
    "SavedHeatmap": {
        "type": "object",
        "required": [
            "id", "short_id", "name", "url", "data_url", "target_widths", "type", "status", "has_content",
            "snapshots", "deleted", "block_consent_modals", "created_by", "created_at", "updated_at", "exception",
            *capture_contract.OBJECT_PROPERTIES,
        ],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "short_id": {"type": "string"},
            "name": _nullable({"type": "string", "maxLength": MAX_NAME_LENGTH}),
            "url": {"type": "string", "maxLength": MAX_URL_LENGTH},
            "data_url": _nullable({"type": "string", "maxLength": MAX_URL_LENGTH}),
            "target_widths": {"type": "array", "items": {"type": "integer"}},
            "type": {"type": "string", "enum": list(HEATMAP_TYPES)},
            "status": {"type": "string", "enum": list(HEATMAP_STATUSES)},
            "has_content": {"type": "boolean"},
            "snapshots": {"type": "array", "items": _ref("HeatmapSnapshot"), "description": "Sorted by width."},
            "deleted": {"type": "boolean"},
            "block_consent_modals": {"type": "boolean"},
            "created_by": _nullable(_ref("UserBasic")),
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "exception": _nullable({"type": "string"}),
            **capture_contract.OBJECT_PROPERTIES,
        },
    },
    "PaginatedSavedHeatmapList": {
        "type": "object",
        "required": ["count", "next", "previous", "results"],
        "properties": {
            "count": {"type": "integer", "minimum": 0},
            "next": _nullable({"type": "string"}),
            "previous": _nullable({"type": "string"}),
            "results": {"type": "array", "items": _ref("SavedHeatmap")},
        },
    },
    "SavedHeatmapCreate": {
        "type": "object",
        "required": ["url"],
        "properties": {
            "url": {"type": "string", "maxLength": MAX_URL_LENGTH, "description": "http(s) page to capture."},
            "name": _nullable({"type": "string", "maxLength": MAX_NAME_LENGTH}),
            "data_url": _nullable({"type": "string", "maxLength": MAX_URL_LENGTH, "description": "Defaults to url."}),
            "widths": {**WIDTHS, "default": DEFAULT_WIDTHS},
            "type": {"type": "string", "enum": list(HEATMAP_TYPES), "default": "screenshot"},
            "block_consent_modals": {"type": "boolean", "default": False},
            **capture_contract.INPUT_PROPERTIES,
        },
    },
    "PatchedSavedHeatmap": {
        "type": "object",
        "description": "A change of url, widths, block_consent_modals or capture_settings regenerates a screenshot "
        "heatmap.",
        "properties": {
            "name": _nullable({"type": "string", "maxLength": MAX_NAME_LENGTH}),
            "url": {"type": "string", "maxLength": MAX_URL_LENGTH},
            "data_url": _nullable({"type": "string", "maxLength": MAX_URL_LENGTH}),
            "widths": WIDTHS,
            "block_consent_modals": {"type": "boolean"},
            "deleted": {"type": "boolean", "description": "true soft-deletes the heatmap."},
            **capture_contract.INPUT_PROPERTIES,
        },
    },
}

PROJECT_ID = {
    "name": "project_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "A project id, or `@current` for the key user's current project.",
}
SHORT_ID = {"name": "short_id", "in": "path", "required": True, "schema": {"type": "string"}}
HEATMAP = _json(_ref("SavedHeatmap"), "The saved heatmap.")
READ = [{"PersonalAPIKey": ["heatmap:read"]}]
WRITE = [{"PersonalAPIKey": ["heatmap:write"]}]


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _body(schema_name: str, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": _ref(schema_name)}}}


def _project_paths(tag: str) -> dict[str, Any]:
    def operation(operation_id: str, summary: str, security: list[Any], responses: dict[str, Any], **extra: Any) -> Any:
        return {
            "operationId": f"{tag}_{operation_id}",
            "summary": summary,
            "tags": [tag],
            "security": security,
            "responses": responses,
            **extra,
        }

    orders = [order for column in LIST_ORDERS for order in (column, f"-{column}")]
    return {
        "/saved/": {
            "parameters": [PROJECT_ID],
            "get": operation(
                "saved_list", "List saved heatmaps (not deleted).", READ,
                {"200": _json(_ref("PaginatedSavedHeatmapList"), "One page of heatmaps."), **ERRORS},
                parameters=[
                    _query("type", {"type": "string", "enum": list(HEATMAP_TYPES)}, "Only this type."),
                    _query("status", {"type": "string", "enum": list(HEATMAP_STATUSES)}, "Only this status."),
                    _query("search", {"type": "string"}, "Case-insensitive substring of the url or the name."),
                    _query("created_by", {"type": "integer", "minimum": 1, "maximum": MAX_INTEGER}, "Only heatmaps this user id created."),
                    _query("order", {"type": "string", "enum": orders, "default": "-updated_at"}, "Sort order."),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                                     "default": DEFAULT_LIMIT}, "Page size."),
                    _query("offset", {"type": "integer", "minimum": 0, "maximum": MAX_INTEGER, "default": 0}, "Rows to skip."),
                ],
            ),
            "post": operation(
                "saved_create", "Save a heatmap; a screenshot heatmap starts processing and is captured.", WRITE,
                {"201": _json(_ref("SavedHeatmap"), "Created."), **ERRORS, **THROTTLED},
                requestBody=_body("SavedHeatmapCreate"),
            ),
        },
        "/saved/{short_id}/": {
            "parameters": [PROJECT_ID, SHORT_ID],
            "get": operation(
                "saved_retrieve", "Retrieve one; a capture stuck over 10 minutes is re-enqueued.", READ,
                {"200": HEATMAP, **ERRORS},
            ),
            "patch": operation(
                "saved_partial_update", "Update; a change of url, widths, block_consent_modals or capture_settings "
                "regenerates.",
                WRITE, {"200": HEATMAP, **ERRORS, **THROTTLED},
                requestBody=_body("PatchedSavedHeatmap", required=False),
            ),
            "delete": operation(
                "saved_destroy", "Soft delete.", WRITE, {"204": {"description": "Deleted."}, **ERRORS},
            ),
        },
        "/saved/{short_id}/regenerate/": {
            "parameters": [PROJECT_ID, SHORT_ID],
            "post": operation(
                "saved_regenerate", "Capture again (screenshot heatmaps only).", WRITE, {"200": HEATMAP, **ERRORS},
            ),
        },
        "/heatmap_screenshots/{id}/content": {
            "parameters": [PROJECT_ID, {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "get": operation(
                "heatmap_screenshots_content_retrieve",
                "The screenshot at a width: exact, else the nearest with content (ties: the smaller width).",
                READ,
                {
                    "200": {
                        "description": "The JPEG.",
                        "headers": {
                            name: {"schema": {"type": "string"}, "required": True}
                            for name in ("ETag", "Cache-Control", "Content-Disposition", "X-Content-Type-Options")
                        },
                        "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    "202": _json(_ref("SavedHeatmap"), "No screenshot yet (also when failed): the heatmap."),
                    "304": {"description": "Not modified (If-None-Match matched the ETag)."},
                    **ERRORS,
                },
                parameters=[
                    _query("width", {"type": "integer", "minimum": 1, "maximum": MAX_INTEGER, "default": 1024},
                           "Viewport width wanted."),
                    {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"}},
                ],
            ),
        },
    }


INTERACTION_SCHEMAS = openapi_components(HeatmapResponse, ScrollDepthResponse, HeatmapEventsResponse)


def _interaction_paths(tag: str) -> dict[str, Any]:
    def operation(operation_id: str, summary: str, responses: dict[str, Any], model: type[BaseModel]) -> Any:
        return {"operationId": f"{tag}_{operation_id}", "summary": summary, "tags": [tag], "security": READ,
                "parameters": query_parameters(model), "responses": {**responses, **ERRORS}}

    return {
        "/heatmaps/": {
            "parameters": [PROJECT_ID],
            "get": operation(
                "heatmaps_list",
                "Heatmap data of the project's pages: positions hottest first with the fold summary, or for "
                "type=scrolldepth the scroll-depth buckets.",
                {"200": {
                    **_json({"anyOf": [_ref("HeatmapResponse"), _ref("ScrollDepthResponse")]},
                            "Points (click, rageclick, deadclick, mousemove) or scroll-depth buckets."),
                    "headers": {"Cache-Control": {"schema": {"type": "string"}, "required": True}},
                }},
                HeatmapQuery,
            ),
        },
        "/heatmaps/events/": {
            "parameters": [PROJECT_ID],
            "get": operation(
                "heatmaps_events_list", "The interactions behind some positions, newest first: who clicked there.",
                {"200": _json(_ref("HeatmapEventsResponse"), "One page of interactions.")},
                HeatmapEventsQuery,
            ),
        },
        "/heatmap_screenshots/{id}/overlay": {
            "parameters": [PROJECT_ID, {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "get": {
                **operation(
                    "heatmap_screenshots_overlay_retrieve",
                    "Our extension, not in PostHog: the screenshot nearest `width` painted with its heatmap data "
                    "(the heatmap's data_url, viewports within width_tolerance) as a PNG.",
                    {"200": {
                        "description": "The PNG, with a caption strip below the screenshot.",
                        "headers": {name: {"schema": {"type": "string"}, "required": True}
                                    for name in ("Content-Disposition", "Cache-Control")},
                        "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
                    }},
                    OverlayQuery,
                ),
                "tags": [tag, "extensions"],
            },
        },
    }


def _toolbar_paths(tag: str) -> dict[str, Any]:
    """PostHog's saved/capture/, saved/prewarm/ and saved/preflight/ (heatmap_app.api.toolbar)."""

    def operation(operation_id: str, summary: str, security: list[Any], responses: dict[str, Any], body: Any) -> Any:
        return {"operationId": f"{tag}_{operation_id}", "summary": summary, "tags": [tag], "security": security,
                "responses": responses, "requestBody": body}

    created = _json(_ref("SavedHeatmap"), "Created.")
    return {
        "/saved/capture/": {
            "parameters": [PROJECT_ID],
            "post": operation(
                "saved_capture_create", "A completed heatmap from screenshots uploaded from the user's browser.",
                WRITE, {"201": created, **ERRORS, **THROTTLED,
                        "413": _json(ERROR, "The request is larger than 61 MB."),
                        "415": _json(ERROR, "Not a multipart form, or a file that is not an image.")},
                {"required": True, "content": {"multipart/form-data": {"schema": _ref("SavedHeatmapCapture")}}},
            ),
        },
        "/saved/prewarm/": {
            "parameters": [PROJECT_ID],
            "post": operation(
                "saved_prewarm_create",
                "Capture a page at 1024 px ahead of creating its heatmap; reused by the create.",
                WRITE, {"200": _json(_ref("SavedHeatmap"), "A recent prewarm of the same page."), "201": created,
                        **ERRORS, **THROTTLED},
                _body("HeatmapPrewarm"),
            ),
        },
        "/saved/preflight/": {
            "parameters": [PROJECT_ID],
            "post": operation(
                "saved_preflight_create", "Whether the page may be shown in an iframe (fetched through the URL guard).",
                READ, {"200": _json(_ref("HeatmapPreflightResult"), "The verdict."), **ERRORS, **THROTTLED},
                _body("HeatmapPreflight"),
            ),
        },
    }


def build_openapi() -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/api/users/@me/": {
            "get": {
                "operationId": "users_me_retrieve",
                "summary": "The key's own user, its organizations and the projects the key reaches.",
                "tags": ["users"],
                "security": [{"PersonalAPIKey": []}],
                "responses": {"200": _json(_ref("Me"), "The user."), "401": ERRORS["401"]},
            }
        }
    }
    for prefix in PROJECT_PREFIXES:
        tag = prefix.split("/")[2]
        for path, item in {**_project_paths(tag), **_toolbar_paths(tag), **_interaction_paths(tag)}.items():
            paths[prefix + path] = item
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Heatmap screenshots API",
            "version": "1.0.0",
            "description": "Saved heatmaps, compatible with PostHog's endpoints. "
            "Authenticate with `Authorization: Bearer phx_…`.",
        },
        "paths": paths,
        "components": {
            "schemas": {**SCHEMAS, **capture_contract.SCHEMAS, **INTERACTION_SCHEMAS},
            "securitySchemes": {
                "PersonalAPIKey": {"type": "http", "scheme": "bearer", "description": "A personal API key (phx_…)."}
            },
        },
    }
