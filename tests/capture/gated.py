"""Fixture sites for captures with credentials: a site that shows its content only to the right cookie,
bearer header or basic credentials, and a third-party host that logs every request it receives."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from werkzeug.datastructures import Headers

SESSION_COOKIE = ("session", "cookie-s3cret-Q7")
BEARER_TOKEN = "bearer-s3cret-Z9"
BASIC_CREDENTIALS = ("marketer", "basic-s3cret-W4")
SECRETS = (SESSION_COOKIE[1], BEARER_TOKEN, BASIC_CREDENTIALS[1],
           base64.b64encode(":".join(BASIC_CREDENTIALS).encode()).decode())

GREEN = "#00c000"
RED = "#e00000"


@dataclass(frozen=True)
class Received:
    path: str
    headers: Headers  # names match in any case: a proxy may send them lower-cased (HTTP/1.1 allows it)


class LoggingSite:
    """A loopback HTTP server that notes every request (path and headers); `route` answers it."""

    def __init__(self, host: str) -> None:
        self.log: list[Received] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                site.log.append(Received(self.path, Headers(list(self.headers.items()))))
                status, headers, body = site.route(self.path, self.headers)
                data = body.encode()
                self.send_response(status)
                for name, value in {"Content-Type": "text/html; charset=utf-8", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer((host, 0), Handler)
        self._httpd.daemon_threads = True
        self.origin = f"http://{host}:{self._httpd.server_address[1]}"

    def route(self, path: str, headers: object) -> tuple[int, dict[str, str], str]:
        return 200, {}, "<!doctype html><title>third party</title>"

    def url(self, path: str) -> str:
        return f"{self.origin}{path}"

    def __enter__(self) -> LoggingSite:
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class GatedSite(LoggingSite):
    """/cookie, /bearer and /basic are green only with their credential; every page loads `third_party`."""

    def __init__(self, host: str, third_party: LoggingSite) -> None:
        super().__init__(host)
        self.third_party = third_party

    def page(self, colour: str) -> str:
        third = self.third_party.origin
        return (
            '<!doctype html><meta name="viewport" content="width=device-width"><title>gated</title>'
            f'<body style="margin:0;background:{colour}"><div style="height:1200px"></div>'
            f'<img src="{third}/pixel.gif" alt=""><link rel="stylesheet" href="{third}/style.css">'
            f'<img src="/own-image.gif" alt=""><script>fetch("{third}/api", {{mode: "no-cors"}})</script>'
        )

    def route(self, path: str, headers: object) -> tuple[int, dict[str, str], str]:
        get = headers.get  # type: ignore[attr-defined]
        name, value = SESSION_COOKIE
        if path == "/cookie":
            return 200, {}, self.page(GREEN if f"{name}={value}" in (get("Cookie") or "") else RED)
        if path == "/bearer":
            return 200, {}, self.page(GREEN if get("Authorization") == f"Bearer {BEARER_TOKEN}" else RED)
        if path == "/basic":
            expected = "Basic " + base64.b64encode(":".join(BASIC_CREDENTIALS).encode()).decode()
            if get("Authorization") != expected:
                return 401, {"WWW-Authenticate": 'Basic realm="staging"'}, "<title>401</title>Login needed"
            return 200, {}, self.page(GREEN)
        if path == "/redirect-away":
            return 302, {"Location": self.third_party.url("/landing")}, ""
        return 200, {}, ""


@pytest.fixture
def third_party() -> Iterator[LoggingSite]:
    with LoggingSite("127.0.0.2") as site:
        yield site


@pytest.fixture
def gated(third_party: LoggingSite) -> Iterator[GatedSite]:
    with GatedSite("127.0.0.1", third_party) as site:
        yield site
