"""The URL guard's designs side by side: what each costs a browser's requests, on loopback.

    .venv/bin/python bench/guard.py [--rounds 5]

Guards measured in one run (each started on loopback, allowing the origin below):

- direct: no guard (the floor);
- h11 HTTP proxy: today's GuardProxy (absolute-form http through h11, CONNECT as a checked pipe);
- hand-rolled HTTP proxy: the GuardProxy this replaced (main before the rewrite, loaded from git);
- SOCKS5: a SOCKS5 guard on the same security core (GuardProxy._check/_connect), which Chrome would hand
  host names unresolved (`socks5://`); the client here sends the name, as Chrome does.

Cases, medians over rounds that rotate the order: a 1 KB GET on a kept-alive connection (latency), a
1 KB GET on a new connection each time (latency: pages open many), a 4 MB GET (throughput), and 8
threads of 1 KB GETs on kept-alive connections (requests/s). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import importlib.util
import ipaddress
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from heatmap_app.urlsafety import GuardProxy, UnsafeURLError, parse_allow_hosts  # noqa: E402
from heatmap_app.urlsafety.core import allow_key, canonical_host  # noqa: E402
from heatmap_app.urlsafety.proxy import _Unreachable  # noqa: E402

SMALL, BIG = b"x" * 1024, b"y" * (4 * 1024 * 1024)


class Origin(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        body = BIG if self.path == "/big" else SMALL
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Socks5Guard(GuardProxy):
    """The SOCKS5 alternative: no HTTP framing at all, the same admit/check/connect core (RFC 1928, CONNECT only)."""

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        version, count = await reader.readexactly(2)
        if version != 5 or 0 not in await reader.readexactly(count):
            return
        writer.write(b"\x05\x00")  # no authentication
        _version, command, _reserved, kind = await reader.readexactly(4)
        if kind == 1:
            host = ipaddress.IPv4Address(await reader.readexactly(4))
        elif kind == 4:
            host = ipaddress.IPv6Address(await reader.readexactly(16))
        else:
            host = canonical_host((await reader.readexactly((await reader.readexactly(1))[0])).decode("ascii"))
        port = int.from_bytes(await reader.readexactly(2), "big")
        try:
            if command != 1:
                raise UnsafeURLError("only CONNECT")
            addresses = await self._check(host, port, allow_key(host, port))
            up_reader, up_writer = await self._connect(addresses, port)
        except UnsafeURLError:
            writer.write(b"\x05\x02\x00\x01" + bytes(6))  # connection not allowed by ruleset
            return
        except _Unreachable:
            writer.write(b"\x05\x05\x00\x01" + bytes(6))  # connection refused
            return
        writer.write(b"\x05\x00\x00\x01" + bytes(6))
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            up_writer.close()


class SocksConnection(http.client.HTTPConnection):
    """http.client through a SOCKS5 proxy, handing it the host name (as Chrome does with socks5://)."""

    def __init__(self, host: str, port: int, proxy: tuple[str, int]):
        super().__init__(host, port, timeout=10)
        self.proxy = proxy

    def connect(self) -> None:
        sock = socket.create_connection(self.proxy, timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        name = self.host.encode()
        sock.sendall(b"\x05\x01\x00" + b"\x05\x01\x00\x03" + bytes([len(name)]) + name + self.port.to_bytes(2, "big"))
        reply = b""
        while len(reply) < 12:
            reply += sock.recv(12 - len(reply))
        if reply[3] != 0:
            raise OSError("SOCKS5 refused")
        self.sock = sock


def hand_rolled_guard() -> type[GuardProxy]:
    """The GuardProxy class as it was before the rewrite: proxy.py before the commit that removed `_handle_http`."""
    git = ["git", "-C", str(ROOT)]
    rewrite = subprocess.run([*git, "log", "-1", "--format=%H", "-S", "async def _handle_http", "--",
                              "heatmap_app/urlsafety/proxy.py"], capture_output=True, text=True, check=True).stdout.strip()
    source = subprocess.run([*git, "show", f"{rewrite}~1:heatmap_app/urlsafety/proxy.py"],
                            capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / "proxy_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("heatmap_app.urlsafety.proxy_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.GuardProxy


Connect = Callable[[], http.client.HTTPConnection]


def timed_gets(connect: Connect, url: str, count: int, *, reuse: bool) -> list[float]:
    times, connection = [], connect()
    for _ in range(count):
        start = time.perf_counter()
        if not reuse:
            connection = connect()
        connection.request("GET", url)
        body = connection.getresponse().read()
        times.append(time.perf_counter() - start)
        assert body in (SMALL, BIG), body[:200]
        if not reuse:
            connection.close()
    connection.close()
    return times


def concurrent_rate(connect: Connect, url: str, threads: int, seconds: float) -> float:
    done = [0] * threads
    stop = time.perf_counter() + seconds

    def work(i: int) -> None:
        connection = connect()
        while time.perf_counter() < stop:
            connection.request("GET", url)
            connection.getresponse().read()
            done[i] += 1
        connection.close()

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(done) / seconds


def measure(connect: Connect, small: str, big: str) -> dict[str, float]:
    return {
        "keep-alive 1 KB, ms": statistics.median(timed_gets(connect, small, 300, reuse=True)) * 1000,
        "new connection 1 KB, ms": statistics.median(timed_gets(connect, small, 200, reuse=False)) * 1000,
        "4 MB, MB/s": 4 / statistics.median(timed_gets(connect, big, 15, reuse=True)),
        "8 threads 1 KB, req/s": concurrent_rate(connect, small, 8, 2.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    origin = ThreadingHTTPServer(("127.0.0.1", 0), Origin)
    origin.daemon_threads = True
    threading.Thread(target=origin.serve_forever, daemon=True).start()
    port = origin.server_address[1]
    allow = parse_allow_hosts(f"127.0.0.1:{port}")
    # A name, as pages use, answered without DNS (there is none here): resolved in the guard's thread as usual.
    resolve = lambda host, port: ["127.0.0.1"]  # noqa: E731
    guards = {"h11 HTTP proxy": GuardProxy(allow, resolve=resolve),
              "hand-rolled HTTP proxy": hand_rolled_guard()(allow, resolve=resolve),
              "SOCKS5": Socks5Guard(allow, resolve=resolve)}
    for guard in guards.values():
        guard.start()
    h11_guard, old_guard, socks = guards["h11 HTTP proxy"], guards["hand-rolled HTTP proxy"], guards["SOCKS5"]
    http_url, path = f"http://origin.example:{port}", "/"
    cases: dict[str, tuple[Connect, str, str]] = {
        "direct": (lambda: http.client.HTTPConnection("127.0.0.1", port, timeout=10), "/", "/big"),
        "h11 HTTP proxy": (lambda: http.client.HTTPConnection("127.0.0.1", h11_guard.port, timeout=10),
                           f"{http_url}{path}", f"{http_url}/big"),
        "hand-rolled HTTP proxy": (lambda: http.client.HTTPConnection("127.0.0.1", old_guard.port, timeout=10),
                                   f"{http_url}{path}", f"{http_url}/big"),
        "SOCKS5": (lambda: SocksConnection("origin.example", port, ("127.0.0.1", socks.port)), "/", "/big"),
    }
    results: dict[str, list[dict[str, float]]] = {name: [] for name in cases}
    names = list(cases)
    try:
        for round_number in range(args.rounds):
            for name in names[round_number % len(names):] + names[: round_number % len(names)]:
                results[name].append(measure(*cases[name]))
    finally:
        for guard in guards.values():
            guard.stop()
        origin.shutdown()
    columns = list(results["direct"][0])
    print(f"| guard | {' | '.join(columns)} |")
    print(f"|---|{'---:|' * len(columns)}")
    for name, rounds in results.items():
        cells = [f"{statistics.median(r[column] for r in rounds):.2f}" for column in columns]
        print(f"| {name} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
