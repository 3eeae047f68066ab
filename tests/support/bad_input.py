"""Hand-made bad input, each once answered with a 500, sent over real HTTP to a served app.

Used by the bad-input tests (which check each answer exactly) and by the fuzz runs (which count server errors).
Paths name `{project}`, `{short_id}` and `{id}`: a real project, and a heatmap of it.
"""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

NESTED_1000_DEEP = "[" * 1000 + "]" * 1000
TIMEOUT = 30


@dataclass(frozen=True)
class HandMade:
    name: str
    method: str
    path: str
    status: int
    attr: str | None = None  # the API error's `attr`
    body: bytes | None = None  # sent as application/json (API) as it is
    form: Mapping[str, str] = field(default_factory=dict)  # sent as a form, with the page's CSRF token (UI)
    chunked: bool = False  # the body is sent with Transfer-Encoding: chunked

    def url(self, base_url: str, known: Mapping[str, Any]) -> str:
        return base_url + self.path.format(**known)


def _json(text: str) -> bytes:
    return text.encode()


SAVED = "/api/projects/{project}/saved/"
PAGE_URL = "https://93.184.216.34/pricing"
MAX_CONTENT_LENGTH = 1024 * 1024  # the app's default
OVER_THE_LIMIT = MAX_CONTENT_LENGTH + 10

API_CASES = [
    HandMade("NUL in a JSON string field", "POST", SAVED, 400, "name",
             _json(f'{{"url": "{PAGE_URL}", "name": "a\\u0000b"}}')),
    HandMade("lone surrogate in a JSON string field", "POST", SAVED, 400, "name",
             _json(f'{{"url": "{PAGE_URL}", "name": "\\ud800"}}')),
    HandMade("NUL in data_url", "POST", SAVED, 400, "data_url",
             _json(f'{{"url": "{PAGE_URL}", "data_url": "https://x.example/\\u0000"}}')),
    HandMade("NUL in a JSON field name", "POST", SAVED, 400, None,
             _json(f'{{"url": "{PAGE_URL}", "na\\u0000me": "x"}}')),
    HandMade("NUL in a string of a list", "POST", SAVED, 400, "widths", _json('{"widths": ["\\u0000"]}')),
    HandMade("NUL in a PATCH", "PATCH", SAVED + "{short_id}/", 400, "name", _json('{"name": "\\u0000"}')),
    HandMade("JSON nested 1,000 deep", "POST", SAVED, 400, None,
             _json(f'{{"url": "{PAGE_URL}", "widths": {NESTED_1000_DEEP}}}')),
    HandMade("a bare JSON array nested 1,000 deep", "PATCH", SAVED + "{short_id}/", 400, None, _json(NESTED_1000_DEEP)),
    HandMade("NUL in the query string", "GET", SAVED + "?search=%00", 400, "search"),
    HandMade("NUL in a query parameter name", "GET", SAVED + "?%00=1", 400, None),
    HandMade("NUL in the path", "GET", SAVED + "%00/", 400, None),
    HandMade("NUL in a screenshot id", "GET", "/api/projects/{project}/heatmap_screenshots/%00/content", 400, None),
    HandMade("a project id of a superscript digit", "GET", "/api/projects/%C2%B2/saved/", 404),
    HandMade("a project id of an Arabic-Indic digit", "GET", "/api/environments/%D9%A1/saved/", 404),
    HandMade("a project id past a 32-bit integer", "GET", "/api/projects/2147483648/saved/", 404),
    HandMade("a project id of 20 digits", "DELETE", "/api/projects/99999999999999999999/saved/{short_id}/", 404),
    HandMade("a width past a 32-bit integer", "GET",
             "/api/projects/{project}/heatmap_screenshots/{id}/content?width=99999999999", 400, "width"),
    HandMade("a chunked body over the limit", "POST", SAVED, 413, None,
             _json(f'{{"url": "{PAGE_URL}", "name": "' + "x" * OVER_THE_LIMIT + '"}'), chunked=True),
]

UI_CASES = [
    HandMade("NUL in the search box", "GET", "/heatmaps/?search=%00", 400),
    HandMade("a page number of 20 digits", "GET", "/heatmaps/?page=99999999999999999999", 200),
    HandMade("a page whose offset passes a 32-bit integer", "GET", "/heatmaps/?page=200000000", 200),
    HandMade("NUL in a heatmap's address", "GET", "/heatmaps/%00", 400),
    HandMade("NUL in a form field", "POST", "/heatmaps/new", 400,
             form={"url": PAGE_URL, "name": "a\x00b", "preset": "all"}),
    HandMade("NUL in a rename", "POST", "/heatmaps/{short_id}/rename", 400, form={"name": "\x00"}),
    HandMade("NUL in a key id", "POST", "/settings/api-keys/%00/revoke", 400, form={}),
    HandMade("NUL in a login email", "POST", "/login", 400, form={"email": "ada\x00@example.com", "password": "x"}),
    HandMade("a chunked form over the limit", "POST", "/heatmaps/new", 413,
             body=b"url=" + b"x" * OVER_THE_LIMIT, chunked=True),
]


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def _framed_in_chunks(body: bytes, size: int = 64 * 1024) -> bytes:
    """The body in chunks, the last one only the bytes past MAX_CONTENT_LENGTH.

    All of it goes out in one sendall: once the server has read past the limit, only a few bytes are left
    to send, so they have left before it can answer 413 and close, and the answer can be read.
    """
    pieces = [body[i:min(i + size, MAX_CONTENT_LENGTH)] for i in range(0, MAX_CONTENT_LENGTH, size)]
    pieces.append(body[MAX_CONTENT_LENGTH:])
    return b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"


def _send_chunked(session: requests.Session, url: str, case: HandMade, content_type: str) -> Answer:
    assert case.body is not None
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT)
    try:
        connection.putrequest(case.method, parts.path + (f"?{parts.query}" if parts.query else ""))
        cookies = "; ".join(f"{cookie.name}={cookie.value}" for cookie in session.cookies)
        for name, value in {**session.headers, "Content-Type": content_type, "Transfer-Encoding": "chunked",
                            **({"Cookie": cookies} if cookies else {})}.items():
            connection.putheader(name, value)
        connection.endheaders()
        connection.send(_framed_in_chunks(case.body))
        response = connection.getresponse()
        return Answer(response.status, response.getheader("Content-Type", ""), response.read())
    finally:
        connection.close()


def csrf_token(session: requests.Session, base_url: str) -> str:
    page = session.get(f"{base_url}/heatmaps/new", timeout=TIMEOUT).text
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
    assert match, "no CSRF token on /heatmaps/new"
    return match.group(1)


def send(session: requests.Session, base_url: str, case: HandMade, known: Mapping[str, Any]) -> Answer:
    """Send `case` with the session's headers and cookies (a Bearer key, or a login)."""
    url = case.url(base_url, known)
    content_type = "application/json" if case.path.startswith("/api/") else "application/x-www-form-urlencoded"
    if case.chunked:
        return _send_chunked(session, url, case, content_type)
    if case.method == "POST" and case.body is None:
        response = session.request(case.method, url, data={**case.form, "csrf_token": csrf_token(session, base_url)},
                                   timeout=TIMEOUT, allow_redirects=False)
    else:
        response = session.request(case.method, url, data=case.body, timeout=TIMEOUT, allow_redirects=False,
                                   headers={"Content-Type": content_type} if case.body is not None else {})
    return Answer(response.status_code, response.headers.get("Content-Type", ""), response.content)
