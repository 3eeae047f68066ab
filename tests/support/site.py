"""A loopback web site serving fixture pages, for every test (and script) that captures real pages.

Besides the files of its folder it answers a few paths that misbehave on purpose:
- /gated/<file>: the first request at once, later ones only after `gate` is set (holds a second page load);
- /hang/…: never answers, until the site stops;
- /fail-slowly/…: hangs up after a second without answering;
- /slow/<file>: the file, after 0.3 s (an image on a real network, which a lazy loader may cancel);
- /status/<code>: a small page with that HTTP status;
- /changing-page: a long page whose middle band shows `variant` ("a" or "b"): a page that changed;
- POST /hook: a webhook receiver recording each delivery in `deliveries`, answering `hook_statuses` in turn
  (then 200).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PAGES = Path(__file__).resolve().parent.parent / "fixtures" / "pages"


@dataclass
class Site:
    base_url: str = ""
    host: str = ""
    gate: threading.Event = field(default_factory=threading.Event)
    stopping: threading.Event = field(default_factory=threading.Event)
    requests: list[tuple[float, str]] = field(default_factory=list)
    variant: str = "a"
    deliveries: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    hook_statuses: list[int] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path}"

    @property
    def paths(self) -> list[str]:
        return [path for _, path in self.requests]

    def times_served(self, path: str) -> list[float]:
        return [at for at, served in self.requests if served == f"/{path}"]


class SiteHandler(SimpleHTTPRequestHandler):
    site: Site

    def do_GET(self) -> None:
        self.site.requests.append((time.monotonic(), self.path))
        if self.path.startswith("/hang/"):
            self.site.stopping.wait()
            return
        if self.path.startswith("/fail-slowly/"):
            self.site.stopping.wait(timeout=1)
            self.close_connection = True
            return
        if self.path == "/changing-page":
            self._changing_page()
            return
        status = re.fullmatch(r"/status/(\d{3})", self.path)
        if status:
            self._answer(HTTPStatus(int(status.group(1))))
            return
        if self.path.startswith("/slow/"):
            time.sleep(0.3)
            self.path = self.path.removeprefix("/slow")
        if self.path.startswith("/gated/"):
            if self.site.paths.count(self.path) > 1:
                self.site.gate.wait(timeout=30)
            self.path = self.path.removeprefix("/gated")
        super().do_GET()

    def do_POST(self) -> None:
        self.site.requests.append((time.monotonic(), self.path))
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != "/hook":
            self._answer(HTTPStatus.NOT_FOUND)
            return
        self.site.deliveries.append(({name.lower(): value for name, value in self.headers.items()}, body))
        self._answer(HTTPStatus(self.site.hook_statuses.pop(0)) if self.site.hook_statuses else HTTPStatus.OK)

    def _changing_page(self) -> None:
        band = "#c0392b" if self.site.variant == "b" else "#2c3e50"
        heading = "Spring sale: 30% off" if self.site.variant == "b" else "Our products"
        body = (f"<!doctype html><meta charset=utf-8><title>Changing page</title>"
                f"<body style='margin:0;font:20px sans-serif'><header style='height:300px;background:#eee'>"
                f"<h1 style='margin:0;padding:40px'>{heading}</h1></header>"
                f"<section style='height:900px;background:{band}'></section>"
                f"<footer style='height:600px;background:#fafafa'>Footer</footer></body>").encode()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

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


@contextmanager
def serve_site(folder: Path = PAGES, address: str = "127.0.0.1") -> Iterator[Site]:
    record = Site()
    handler = type("Handler", (SiteHandler,), {"site": record})
    server = ThreadingHTTPServer((address, 0), partial(handler, directory=str(folder)))
    server.daemon_threads = True
    record.host = f"{address}:{server.server_address[1]}"
    record.base_url = f"http://{record.host}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield record
    finally:
        record.gate.set()
        record.stopping.set()
        server.shutdown()
        server.server_close()
