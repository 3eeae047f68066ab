"""A loopback web site serving the fixture pages, for tests that capture real pages."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PAGES = Path(__file__).resolve().parent.parent / "fixtures" / "pages"


@dataclass
class Site:
    """Serves the fixture pages. /gated/<page> answers its first request at once and later ones only
    after `gate` is set, so a test can hold the second page load of a capture."""

    base_url: str = ""
    host: str = ""
    gate: threading.Event = field(default_factory=threading.Event)
    paths: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path}"


class SiteHandler(SimpleHTTPRequestHandler):
    site: Site

    def do_GET(self) -> None:
        self.site.paths.append(self.path)
        if self.path.startswith("/gated/"):
            if self.site.paths.count(self.path) > 1:
                self.site.gate.wait(timeout=30)
            self.path = self.path.removeprefix("/gated")
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serve_site() -> Iterator[Site]:
    record = Site()
    handler = type("Handler", (SiteHandler,), {"site": record})
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(PAGES)))
    server.daemon_threads = True
    record.host = f"127.0.0.1:{server.server_address[1]}"
    record.base_url = f"http://{record.host}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield record
    finally:
        record.gate.set()
        server.shutdown()
        server.server_close()
