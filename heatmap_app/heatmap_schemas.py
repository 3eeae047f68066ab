"""The typed contract of the saved-heatmap endpoints: one pydantic model per request and per response.

The service (heatmap_app.heatmaps) validates every write and list query of the API and the UI through
these models, the API answers with them, and the OpenAPI components are generated from them
(heatmap_app.api.openapi). What depends on the network or the database — whether a URL may be
captured, the rate limits — is checked by the service after the shape is valid.

The classes are named after their OpenAPI components; import the module, not the names, where the
ORM classes of the same name are in use (`heatmap_schemas.SavedHeatmap`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
)

from heatmap_app.capture.request import (
    DEFAULT_WIDTHS,
    DEVICE_SCALE_FACTORS,
    MAX_WAIT_SECONDS,
    MAX_WIDTH,
    MAX_WIDTHS,
    MIN_WIDTH,
    clean_widths,
)


MAX_INTEGER = 2**31 - 1  # ids and offsets beyond a 32-bit INTEGER cannot match a row
MAX_NAME_LENGTH = 400
MAX_URL_LENGTH = 2000
MAX_SEARCH_LENGTH = 200
DEFAULT_LIMIT = 100
MAX_LIMIT = 500
DEFAULT_ORDER = "-updated_at"

# Only screenshot heatmaps are captured; the others start (and stay) completed.
HeatmapType = Literal["screenshot", "iframe", "recording"]
HeatmapStatus = Literal["processing", "completed", "failed"]
RecaptureFrequency = Literal["off", "daily", "weekly"]
# Where the screenshots come from: captured by our workers, or uploaded from the user's own browser.
HeatmapSource = Literal["server", "toolbar"]
# No per-object access control: every member of the project's organization may edit its heatmaps.
MEMBER_ACCESS_LEVEL = "editor"


def first_error(error: ValidationError, field: str | None = None) -> tuple[str | None, str]:
    """The field (top-level name, PostHog's `attr`; or `field` for a value validated alone) and a readable
    message of a validation's first error.

    Our own checks raise messages that already name the field; pydantic's get the field's name in front.
    """
    first = error.errors()[0]
    if field is None:
        field = str(first["loc"][0]) if first["loc"] else None
    if first["type"] == "value_error":
        return field, first["msg"].removeprefix("Value error, ")
    where = ".".join(str(part) for part in first["loc"]) if len(first["loc"]) > 1 else field  # e.g. recapture.hour
    return field, f"{where}: {first['msg']}" if where else first["msg"]


# --- field types ----------------------------------------------------------------------------------


def _strip_or_none(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


def _required_url(value: str) -> str:
    if not value.strip():
        raise ValueError("Enter the URL of the page to capture.")
    return value


WIDTHS_SCHEMA = {
    "type": "array",
    "items": {"type": "integer", "minimum": MIN_WIDTH, "maximum": MAX_WIDTH},
    "minItems": 1,
    "description": f"Viewport widths in CSS pixels, at most {MAX_WIDTHS} different ones; duplicates are dropped "
                   "and the list is kept sorted.",
}
# Integers only (no true, no 1024.5), each in range; sorted, without duplicates.
Widths = Annotated[list[StrictInt], AfterValidator(clean_widths), WithJsonSchema(WIDTHS_SCHEMA)]
PageURL = Annotated[
    str,
    StringConstraints(max_length=MAX_URL_LENGTH),
    AfterValidator(_required_url),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": MAX_URL_LENGTH,
                    "description": "The http(s) page to capture."}),
]
Name = Annotated[Annotated[str, StringConstraints(max_length=MAX_NAME_LENGTH)] | None, AfterValidator(_strip_or_none)]
# Matched against collected events, never opened by the server: not checked as a URL to capture.
DataURL = Annotated[
    Annotated[str, StringConstraints(max_length=MAX_URL_LENGTH)] | None,
    AfterValidator(_strip_or_none),
    Field(description="The page URL, or a pattern with `*`, whose heatmap data is painted over the screenshots. "
                      "Defaults to url."),
]
UTCTimestamp = Annotated[
    datetime, PlainSerializer(lambda moment: moment.isoformat().replace("+00:00", "Z"), return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


WebhookURL = Annotated[
    Annotated[str, StringConstraints(max_length=MAX_URL_LENGTH)] | None,
    AfterValidator(_strip_or_none),
    Field(description="Our extension: POSTed, signed with HMAC-SHA256, when a run changed the page; checked as a "
                      "capture's URL is. null or empty removes it."),
]


# --- capture settings (our extension; validated against the saved ones by heatmap_app.capture_settings) ----

MAX_HEADERS = 20
MAX_COOKIES = 50
MAX_HIDE_SELECTORS = 20
MAX_SELECTOR_LENGTH = 500
MAX_VALUE_LENGTH = 4000


def _selector(description: str) -> dict[str, Any]:
    return {"type": "string", "maxLength": MAX_SELECTOR_LENGTH, "nullable": True, "description": description}


SECRET_NOTE = "Write-only: saved encrypted and never returned (read `value_set`). Omit it to keep the saved value."
SECRET = {"type": "string", "maxLength": MAX_VALUE_LENGTH, "writeOnly": True, "description": SECRET_NOTE}
DOMAIN = {
    "type": "string", "nullable": True,
    "description": "The page's host or a parent domain of it; omitted: a host-only cookie of the page's host.",
}
SETTINGS_COMMON = {
    "wait_for_selector": _selector(
        f"Before the first shot, wait until an element matches this CSS selector (at most {MAX_WAIT_SECONDS:g} s "
        "minus delay_seconds); the capture fails if none appears."
    ),
    "delay_seconds": {"type": "number", "minimum": 0, "maximum": MAX_WAIT_SECONDS, "default": 0,
                      "description": "Extra wait after the page loaded, before the first shot."},
    "hide_selectors": {
        "type": "array", "maxItems": MAX_HIDE_SELECTORS,
        "items": {"type": "string", "maxLength": MAX_SELECTOR_LENGTH},
        "description": "Elements (chat widgets, pop-ups) hidden before every width's shot.",
    },
    "device_scale_factor": {"type": "integer", "enum": list(DEVICE_SCALE_FACTORS), "default": 1,
                            "description": "2: retina screenshots, twice the pixels in each direction."},
}
CAPTURE_SETTINGS_INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Our extension. Headers, cookies and basic credentials go only to the page's own origin, never "
                   "to third-party resources or after a redirect to another site. An update replaces each key "
                   "it names.",
    "properties": {
        "headers": {"type": "array", "maxItems": MAX_HEADERS, "items": {
            "type": "object", "required": ["name"],
            "properties": {"name": {"type": "string"}, "value": SECRET},
        }},
        "cookies": {"type": "array", "maxItems": MAX_COOKIES, "items": {
            "type": "object", "required": ["name"],
            "properties": {
                "name": {"type": "string"},
                "value": SECRET,
                "domain": DOMAIN, "path": {"type": "string", "default": "/"},
            },
        }},
        "basic_auth": {"type": "object", "nullable": True, "required": ["username"], "properties": {
            "username": {"type": "string"},
            "password": {"type": "string", "writeOnly": True, "description": SECRET_NOTE},
        }, "description": "HTTP basic credentials, given apart from the URL (URLs with credentials are refused)."},
        **SETTINGS_COMMON,
    },
}
CAPTURE_SETTINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Our extension: the capture settings with every secret replaced by whether it is set.",
    "required": ["headers", "cookies", "basic_auth", *SETTINGS_COMMON],
    "properties": {
        "headers": {"type": "array", "items": {"type": "object", "required": ["name", "value_set"], "properties": {
            "name": {"type": "string"}, "value_set": {"type": "boolean"}}}},
        "cookies": {"type": "array", "items": {
            "type": "object", "required": ["name", "value_set", "domain", "path"],
            "properties": {"name": {"type": "string"}, "value_set": {"type": "boolean"}, "domain": DOMAIN,
                           "path": {"type": "string"}},
        }},
        "basic_auth": {"type": "object", "nullable": True, "required": ["username", "password_set"], "properties": {
            "username": {"type": "string"}, "password_set": {"type": "boolean"}}},
        **SETTINGS_COMMON,
    },
}

CaptureSettingsInput = Annotated[
    dict[str, Any] | None, WithJsonSchema({**CAPTURE_SETTINGS_INPUT_SCHEMA, "nullable": True}),
]


# --- requests -------------------------------------------------------------------------------------


class _Body(BaseModel):
    # JSON values as sent: "yes" is no boolean and "1024" no width. Unknown (and read-only) fields are ignored.
    model_config = ConfigDict(strict=True, extra="ignore")


class Recapture(_Body):
    """Our extension: recapture on a schedule, run by RQ's scheduler."""

    frequency: RecaptureFrequency = "off"
    hour: StrictInt = Field(6, ge=0, le=23, description="The hour, in UTC.")
    weekday: StrictInt = Field(0, ge=0, le=6, description="For weekly: 0 is Monday, 6 Sunday.")


class SavedHeatmapCreate(_Body):
    """POST saved/. A screenshot heatmap starts processing and is captured; other types start completed."""

    url: PageURL
    name: Name = None
    data_url: DataURL = None
    widths: Widths = Field(default_factory=lambda: list(DEFAULT_WIDTHS))
    type: HeatmapType = "screenshot"
    block_consent_modals: StrictBool = Field(False, description="Accept and hide cookie-consent banners first.")
    recapture: Recapture | None = None
    change_webhook_url: WebhookURL = None
    capture_settings: CaptureSettingsInput = None


class PatchedSavedHeatmap(_Body):
    """PATCH saved/<short_id>/: only the fields sent change. A change of url, widths or block_consent_modals
    regenerates a screenshot heatmap."""

    name: Name = None
    url: PageURL = Field(None)
    data_url: DataURL = None
    widths: Widths = Field(None)
    type: HeatmapType = Field(None, description="A change to screenshot captures the page.")
    block_consent_modals: StrictBool = Field(None)
    recapture: Recapture = Field(None)
    change_webhook_url: WebhookURL = None
    capture_settings: CaptureSettingsInput = Field(
        None, description="A change of capture settings regenerates; null drops them all, secrets included.")
    deleted: StrictBool = Field(None, description="true soft-deletes the heatmap, false restores it.")


def _known_order(order: str) -> str:
    if order.removeprefix("-") not in ORDER_FIELDS:
        raise ValueError(f"order must be a field of the heatmap ({', '.join(ORDER_FIELDS)}), optionally with '-'.")
    return order


def _clamped(low: int, high: int) -> Any:
    """PostHog's paging: a limit or offset out of range is brought into it, not refused."""
    return AfterValidator(lambda value: max(low, min(value, high)))


Order = Annotated[
    str,
    AfterValidator(_known_order),
    WithJsonSchema({"type": "string", "pattern": "^-?[a-z_]+$",
                    "description": "A field of the heatmap, e.g. name or -created_at; '-' sorts descending."}),
]


class SavedHeatmapListQuery(BaseModel):
    """GET saved/ (query-string values; an empty one counts as absent), and the UI's list.

    A type or status that no heatmap can have matches nothing, as in PostHog.
    """

    model_config = ConfigDict(extra="ignore")

    type: str | None = Field(None, description="Only this type: screenshot, iframe or recording.")
    status: str | None = Field(None, description="Only this status: processing, completed or failed.")
    search: str | None = Field(None, description="Case-insensitive substring of the url or the name.")
    created_by: int | None = Field(None, ge=1, le=MAX_INTEGER, description="Only heatmaps this user id created.")
    order: Order = Field(DEFAULT_ORDER, description="Sort order.")
    limit: Annotated[int, _clamped(1, MAX_LIMIT)] = Field(
        DEFAULT_LIMIT, description=f"Page size; out of 1–{MAX_LIMIT} it is brought into that range.")
    offset: Annotated[int, _clamped(0, MAX_INTEGER)] = Field(0, description="Rows to skip; below 0 counts as 0.")


# --- responses ------------------------------------------------------------------------------------


class Error(BaseModel):
    """Every API error, in PostHog's shape; `attr` names the offending field."""

    type: str
    code: str
    detail: str
    attr: str | None


class UserBasic(BaseModel):
    """A user as PostHog embeds it in other objects (e.g. a heatmap's `created_by`)."""

    id: int
    uuid: str = Field(json_schema_extra={"format": "uuid"})
    distinct_id: str | None
    first_name: str
    last_name: str
    email: str = Field(json_schema_extra={"format": "email"})
    is_email_verified: bool | None
    hedgehog_config: dict[str, Any] | None
    role_at_organization: str | None

    @classmethod
    def of(cls, user: Any) -> UserBasic:
        return cls(id=user.id, uuid=user.uuid, distinct_id=user.distinct_id, first_name=user.first_name,
                   last_name=user.last_name, email=user.email, is_email_verified=user.is_email_verified,
                   hedgehog_config={}, role_at_organization=user.role_at_organization)


class HeatmapSnapshot(BaseModel):
    width: int
    has_content: bool


class SavedHeatmap(BaseModel):
    """A saved heatmap, in every answer that holds one (list, create, retrieve, update, regenerate, the 202)."""

    id: str = Field(json_schema_extra={"format": "uuid"})
    short_id: str
    name: str | None = Field(max_length=MAX_NAME_LENGTH)
    url: str = Field(max_length=MAX_URL_LENGTH)
    data_url: str | None = Field(max_length=MAX_URL_LENGTH)
    target_widths: list[int]
    type: HeatmapType
    status: HeatmapStatus
    has_content: bool
    snapshots: list[HeatmapSnapshot] = Field(description="Sorted by width.")
    deleted: bool
    block_consent_modals: bool
    created_by: UserBasic | None
    created_at: UTCTimestamp
    updated_at: UTCTimestamp
    exception: str | None
    recapture: Recapture
    change_webhook_url: str | None
    changed_at: UTCTimestamp | None = Field(description="Our extension: when the newest run changed the page.")
    source: HeatmapSource = Field(
        description="server: captured by our workers; toolbar: screenshots uploaded from the user's browser.")
    user_access_level: Literal["none", "viewer", "editor", "manager"]
    capture_settings: Annotated[dict[str, Any], WithJsonSchema(CAPTURE_SETTINGS_SCHEMA)]

    @classmethod
    def of(cls, heatmap: Any) -> SavedHeatmap:
        """From the ORM row (snapshots already in width order)."""
        from heatmap_app.capture_settings import public_capture_settings  # it needs the models, which need us

        snapshots = [HeatmapSnapshot(width=item.width, has_content=item.has_content) for item in heatmap.snapshots]
        return cls(
            id=heatmap.id, short_id=heatmap.short_id, name=heatmap.name, url=heatmap.url, data_url=heatmap.data_url,
            target_widths=heatmap.target_widths, type=heatmap.type, status=heatmap.status,
            has_content=any(item.has_content for item in snapshots), snapshots=snapshots, deleted=heatmap.deleted,
            block_consent_modals=heatmap.block_consent_modals,
            created_by=UserBasic.of(heatmap.created_by) if heatmap.created_by is not None else None,
            created_at=heatmap.created_at, updated_at=heatmap.updated_at, exception=heatmap.exception,
            recapture=Recapture(frequency=heatmap.recapture_frequency, hour=heatmap.recapture_hour,
                                weekday=heatmap.recapture_weekday),
            change_webhook_url=heatmap.change_webhook_url, changed_at=heatmap.changed_at,
            source=heatmap.source, user_access_level=MEMBER_ACCESS_LEVEL,
            capture_settings=public_capture_settings(heatmap.capture_settings),
        )


# The fields of a heatmap a list can be ordered by: the stored ones (not has_content, not snapshots).
ORDER_FIELDS = tuple(name for name in SavedHeatmap.model_fields
                     if name not in ("has_content", "snapshots", "recapture", "user_access_level", "capture_settings"))


class HeatmapPrewarm(_Body):
    """POST saved/prewarm/: capture the page at 1024 px ahead of creating its heatmap; the create reuses it."""

    url: PageURL
    block_consent_modals: StrictBool = False


class HeatmapPreflight(_Body):
    """POST saved/preflight/: whether the page may be shown in an iframe."""

    url: PageURL


class HeatmapPreflightResult(BaseModel):
    framing: Literal["allowed", "blocked", "unknown"]
    blocked_by: Literal["x_frame_options", "frame_ancestors"] | None
    http_status: int | None
    body_excerpt: str | None


class PaginatedSavedHeatmapList(BaseModel):
    count: int = Field(ge=0)
    next: str | None = Field(description="Our extension: the next page's URL.")
    previous: str | None = Field(description="Our extension: the previous page's URL.")
    results: list[SavedHeatmap]
