"""Servers of the capture tests: a recording forward proxy, and pages written in the test itself (the fixture
pages of tests/fixtures are served by tests.support.site)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from urllib.request import urlopen


@dataclass
class RecordingProxy:
    address: str
    requested_urls: list[str] = field(default_factory=list)


class ForwardingProxyHandler(SimpleHTTPRequestHandler):
    """A plain-HTTP forward proxy: fetches the absolute URL of each request and notes it."""

    proxy_record: RecordingProxy

    def do_GET(self) -> None:
        self.proxy_record.requested_urls.append(self.path)
        with urlopen(self.path, timeout=5) as upstream:  # noqa: S310 - only fixture URLs reach it
            body = upstream.read()
            self.send_response(upstream.status)
            self.send_header("Content-Type", upstream.headers.get("Content-Type", "text/html"))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass(frozen=True)
class Page:
    body: str | bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/html; charset=utf-8"})


class PagesServer:
    """Pages written in the test itself, served by path on a loopback port of their own; notes every path asked for.

    A path without a page answers 404. Use it as a context manager.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.pages: dict[str, Page] = {}
        self.requested: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server.requested.append(self.path)
                page = server.pages.get(self.path.split("?")[0], Page("not found", status=404))
                body = page.body.encode() if isinstance(page.body, str) else page.body
                self.send_response(page.status)
                for name, value in page.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer((host, 0), Handler)
        self._httpd.daemon_threads = True
        self.origin = f"http://{host}:{self._httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return f"{self.origin}{path}"

    def __enter__(self) -> PagesServer:
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
