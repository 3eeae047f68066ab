"""Loopback HTTP servers for the capture tests: the fixture pages, and a recording forward proxy."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler
from urllib.request import urlopen


@dataclass
class PageServer:
    """Serves tests/fixtures/pages/; /hang/… never answers, /fail-slowly/… hangs up after a second
    without answering, /status/<code> answers that code."""

    base_url: str
    requests: list[tuple[float, str]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path}"

    def times_served(self, path: str) -> list[float]:
        return [at for at, served in self.requests if served == f"/{path}"]


class PageHandler(SimpleHTTPRequestHandler):
    server_record: PageServer
    release_hanging: threading.Event

    def do_GET(self) -> None:
        self.server_record.requests.append((time.monotonic(), self.path))
        if self.path.startswith("/hang/"):
            self.release_hanging.wait()
            return
        if self.path.startswith("/fail-slowly/"):
            self.release_hanging.wait(timeout=1)
            self.close_connection = True
            return
        status = re.fullmatch(r"/status/(\d{3})", self.path)
        if status:
            self._answer(HTTPStatus(int(status.group(1))))
            return
        super().do_GET()

    def end_headers(self) -> None:
        # Every capture then really loads the page, as it would on a site that forbids caching.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def _answer(self, status: HTTPStatus) -> None:
        body = f"<!doctype html><title>{status.phrase}</title><h1>{status.value} {status.phrase}</h1>".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


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
