"""Error responses: one JSON shape for the API (PostHog's), HTML pages for the UI."""

from __future__ import annotations

from flask import Flask, Response, current_app, jsonify, render_template, request
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError as RedisOutOfMemoryError
from redis.exceptions import ReadOnlyError as RedisReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError
from werkzeug.exceptions import HTTPException

from heatmap_app.heatmap_schemas import Error

# PostHog's error "type" for each status family.
ERROR_TYPES = {
    400: "validation_error",
    401: "authentication_error",
    403: "authentication_error",
    404: "invalid_request",
    405: "invalid_request",
    413: "invalid_request",
    415: "invalid_request",
    429: "throttled_error",
}
REDIS_UNAVAILABLE = (
    "The capture queue is unavailable right now, so nothing was saved. Try again in a minute; "
    "if it keeps happening, tell your admin that Redis does not answer."
)
REDIS_RETRY_AFTER = "30"
# Redis down, too slow, full, or a replica refusing writes: the request may work in a minute.
REDIS_UNAVAILABLE_ERRORS = (RedisConnectionError, RedisTimeoutError, RedisOutOfMemoryError, RedisReadOnlyError)


class APIError(Exception):
    """An error the API answers with `{"type", "code", "detail", "attr"}`."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        code: str | None = None,
        attr: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code or {400: "invalid_input", 401: "not_authenticated", 403: "permission_denied",
                             404: "not_found", 429: "throttled"}.get(status, "error")
        self.attr = attr
        self.headers = headers or {}


class BadInput(Exception):
    """A 400 for input of any request, before a view runs: JSON for the API, the error page for the UI."""

    def __init__(self, detail: str, attr: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.attr = attr


def api_error_response(
    status: int, detail: str, *, code: str, attr: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    body = Error(
        type=ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request"),
        code=code, detail=detail, attr=attr,
    )
    response = jsonify(body.model_dump())
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _http_code(exception: HTTPException) -> str:
    return (exception.name or "error").lower().replace(" ", "_")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(APIError)
    def handle_api_error(error: APIError) -> Response:
        return api_error_response(error.status, error.detail, code=error.code, attr=error.attr, headers=error.headers)

    @app.errorhandler(BadInput)
    def handle_bad_input(error: BadInput) -> Response | tuple[str, int]:
        if _wants_json():
            return api_error_response(400, error.detail, code="invalid_input", attr=error.attr)
        return render_template("errors/error.html", status=400, title="Bad request", message=error.detail), 400

    @app.errorhandler(HTTPException)
    def handle_http_exception(error: HTTPException) -> Response | tuple[str, int]:
        status = error.code or 500
        if _wants_json():
            headers = dict(error.get_response().headers)
            headers.pop("Content-Type", None)
            headers.pop("Content-Length", None)
            return api_error_response(status, error.description or error.name, code=_http_code(error), headers=headers)
        return render_template("errors/error.html", status=status, title=error.name, message=error.description), status

    for redis_error in REDIS_UNAVAILABLE_ERRORS:
        app.register_error_handler(redis_error, handle_redis_unavailable)

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception) -> Response | tuple[str, int]:
        app.logger.exception("Unhandled error", exc_info=error)
        if _wants_json():
            return api_error_response(500, "A server error occurred.", code="error")
        return render_template(
            "errors/error.html", status=500, title="Something went wrong", message="Please try again in a moment."
        ), 500


def handle_redis_unavailable(error: Exception) -> Response | tuple[str, int, dict[str, str]]:
    """Redis (the capture queue, the rate-limit counters) does not answer: 503 with a retry hint, never a 500."""
    current_app.logger.warning("Redis does not answer: %s", error)
    headers = {"Retry-After": REDIS_RETRY_AFTER}
    if _wants_json():
        return api_error_response(503, REDIS_UNAVAILABLE, code="service_unavailable", headers=headers)
    return render_template(
        "errors/error.html", status=503, title="Service unavailable", message=REDIS_UNAVAILABLE
    ), 503, headers
