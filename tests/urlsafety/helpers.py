"""Helpers for the URL-safety tests (imported as tests.urlsafety.helpers).

Everything here connects only to 127.0.0.0/8.  "Public" and "internal" test servers both live
on loopback and are told apart by the allow list: the public one listens on 127.0.0.1:P and
``127.0.0.1:P`` is allowed; the internal one listens on 127.0.0.2:P (same port, other loopback
address) and is not allowed.  Names are mapped to those addresses by injected resolvers.
"""

from __future__ import annotations

import socket
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PUBLIC_IP = "127.0.0.1"
INTERNAL_IP = "127.0.0.2"


class MapResolver:
    """Injectable resolver: ``{name: [addresses]}``; a list of lists answers in turn (the last
    answer repeats), which is how the rebinding tests flip an answer.  Unknown names do not
    resolve.  Counts lookups."""

    def __init__(self, mapping: dict[str, object] | None = None):
        self.mapping = dict(mapping or {})
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, host: str, port: int) -> list[str]:
        with self._lock:
            n = self.calls[host]
            self.calls[host] += 1
        answer = self.mapping.get(host)
        if answer is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if answer and isinstance(answer[0], (list, tuple)):
            return list(answer[min(n, len(answer) - 1)])
        return list(answer)


class CountingServer:
    """Tiny threaded HTTP server on a loopback address; records every request path it gets.
    ``routes`` maps a path to (status, headers, body) or a callable(handler) -> that tuple."""

    def __init__(self, host: str, port: int = 0, routes: dict | None = None):
        self.routes = dict(routes or {})
        self.requests: list[tuple[str, str, str]] = []  # (method, path, host header)
        self.connections = 0
        self.bodies: list[bytes] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args):  # quiet
                pass

            def setup(self):
                outer.connections += 1
                super().setup()

            def _serve(self):
                outer.requests.append((self.command, self.path, self.headers.get("Host", "")))
                length = int(self.headers.get("Content-Length") or 0)
                self.body = self.rfile.read(length) if length else b""
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            break
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    self.body = b"".join(chunks)
                outer.bodies.append(self.body)
                route = outer.routes.get(self.path.split("?")[0])
                if route is None:
                    status, headers, body = 404, {"Content-Type": "text/plain"}, b"not found"
                elif callable(route):
                    status, headers, body = route(self)
                else:
                    status, headers, body = route
                if isinstance(body, str):
                    body = body.encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if "Transfer-Encoding" not in headers:  # else the route pre-chunked the body
                    self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_POST = do_HEAD = do_PUT = _serve

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.httpd = Server((host, port), Handler)
        self.host = host
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "CountingServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def free_port_on_both() -> int:
    """A port free on both 127.0.0.1 and 127.0.0.2."""
    for _ in range(50):
        s = socket.socket()
        s.bind((PUBLIC_IP, 0))
        port = s.getsockname()[1]
        s2 = socket.socket()
        try:
            s2.bind((INTERNAL_IP, port))
        except OSError:
            continue
        finally:
            s.close()
            s2.close()
        return port
    raise RuntimeError("no common free port")
