"""A browser-level DevTools connection beside chromedriver's.

chromedriver sends DevTools commands to the page it drives and refuses the browser-wide ones (browser
contexts) there; it also passes no events on. This connection does both: it creates and ends the
browser contexts each page load runs in, and hears of the downloads a page starts.
"""

from __future__ import annotations

import json
import select
import time
from typing import Any
from urllib.request import urlopen

import websocket

# Events worth keeping; any other event the browser sends is dropped as it arrives.
KEPT_EVENTS = frozenset({"Browser.downloadWillBegin"})


class DevToolsError(Exception):
    """A DevTools command failed, timed out, or the connection broke."""


class DevTools:
    def __init__(self, websocket_url: str, timeout: float) -> None:
        self.url = websocket_url
        self.timeout = timeout
        self._next_id = 0
        self._methods: dict[int, str] = {}
        self._answers: dict[int, dict[str, Any]] = {}
        self._events: list[dict[str, Any]] = []
        try:
            # No Origin header: Chrome refuses WebSocket clients that send one it was not told to allow.
            self._socket = websocket.create_connection(websocket_url, timeout=timeout, suppress_origin=True)
        except (OSError, websocket.WebSocketException) as error:
            raise DevToolsError(f"could not connect to the browser's DevTools: {error}") from error

    @classmethod
    def of_driver(cls, capabilities: dict[str, Any], timeout: float) -> DevTools:
        """The DevTools endpoint of the browser a WebDriver session drives (a Grid names it `se:cdp`)."""
        url = capabilities.get("se:cdp")
        if not url:
            address = capabilities["goog:chromeOptions"]["debuggerAddress"]
            with urlopen(f"http://{address}/json/version", timeout=timeout) as answer:
                url = json.load(answer)["webSocketDebuggerUrl"]
        return cls(url, timeout)

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.result(self.send(method, params))

    def send(self, method: str, params: dict[str, Any] | None = None) -> int:
        """Send a command without waiting for its answer, which result() reads: the browser works meanwhile."""
        self._next_id += 1
        self._methods[self._next_id] = method
        try:
            self._socket.send(json.dumps({"id": self._next_id, "method": method, "params": params or {}}))
        except (OSError, websocket.WebSocketException) as error:
            raise DevToolsError(f"{method}: the DevTools connection broke ({error})") from error
        return self._next_id

    def result(self, command_id: int) -> dict[str, Any]:
        """The answer to a command sent earlier, waited for at most `timeout` seconds from now."""
        method = self._methods.pop(command_id)
        deadline = time.monotonic() + self.timeout
        try:
            while command_id not in self._answers:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise DevToolsError(f"{method} got no answer within {self.timeout:g} seconds")
                self._socket.settimeout(remaining)
                self._receive(json.loads(self._socket.recv()))
        except websocket.WebSocketTimeoutException as error:
            raise DevToolsError(f"{method} got no answer within {self.timeout:g} seconds") from error
        except (OSError, ValueError, websocket.WebSocketException) as error:
            raise DevToolsError(f"{method}: the DevTools connection broke ({error})") from error
        answer = self._answers.pop(command_id)
        if "error" in answer:
            raise DevToolsError(f"{method}: {answer['error'].get('message', answer['error'])}")
        return answer.get("result", {})

    def take_events(self, method: str) -> list[dict[str, Any]]:
        """The params of every `method` event received so far, without waiting for more."""
        try:
            # A whole message is read once its first byte is there (websocket-client reads no further
            # than the frame it decodes, so nothing waits in its buffers when the socket is quiet).
            while select.select([self._socket.sock], [], [], 0)[0]:
                self._socket.settimeout(self.timeout)
                self._receive(json.loads(self._socket.recv()))
        except (OSError, ValueError, websocket.WebSocketException) as error:
            raise DevToolsError(f"the DevTools connection broke ({error})") from error
        taken = [event["params"] for event in self._events if event["method"] == method]
        self._events = [event for event in self._events if event["method"] != method]
        return taken

    def close(self) -> None:
        self._socket.close()

    def _receive(self, message: dict[str, Any]) -> None:
        if "id" in message:
            self._answers[message["id"]] = message
        elif message.get("method") in KEPT_EVENTS:
            self._events.append(message)
