"""A recording forward proxy for the capture tests (the fixture pages are served by tests.support.site)."""

from __future__ import annotations

from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler
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
