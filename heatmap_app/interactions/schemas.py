"""The typed requests and responses of the heatmap data endpoints, API and UI alike.

Each request and response has one pydantic model here; the views validate through it and the OpenAPI
document is generated from it (heatmap_app.api.openapi.openapi_components / query_parameters).
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar

import re2
from dateutil.relativedelta import relativedelta
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from heatmap_app.models.interactions import INTERACTION_TYPES

MAX_INTEGER = 2**31 - 1
MAX_URL_LENGTH = 2000
MAX_POINTS_LIMIT = 1_000_000
DEFAULT_POINTS_LIMIT = 500
MAX_EVENT_POINTS = 100
RELATIVE_UNITS = {"h": "hours", "d": "days", "w": "weeks", "m": "months", "y": "years"}
DATE_PATTERN = r"^(-[0-9]{1,5}[hdwmy]|[0-9]{4}-[0-9]{2}-[0-9]{2})$"

InteractionType = Literal["click", "rageclick", "deadclick", "mousemove", "scrolldepth"]
Aggregation = Literal["total_count", "unique_visitors"]
assert set(InteractionType.__args__) == set(INTERACTION_TYPES)  # type: ignore[attr-defined]


class InvalidQuery(ValueError):
    """A request that does not validate; `field` names the parameter (PostHog's `attr`)."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


Model = TypeVar("Model", bound=BaseModel)


def validate_query(model: type[Model], values: dict[str, Any]) -> Model:
    """`model` from query-string values, or InvalidQuery naming the first bad parameter."""
    try:
        return model.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else None
        message = first["msg"].removeprefix("Value error, ")
        raise InvalidQuery(field, f"{field}: {message}" if field else message) from None


def today() -> date:
    return datetime.now(UTC).date()


def parse_date(value: Any) -> Any:
    """'-7d', '-24h', '-2w', '-3m', '-1y' (relative to now, UTC) or 'YYYY-MM-DD', as a date (PostHog's granularity)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("-") and text[-1:] in RELATIVE_UNITS and text[1:-1].isdigit():
        try:
            moment = datetime.now(UTC) - relativedelta(**{RELATIVE_UNITS[text[-1]]: int(text[1:-1])})
        except (OverflowError, ValueError):
            raise ValueError("is too far in the past") from None
        return moment.date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError("must be a relative date like -7d or -24h, or a date YYYY-MM-DD") from None


QueryDate = Annotated[
    date,
    BeforeValidator(parse_date),
    WithJsonSchema({"type": "string", "pattern": DATE_PATTERN}),
]


def anchored_pattern(pattern: str) -> str:
    """PostHog's url_pattern: anchored at both ends, and a `*` not after a `.` matches `.+`."""
    anchored = pattern if pattern.startswith("^") else f"^{pattern}"
    anchored = anchored if anchored.endswith("$") else f"{anchored}$"
    return "".join(".+" if char == "*" and index > 0 and anchored[index - 1] != "." else char
                   for index, char in enumerate(anchored))


@functools.lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> Any:
    """A url_pattern compiled as PostHog's would be (RE2: linear time, whatever a caller sends), or None."""
    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(anchored_pattern(pattern), options)
    except re2.error:
        return None


def glob_to_pattern(glob: str) -> str:
    """A saved heatmap's data_url with `*` wildcards as a url_pattern: everything else matches literally."""
    return ".+".join(re2.escape(part) for part in glob.split("*"))


class InteractionFilter(BaseModel):
    """What every heatmap-data request narrows by."""

    model_config = ConfigDict(extra="ignore")

    type: InteractionType = Field("click", description="Which interactions: click, rageclick, deadclick, mousemove "
                                                       "or scrolldepth (scroll-depth buckets instead of points).")
    date_from: QueryDate = Field(default_factory=lambda: parse_date("-7d"),
                                 description="Start day (UTC): relative like -7d, -24h, -30d, or YYYY-MM-DD. "
                                             "Default -7d.")
    date_to: QueryDate = Field(default_factory=today, description="End day (UTC), inclusive. Default today.")
    aggregation: Aggregation = Field("total_count", description="total_count: every interaction; unique_visitors: "
                                                                "distinct visitors (distinct_id).")


class HeatmapQuery(InteractionFilter):
    """GET …/heatmaps/ (PostHog's parameters)."""

    url_exact: str | None = Field(None, max_length=MAX_URL_LENGTH,
                                  description="Only this page URL (a trailing slash is ignored). "
                                              "Wins over url_pattern.")
    url_pattern: str | None = Field(None, max_length=MAX_URL_LENGTH,
                                    description="Pages whose URL matches this regular expression (RE2, anchored; a "
                                                "`*` not after `.` matches `.+`).")
    viewport_width_min: int | None = Field(None, ge=0, le=MAX_INTEGER, description="Narrowest viewport, px.")
    viewport_width_max: int | None = Field(None, ge=0, le=MAX_INTEGER, description="Widest viewport, px.")
    hide_zero_coordinates: bool = Field(True, description="Leave out points at (0, 0), usually noise. "
                                                          "Not for scrolldepth.")
    limit: int = Field(DEFAULT_POINTS_LIMIT, ge=0, le=MAX_POINTS_LIMIT,
                       description="Points to return, hottest first; 0 returns all (up to 1,000,000).")
    offset: int = Field(0, ge=0, le=MAX_POINTS_LIMIT, description="Hottest points to skip.")

    @field_validator("url_pattern")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None and compile_pattern(pattern) is None:
            raise ValueError("is not a valid regular expression")
        return pattern

    @model_validator(mode="after")
    def _one_url_filter(self) -> HeatmapQuery:
        if self.url_exact is not None and self.url_pattern is not None:
            self.url_pattern = None
        return self


class EventPoint(BaseModel):
    """A position from a `heatmaps/` result: relative x (0–1), y in px, and whether it is on a fixed element."""

    x: float = Field(allow_inf_nan=False)
    y: float = Field(allow_inf_nan=False)
    target_fixed: bool = False


def _parse_points(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        raise ValueError('must be a JSON array like [{"x": 0.5, "y": 100}]') from None


class HeatmapEventsQuery(HeatmapQuery):
    """GET …/heatmaps/events/: the interactions behind some positions."""

    points: Annotated[
        list[EventPoint],
        BeforeValidator(_parse_points),
        Field(min_length=1, max_length=MAX_EVENT_POINTS),
        WithJsonSchema({"type": "string", "description": 'JSON array of positions, e.g. [{"x": 0.5, "y": 100, '
                                                         '"target_fixed": false}]; at most 100.'}),
    ]
    limit: int = Field(50, ge=1, le=100, description="Interactions to return, 1–100.")
    offset: int = Field(0, ge=0, le=MAX_INTEGER, description="Interactions to skip.")


class OverlayQuery(InteractionFilter):
    """The overlay of a saved heatmap's screenshot: the data near one screenshot width, and how to paint it."""

    width: int | None = Field(None, ge=1, le=MAX_INTEGER, description="The screenshot width to paint (nearest "
                                                                       "captured one is used). Default 1024.")
    width_tolerance: int = Field(10, ge=0, le=100, description="Use data from viewports within this percentage "
                                                               "of the screenshot's width.")
    opacity: float = Field(0.7, ge=0.05, le=1.0, allow_inf_nan=False, description="Opacity of the heat layer.")


# --- responses ------------------------------------------------------------------------------------


class HeatmapPoint(BaseModel):
    pointer_target_fixed: bool
    pointer_relative_x: float
    pointer_y: int
    count: int


class FoldSummary(BaseModel):
    """Interactions above and below the first screen (fixed elements left out)."""

    total_count: int
    below_fold_count: int
    pct_below_fold: float
    median_viewport_height: int | None

    @classmethod
    def of(cls, unfixed: int, below_fold: int, median_viewport_height: int | None) -> FoldSummary:
        return cls(
            total_count=unfixed,
            below_fold_count=below_fold,
            pct_below_fold=round(100 * below_fold / unfixed, 1) if unfixed else 0.0,
            median_viewport_height=median_viewport_height,
        )


class HeatmapResponse(BaseModel):
    results: list[HeatmapPoint]
    fold: FoldSummary
    has_more: bool


class ScrollDepthBucket(BaseModel):
    scroll_depth_bucket: int = Field(description="Depth in px (a multiple of 100) down to which the page was seen.")
    bucket_count: int
    cumulative_count: int = Field(description="Visits that reached this depth or further.")


class ScrollDepthResponse(BaseModel):
    results: list[ScrollDepthBucket]


class HeatmapEvent(BaseModel):
    session_id: str | None
    distinct_id: str
    timestamp: datetime
    pointer_relative_x: float
    pointer_y: int
    current_url: str
    type: str


class HeatmapEventsResponse(BaseModel):
    results: list[HeatmapEvent]
    total_count: int
    has_more: bool


class OverlayData(BaseModel):
    """What the detail page paints over one screenshot (our UI's endpoint, from the same queries as the API)."""

    type: InteractionType
    aggregation: Aggregation
    snapshot_width: int
    snapshot_height: int
    viewport_width_min: int
    viewport_width_max: int
    date_from: date
    date_to: date
    data_url: str
    points: list[HeatmapPoint]
    scroll_depth: list[ScrollDepthBucket]
    fold: FoldSummary
    total: int = Field(description="Interactions (or visitors) painted; for scrolldepth, visits measured.")
    max_count: int


def start_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def end_of(day: date) -> datetime:
    return start_of(day) + timedelta(days=1)
