"""Input that no view could store or look up, refused for every request before a view runs.

PostgreSQL text cannot hold NUL, no UTF-8 column or page can hold a lone surrogate (JSON's "\\ud800"),
and Python's JSON parser gives up on deep nesting with a RecursionError. Each would otherwise fail deep in
a query or a template as a 500; this one check answers 400 for all of them, in the path, the query
string, form fields and JSON bodies alike, naming the field. A chunked body over MAX_CONTENT_LENGTH is
answered 413 like any other body that is too large.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from typing import Any

from flask import Flask, Request, request

from heatmap_app.errors import BadInput
from heatmap_app.uploads import MAX_REQUEST_BYTES

MAX_JSON_DEPTH = 32
BODY_METHODS = ("POST", "PUT", "PATCH")
# Screenshot uploads: allowed MAX_REQUEST_BYTES rather than MAX_CONTENT_LENGTH (UploadSizeRequest), and their
# fields are checked by their views (heatmap_app.toolbar).
UPLOAD_ENDPOINTS = frozenset({"api.capture_saved", "web.heatmap_upload"})
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def is_storable(text: str) -> bool:
    """Whether every database and page can hold `text` (no NUL, no lone surrogate)."""
    return _UNSTORABLE.search(text) is None


def _check_text(text: str, attr: str | None, what: str) -> None:
    if not is_storable(text):
        raise BadInput(f"{what} contains a NUL character or a lone surrogate, which cannot be stored.", attr)


def _field(name: str) -> str | None:
    return name if is_storable(name) else None


def _check_json(document: Any) -> None:
    """Walk the parsed body without recursion: every key and string, and how deep it goes."""
    pending: list[tuple[Any, int, str | None]] = [(document, 0, None)]
    while pending:
        value, depth, attr = pending.pop()
        if depth > MAX_JSON_DEPTH:
            raise BadInput(f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep.")
        if isinstance(value, str):
            _check_text(value, attr, f"The field {attr!r}" if attr else "The JSON body")
        elif isinstance(value, dict):
            for key, item in value.items():
                field = attr or _field(key)
                _check_text(key, field, "A field name")
                pending.append((item, depth + 1, field))
        elif isinstance(value, list):
            pending.extend((item, depth + 1, attr) for item in value)


def _json_body() -> Any:
    # The API parses any body as JSON (clients often omit the Content-Type), so the same is checked here.
    try:
        return request.get_json(force=True, silent=True)
    except RecursionError:
        raise BadInput(f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep.") from None


def refuse_unstorable_input() -> None:
    _check_text(request.path, None, "The address")
    for name, value in request.args.items(multi=True):
        _check_text(name, None, "A query parameter name")
        _check_text(value, name, f"The query parameter {name!r}")
    if request.method not in BODY_METHODS:
        return
    if request.endpoint in UPLOAD_ENDPOINTS:
        return
    # The heatmap-data collector (web.collect) decodes its own bodies and skips unstorable items one by one.
    if request.blueprint == "web":
        for name, value in request.form.items(multi=True):
            _check_text(name, None, "A form field name")
            _check_text(value, name, f"The field {name!r}")
    elif request.blueprint == "api":
        _check_json(_json_body())


class UploadSizeRequest(Request):
    """The app's requests: those to a screenshot upload may be MAX_REQUEST_BYTES long.

    Decided from the URL, before any before_request function (the CSRF check included) reads the body.
    """

    @property
    def max_content_length(self) -> int | None:
        if self._max_content_length is None and self.endpoint in UPLOAD_ENDPOINTS:
            return MAX_REQUEST_BYTES
        return Request.max_content_length.fget(self)  # type: ignore[attr-defined]

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value


class ChunkedBodyLength:
    """WSGI middleware: a chunked request body is read (one byte past MAX_CONTENT_LENGTH at most) and given a length.

    Werkzeug silently cuts a streamed body at MAX_CONTENT_LENGTH, so the view would see a truncated body
    (JSON that does not parse, a form without its CSRF token); with a Content-Length it answers 413.
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.wsgi_app = app.wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower() and not environ.get("CONTENT_LENGTH"):
            body = self._read_at_most(environ["wsgi.input"], self.app.config["MAX_CONTENT_LENGTH"] + 1)
            environ = {**environ, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}
            # No longer chunked; and werkzeug ignores a Content-Length beside "chunked".
            del environ["HTTP_TRANSFER_ENCODING"]
            environ.pop("wsgi.input_terminated", None)
        return self.wsgi_app(environ, start_response)

    @staticmethod
    def _read_at_most(stream: Any, size: int) -> bytes:
        parts: list[bytes] = []
        remaining = size
        while remaining > 0 and (part := stream.read(remaining)):
            parts.append(part)
            remaining -= len(part)
        return b"".join(parts)


def register_input_guard(app: Flask) -> None:
    app.request_class = UploadSizeRequest
    app.wsgi_app = ChunkedBodyLength(app)  # type: ignore[method-assign]
    app.before_request(refuse_unstorable_input)
