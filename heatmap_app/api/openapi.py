"""The OpenAPI 3 document of the JSON API, served at /api/schema/ and checked against the app by a test."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from heatmap_app import account_schemas as accounts
from heatmap_app import heatmap_schemas as saved
from heatmap_app.heatmap_schemas import MAX_INTEGER
from heatmap_app.history.schemas import CaptureRunList, RunDiffResponse
from heatmap_app.interactions.schemas import (
    HeatmapEventsQuery,
    HeatmapEventsResponse,
    HeatmapQuery,
    HeatmapResponse,
    OverlayQuery,
    ScrollDepthResponse,
)

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
    if converted.get("default", ...) is None and not converted.get("nullable"):
        del converted["default"]  # "not sent" (a PATCH field), which no value of the type means
    return converted


def openapi_components(*responses: type[BaseModel], requests: tuple[type[BaseModel], ...] = ()) -> dict[str, Any]:
    """Component schemas for the models and every model they refer to, named after the classes.

    Request bodies are described as validated, responses as serialized: give each model once.
    """
    _, document = models_json_schema(
        [(model, "serialization") for model in responses] + [(model, "validation") for model in requests],
        ref_template=COMPONENT_REF,
    )
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
    "404": _json(ERROR, "No such project or heatmap for this key (a deleted one, but to retrieve or restore it)."),
    # Answered by the web server (gunicorn) before the app sees the request, hence not in the JSON error shape.
    "414": {"description": "The request line (path and query string) is longer than the web server accepts.",
            "content": {"text/html": {"schema": {"type": "string"}}}},
    "417": {"description": "An `Expect` header other than `100-continue`, which the web server cannot meet.",
            "content": {"text/html": {"schema": {"type": "string"}}}},
}
THROTTLED = {
    "429": {
        **_json(ERROR, "Too many heatmaps created, or too many refused URLs; retry after the given seconds."),
        "headers": {"Retry-After": {"schema": {"type": "string"}, "required": True}},
    }
}

# PostHog's saved/capture/ upload, a multipart body.
WIDTH = {"type": "integer", "minimum": saved.MIN_WIDTH, "maximum": saved.MAX_WIDTH}
UPLOAD_SCHEMAS: dict[str, Any] = {
    "SavedHeatmapCapture": {
        "type": "object",
        "required": ["url"],
        "description": "One `image` with its `width`, or `images` with `widths` in the same order. JPEG, PNG or "
                       "WebP, each at most 20 MB (60 MB in all), 4000 × 30000 px and 50 Mpx; re-encoded as JPEG, "
                       "metadata dropped.",
        "properties": {
            "url": {"type": "string", "maxLength": saved.MAX_URL_LENGTH,
                    "description": "The page the screenshots show; no wildcards."},
            "name": {"type": "string", "maxLength": saved.MAX_NAME_LENGTH, "description": "Defaults to the url."},
            "image": {"type": "string", "format": "binary"},
            "width": WIDTH,
            "images": {"type": "array", "maxItems": saved.MAX_WIDTHS, "items": {"type": "string", "format": "binary"}},
            "widths": {"type": "array", "maxItems": saved.MAX_WIDTHS, "items": WIDTH},
        },
    },
}

SCHEMAS: dict[str, Any] = {
    **openapi_components(
        saved.Error, saved.PaginatedSavedHeatmapList, saved.HeatmapPreflightResult,
        requests=(saved.SavedHeatmapCreate, saved.PatchedSavedHeatmap, saved.HeatmapPrewarm, saved.HeatmapPreflight),
    ),
    **UPLOAD_SCHEMAS,
}
ACCOUNT_SCHEMAS = openapi_components(
    accounts.Me, accounts.PersonalAPIKeyInfo, accounts.OrganizationList, accounts.OrganizationDetail,
    accounts.ProjectList, accounts.MemberList, accounts.InviteList,
    requests=(accounts.NamedBody, accounts.MemberUpdate, accounts.InviteCreate),
)

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

    return {
        "/saved/": {
            "parameters": [PROJECT_ID],
            "get": operation(
                "saved_list", "List saved heatmaps (not deleted).", READ,
                {"200": _json(_ref("PaginatedSavedHeatmapList"), "One page of heatmaps."), **ERRORS},
                parameters=query_parameters(saved.SavedHeatmapListQuery),
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
                "saved_retrieve", "Retrieve one, soft-deleted ones too (deleted: true); a stuck capture is re-enqueued.", READ,
                {"200": HEATMAP, **ERRORS},
            ),
            "patch": operation(
                "saved_partial_update", "Update or restore (deleted: false); a change of url, widths, type or "
                "block_consent_modals regenerates.",
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
                "The screenshot at a width: exact; 202 while that target width is still being captured; else the"
                " nearest with content (ties: the smaller width). X-Screenshot-Width names the width served.",
                READ,
                {
                    "200": {
                        "description": "The JPEG.",
                        "headers": {
                            name: {"schema": {"type": "string"}, "required": True}
                            for name in (
                                "ETag", "Cache-Control", "Content-Disposition", "X-Content-Type-Options",
                                "X-Screenshot-Width",
                            )
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
HISTORY_SCHEMAS = openapi_components(CaptureRunList, RunDiffResponse)


def _history_paths(tag: str) -> dict[str, Any]:
    short_id = {"name": "short_id", "in": "path", "required": True, "schema": {"type": "string"}}
    width = _query("width", {"type": "integer", "minimum": 1, "maximum": MAX_INTEGER, "default": 1024},
                   "The viewport width.")
    run_query = [_query(name, {"type": "integer", "minimum": 1, "maximum": MAX_INTEGER}, description)
                 for name, description in (("a", "The earlier run's number."), ("b", "The later run's number."))]
    jpeg = {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}

    def operation(operation_id: str, summary: str, responses: dict[str, Any], **extra: Any) -> Any:
        return {"operationId": f"{tag}_{operation_id}", "summary": f"Our extension, not in PostHog: {summary}",
                "tags": [tag, "extensions"], "security": READ, "responses": {**responses, **ERRORS}, **extra}

    return {
        "/saved/{short_id}/runs/": {
            "parameters": [PROJECT_ID, short_id],
            "get": operation("saved_runs_list", "the heatmap's kept capture runs, newest first.",
                             {"200": _json(_ref("CaptureRunList"), "The runs.")}),
        },
        "/saved/{short_id}/runs/{number}/content": {
            "parameters": [PROJECT_ID, short_id,
                           {"name": "number", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "get": operation("saved_runs_content", "one run's screenshot at exactly `width`.",
                             {"200": {"description": "The JPEG.", "content": jpeg}}, parameters=[width]),
        },
        "/saved/{short_id}/runs/diff": {
            "parameters": [PROJECT_ID, short_id],
            "get": operation(
                "saved_runs_diff",
                "how run `b` differs from run `a` at `width`: the later page greyed with its changed areas "
                "highlighted (X-Heatmap-Changed-Share, X-Heatmap-Height-Change), or with format=json the figures.",
                {"200": {"description": "The highlight JPEG, or the figures.",
                         "headers": {name: {"schema": {"type": "string"}, "required": False}
                                     for name in ("X-Heatmap-Changed-Share", "X-Heatmap-Height-Change")},
                         "content": {**jpeg, "application/json": {"schema": _ref("RunDiffResponse")}}}},
                parameters=[*run_query, width,
                            _query("format", {"type": "string", "enum": ["jpeg", "json"]}, "json: the figures only.")],
            ),
        },
    }


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




def _account_operation(operation_id: str, summary: str, tag: str, model: str | None, *, status: str = "200",
                       body: str | None = None, security: list[Any] | None = None) -> dict[str, Any]:
    answer = _json(_ref(model), summary) if model else {"description": summary}
    operation = {"operationId": operation_id, "summary": summary, "tags": [tag],
                 "security": security or [{"PersonalAPIKey": []}], "responses": {status: answer, **ERRORS}}
    if body:
        operation["requestBody"] = _body(body)
    return operation


def _scope(name: str) -> list[Any]:
    return [{"PersonalAPIKey": [name]}]


ORGANIZATION_ID = {"name": "organization_id", "in": "path", "required": True, "schema": {"type": "string"},
                   "description": "An organization id, or `@current` for the current project's."}
PROJECT_WRITE, ORGANIZATION_WRITE, MEMBER_WRITE = (_scope("project:write"), _scope("organization:write"),
                                                   _scope("organization_member:write"))


def _account_paths() -> dict[str, Any]:
    """Reads need any valid key and show what it reaches; writes need the scope named and an admin's role."""
    org = "/api/organizations/{organization_id}"
    member = {"name": "user_uuid", "in": "path", "required": True, "schema": {"type": "string"}}
    invite = {"name": "invite_id", "in": "path", "required": True, "schema": {"type": "string"}}
    paths: dict[str, Any] = {
        "/api/users/@me/": {"get": _account_operation(
            "users_me_retrieve", "The key's own user, its organizations and the projects the key reaches.", "users",
            "Me")},
        "/api/personal_api_keys/@current/": {"get": _account_operation(
            "personal_api_keys_current_retrieve", "The calling key: label, mask, scopes and scoped projects or "
            "organizations.", "personal_api_keys", "PersonalAPIKeyInfo")},
        "/api/organizations/": {"get": _account_operation(
            "organizations_list", "The organizations the key reaches.", "organizations", "OrganizationList")},
        org + "/": {
            "parameters": [ORGANIZATION_ID],
            "get": _account_operation("organizations_retrieve", "One organization and its projects the key reaches.",
                                      "organizations", "OrganizationDetail"),
            "patch": _account_operation("organizations_partial_update", "Rename (admins).", "organizations",
                                        "OrganizationDetail", body="NamedBody", security=ORGANIZATION_WRITE),
        },
        org + "/projects/": {
            "parameters": [ORGANIZATION_ID],
            "get": _account_operation("organizations_projects_list", "The organization's projects the key reaches.",
                                      "organizations", "ProjectList"),
            "post": _account_operation("organizations_projects_create", "Create a project (admins).", "organizations",
                                       "ProjectBasic", status="201", body="NamedBody", security=PROJECT_WRITE),
        },
        org + "/members/": {
            "parameters": [ORGANIZATION_ID],
            "get": _account_operation("organizations_members_list", "Members and their levels (1 member, 8 admin).",
                                      "organizations", "MemberList"),
        },
        org + "/members/{user_uuid}/": {
            "parameters": [ORGANIZATION_ID, member],
            "patch": _account_operation("organizations_members_partial_update", "Change a member's level (admins; "
                                        "never the last admin's).", "organizations", "Member", body="MemberUpdate",
                                        security=MEMBER_WRITE),
            "delete": _account_operation("organizations_members_destroy", "Remove a member (admins), or leave; never "
                                         "the last admin. Their sessions end and keys stop reaching the "
                                         "organization at once.", "organizations", None, status="204",
                                         security=MEMBER_WRITE),
        },
        org + "/invites/": {
            "parameters": [ORGANIZATION_ID],
            "get": _account_operation("organizations_invites_list", "Pending invitations (their links are never shown "
                                      "again).", "organizations", "InviteList"),
            "post": _account_operation("organizations_invites_create", "Invite by email (admins): the answer holds the "
                                       "link, once; mailed too when SMTP is set.", "organizations", "Invite",
                                       status="201", body="InviteCreate", security=MEMBER_WRITE),
        },
        org + "/invites/{invite_id}/": {
            "parameters": [ORGANIZATION_ID, invite],
            "delete": _account_operation("organizations_invites_destroy", "Revoke an invitation (admins).",
                                         "organizations", None, status="204", security=MEMBER_WRITE),
        },
        "/api/projects/": {
            "get": _account_operation("projects_list", "The projects the key reaches.", "projects", "ProjectList"),
            "post": _account_operation("projects_create", "Create a project in the current project's organization "
                                       "(admins).", "projects", "ProjectBasic", status="201", body="NamedBody",
                                       security=PROJECT_WRITE),
        },
        "/api/environments/": {
            "get": _account_operation("environments_list", "The projects the key reaches.", "environments",
                                      "ProjectList"),
        },
    }
    for prefix in PROJECT_PREFIXES:
        tag = prefix.split("/")[2]
        paths[prefix + "/"] = {
            "parameters": [PROJECT_ID],
            "get": _account_operation(f"{tag}_retrieve", "One project.", tag, "ProjectBasic"),
            "patch": _account_operation(f"{tag}_partial_update", "Rename (admins).", tag, "ProjectBasic",
                                        body="NamedBody", security=PROJECT_WRITE),
            "delete": _account_operation(f"{tag}_destroy", "Soft delete (admins); an organization keeps one project.",
                                         tag, None, status="204", security=PROJECT_WRITE),
        }
        paths[prefix + "/reset_token/"] = {
            "parameters": [PROJECT_ID],
            "patch": _account_operation(f"{tag}_reset_token_partial_update", "A new public phc_ token (admins); the "
                                        "old one is refused from now on.", tag, "ProjectBasic",
                                        security=PROJECT_WRITE),
        }
    return paths


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
    paths = _account_paths()
    for prefix in PROJECT_PREFIXES:
        tag = prefix.split("/")[2]
        for path, item in {**_project_paths(tag), **_toolbar_paths(tag), **_interaction_paths(tag),
                           **_history_paths(tag)}.items():
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
            "schemas": {**SCHEMAS, **ACCOUNT_SCHEMAS, **INTERACTION_SCHEMAS, **HISTORY_SCHEMAS},
            "securitySchemes": {
                "PersonalAPIKey": {"type": "http", "scheme": "bearer", "description": "A personal API key (phx_…)."}
            },
        },
    }
