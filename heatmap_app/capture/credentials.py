"""Headers (and basic credentials) for the page's own origin only, through DevTools' Fetch interception.

`Network.setExtraHTTPHeaders` would send them with every request of the page — to each analytics,
font and ad host it loads, and to wherever a redirect leads. Instead, a DevTools connection of its own
pauses every request of the tab and lets it go on, adding our headers only when the request's origin is
exactly the page's. A request to any other origin goes on with none of them: should a header of ours
be on it anyway (Chrome carrying it over a redirect), it is taken off.

Cookies need no such care: they are set for the page's host (or a parent domain the user named) in the
tab's browser context, and the browser's own cookie rules keep them from every other site.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import websocket

from .devtools import DevToolsError
from .request import CaptureRequest, Cookie, origin_of

RECEIVE_POLL_SECONDS = 0.2


class OriginHeaders:
    """While running, every request of the tab `target_id` to `origin` carries `headers`, and no other does."""

    def __init__(self, websocket_url: str, target_id: str, origin: str, headers: Sequence[tuple[str, str]],
                 timeout: float) -> None:
        self._origin = origin
        self._headers = list(headers)
        self._names = {name.lower() for name, _ in self._headers}
        self._next_id = 0
        self._stopping = threading.Event()
        try:
            self._socket = websocket.create_connection(websocket_url, timeout=timeout, suppress_origin=True)
        except (OSError, websocket.WebSocketException) as error:
            raise DevToolsError(f"could not connect to the browser's DevTools: {error}") from error
        try:
            self._session = self._call("Target.attachToTarget", {"targetId": target_id, "flatten": True})["sessionId"]
            self._call("Fetch.enable", {"patterns": [{"urlPattern": "*", "requestStage": "Request"}]}, self._session)
        except (OSError, ValueError, websocket.WebSocketException) as error:
            self._socket.close()
            raise DevToolsError(f"the page's requests could not be intercepted: {error}") from error
        self._thread = threading.Thread(target=self._serve, name="origin-headers", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Detaching ends the interception; Chrome lets the requests still paused go on."""
        self._stopping.set()
        self._thread.join()
        self._socket.close()

    def headers_for(self, url: str, request_headers: dict[str, str]) -> list[dict[str, str]] | None:
        """The headers a paused request goes on with, or None to let it go on unchanged."""
        if origin_of(url) == self._origin:
            kept = {name: value for name, value in request_headers.items() if name.lower() not in self._names}
            return [{"name": name, "value": value} for name, value in [*kept.items(), *self._headers]]
        ours = {(name.lower(), value) for name, value in self._headers}
        if not any((name.lower(), value) in ours for name, value in request_headers.items()):
            return None
        return [
            {"name": name, "value": value}
            for name, value in request_headers.items()
            if (name.lower(), value) not in ours
        ]

    def _call(self, method: str, params: dict[str, Any], session: str | None = None) -> dict[str, Any]:
        command_id = self._send(method, params, session)
        while True:
            message = json.loads(self._socket.recv())
            if message.get("id") == command_id:
                if "error" in message:
                    raise DevToolsError(f"{method}: {message['error'].get('message')}")
                return message.get("result", {})

    def _send(self, method: str, params: dict[str, Any], session: str | None = None) -> int:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        self._socket.send(json.dumps(message))
        return self._next_id

    def _serve(self) -> None:
        self._socket.settimeout(RECEIVE_POLL_SECONDS)
        while not self._stopping.is_set():
            try:
                message = json.loads(self._socket.recv())
            except websocket.WebSocketTimeoutException:
                continue
            except (OSError, ValueError, websocket.WebSocketException):
                # The browser went away: its requests went with it.
                return
            if message.get("method") != "Fetch.requestPaused" or message.get("sessionId") != self._session:
                continue
            event = message["params"]
            params: dict[str, Any] = {"requestId": event["requestId"]}
            headers = self.headers_for(event["request"]["url"], event["request"].get("headers", {}))
            if headers is not None:
                params["headers"] = headers
            try:
                self._send("Fetch.continueRequest", params, self._session)
            except (OSError, websocket.WebSocketException):
                return


def cookie_params(request: CaptureRequest) -> list[dict[str, Any]]:
    """Network.setCookies parameters of the request's cookies; without a domain, host-only for the page's host."""
    secure = request.url.lower().startswith("https:")
    return [_cookie_param(cookie, request.origin, secure) for cookie in request.cookies]


def _cookie_param(cookie: Cookie, origin: str, secure: bool) -> dict[str, Any]:
    param: dict[str, Any] = {"name": cookie.name, "value": cookie.value, "path": cookie.path, "secure": secure}
    if cookie.domain:
        param["domain"] = cookie.domain
    else:
        param["url"] = origin + cookie.path
    return param


@contextmanager
def origin_headers(websocket_url: str, target_id: str, request: CaptureRequest, timeout: float) -> Iterator[None]:
    """OriginHeaders for the request's headers while the block runs; nothing at all when it has none."""
    headers = request.origin_headers()
    if not headers:
        yield
        return
    interceptor = OriginHeaders(websocket_url, target_id, request.origin, headers, timeout)
    try:
        yield
    finally:
        interceptor.close()
