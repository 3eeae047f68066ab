"""The guard proxy: a small asyncio forward HTTP proxy that Chrome sends *all* of a page's traffic
through (the capture engine's switches, ``heatmap_app.capture.chrome``, say how).

For every request it canonicalises the host exactly as :mod:`.core` does, resolves it once,
checks every answer, and then connects to one of **those** addresses (never resolving again), so
neither a redirect, a sub-resource, a WebSocket nor a DNS-rebinding answer can reach the
operator's network.  Blocked plain-HTTP requests get ``403`` with a short text body and an
``X-Heatmap-Blocked`` header; blocked ``CONNECT`` tunnels get a ``403`` reply.

Why our own proxy instead of a library: ``proxy.py`` (proxy-py) has a ``resolve_dns`` plugin hook,
but it is built to run as its own program (global flags, acceptor processes/threads, plugin
classes instantiated by the framework), which makes a per-capture allow list, an injectable
resolver and a per-session log of blocked hosts awkward, and it brings a large surface we do not
need; mitmproxy is a TLS-intercepting framework with many dependencies; pproxy has no hook for
"connect to the address you checked".  What we need - absolute-form HTTP/1.1 forwarding with
keep-alive plus CONNECT pass-through - is a few hundred lines of stdlib asyncio.

Bounds: header size (``max_header_bytes``), header count, connect timeout, idle timeout on every
read, resolution timeout, maximum concurrent client connections.  It binds 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from collections import OrderedDict
from urllib.parse import urljoin, urlsplit

from .core import (
    RESOLVE_TIMEOUT,
    IPAddress,
    Resolver,
    UnsafeURLError,
    _parse_port,
    _split_host_port,
    allow_key,
    canonical_host,
    check_endpoint,
    host_to_str,
    split_url,
    system_resolver,
)

BLOCK_HEADER = "X-Heatmap-Blocked"
_BUF = 256 * 1024
_TOKEN_RE = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_HOP_BY_HOP = {
    b"connection",
    b"proxy-connection",
    b"keep-alive",
    b"proxy-authorization",
    b"proxy-authenticate",
    b"te",
    b"trailer",
    b"upgrade",
    b"expect",
}
_MAX_HEADERS = 200
_MAX_LOG = 2000


def _send_without_delay(writer: asyncio.StreamWriter) -> None:
    """Nagle off: a proxy relays small writes (headers, short bodies) that must not wait for an ACK."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # pragma: no cover - not a TCP socket
            pass


class _UpstreamUnreachable(Exception):
    """The checked address did not accept a connection. The browser is answered with a dropped connection,
    not a 502 page, so it sees a network error as it would without the proxy, and the capture treats the
    site as unreachable for now (worth a retry) rather than as a page that answered 502."""


class _BadRequest(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


class _Head:
    __slots__ = ("first", "headers")

    def __init__(self, first: list[bytes], headers: list[tuple[bytes, bytes]]):
        self.first = first
        self.headers = headers

    def get_all(self, name: bytes) -> list[bytes]:
        return [v for k, v in self.headers if k.lower() == name]

    def get(self, name: bytes) -> bytes | None:
        values = self.get_all(name)
        return values[-1] if values else None

    def tokens(self, name: bytes) -> set[bytes]:
        out = set()
        for v in self.get_all(name):
            out.update(t.strip().lower() for t in v.split(b","))
        return out


def _parse_head(raw: bytes, *, is_request: bool) -> _Head:
    lines = raw[:-4].split(b"\r\n")
    first = lines[0].split(b" ", 2)
    if is_request:
        if len(first) != 3 or not _TOKEN_RE.match(first[0]) or first[2] not in (b"HTTP/1.1", b"HTTP/1.0"):
            raise _BadRequest(400, "malformed request line")
    else:
        if len(first) < 2 or not first[0].startswith(b"HTTP/1.") or not (len(first[1]) == 3 and first[1].isdigit()):
            raise _BadRequest(502, "malformed response from the server")
        if len(first) == 2:
            first.append(b"")
    if len(lines) - 1 > _MAX_HEADERS:
        raise _BadRequest(431, "too many headers")
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep or not _TOKEN_RE.match(name):
            raise _BadRequest(400 if is_request else 502, "malformed header")
        headers.append((name, value.strip(b" \t")))
    return _Head(first, headers)


def _body_framing(head: _Head, *, request_method: bytes | None = None) -> tuple[str, int]:
    """('none'|'length'|'chunked'|'eof', length)."""
    te = head.get_all(b"transfer-encoding")
    cl = head.get_all(b"content-length")
    if request_method is not None:  # response
        status = int(head.first[1])
        if request_method == b"HEAD" or status in (204, 304) or 100 <= status < 200:
            return "none", 0
    if te:
        if cl:
            raise _BadRequest(400 if request_method is None else 502, "both Transfer-Encoding and Content-Length")
        codings = [t.strip().lower() for v in te for t in v.split(b",")]
        if codings[-1] != b"chunked":
            if request_method is None:
                raise _BadRequest(400, "unsupported transfer encoding")
            return "eof", 0
        return "chunked", 0
    if cl:
        values = {v.strip() for v in cl}
        if len(values) != 1 or not next(iter(values)).isdigit() or len(next(iter(values))) > 18:
            raise _BadRequest(400 if request_method is None else 502, "bad Content-Length")
        return "length", int(next(iter(values)))
    return ("none", 0) if request_method is None else ("eof", 0)


def _norm_url(url: str) -> str | None:
    """``scheme://host:port/path?query`` with the canonical host and explicit port, or None."""
    try:
        scheme, host, port = split_url(url.strip())
        parts = urlsplit(url.strip())
    except (UnsafeURLError, ValueError):
        return None
    path = parts.path or "/"
    query = f"?{parts.query}" if parts.query else ""
    return f"{scheme}://{allow_key(host, port)}{path}{query}"


def _safe_header_value(text: str) -> str:
    return "".join(c if 32 <= ord(c) < 127 else "?" for c in text)[:300]


class GuardProxy:
    """Checking forward proxy bound to 127.0.0.1 on a random port, served from a background
    thread.  Use as a context manager or call :meth:`start` / :meth:`stop`."""

    def __init__(
        self,
        allow_hosts: frozenset[str] = frozenset(),
        *,
        resolve: Resolver = system_resolver,
        connect_timeout: float = 10.0,
        idle_timeout: float = 60.0,
        resolve_timeout: float = RESOLVE_TIMEOUT + 1.0,
        max_header_bytes: int = 64 * 1024,
        max_connections: int = 256,
    ):
        self.allow_hosts = frozenset(allow_hosts)
        self.resolve = resolve
        self.connect_timeout = connect_timeout
        self.idle_timeout = idle_timeout
        self.resolve_timeout = resolve_timeout
        self.max_header_bytes = max_header_bytes
        self.max_connections = max_connections
        self.port: int = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self._lock = threading.Lock()
        self._blocked: OrderedDict[str, str] = OrderedDict()
        self._log: list[tuple[str, str]] = []
        self._redirects: OrderedDict[str, str] = OrderedDict()
        self._stopping = False

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        if not self.port:
            raise RuntimeError("GuardProxy is not started")
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("GuardProxy already started")
        ready = threading.Event()
        error: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(
                        self._on_client, "127.0.0.1", 0, limit=self.max_header_bytes, backlog=512
                    )
                )
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:  # pragma: no cover - start-up failure
                error.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                try:
                    loop.run_until_complete(loop.shutdown_asyncgens())
                finally:
                    loop.close()

        self._thread = threading.Thread(target=run, name="urlsafety-guard-proxy", daemon=True)
        self._thread.start()
        ready.wait()
        if error:
            self._thread = None
            raise error[0]

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._stopping = True

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.wait(list(self._tasks), timeout=2)
            loop.stop()

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), loop)
        except RuntimeError:  # loop already closed
            pass
        thread.join(timeout=5)
        self._thread = None
        self._loop = None

    def __enter__(self) -> "GuardProxy":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ blocked log

    def blocked_reason(self, url: str) -> str | None:
        """Why a request for this URL's host:port was refused during this session, if it was.
        Call it when a navigation fails *and* after a navigation (with the browser's current
        URL): a blocked plain-http redirect target shows as the proxy's 403 page, not an error."""
        try:
            _scheme, host, port = split_url(url.strip() if isinstance(url, str) else url)
        except UnsafeURLError:
            return None
        with self._lock:
            seen = set()
            current: str | None = _norm_url(url)
            reason = self._blocked.get(allow_key(host, port))
            # Follow plain-http redirects the proxy has seen (bounded), so that the URL the
            # engine asked for explains a redirect to a blocked address.
            while reason is None and current is not None and current not in seen and len(seen) < 20:
                seen.add(current)
                current = self._redirects.get(current)
                if current is not None:
                    reason = self._blocked.get(current.split("/", 3)[2])
            return reason

    def forget(self) -> None:
        """Start a new log, so what was blocked during one capture never explains the next one's failure."""
        with self._lock:
            self._blocked.clear()
            self._log.clear()
            self._redirects.clear()

    @property
    def blocked_requests(self) -> list[tuple[str, str]]:
        """``(target, reason)`` for every refused request, oldest first (bounded): the target is
        the request URL for plain http and ``host:port`` for CONNECT (https, WebSockets)."""
        with self._lock:
            return list(self._log)

    def _record_redirect(self, source: str, location: str) -> None:
        src, dst = _norm_url(source), _norm_url(urljoin(source, location))
        if src is None or dst is None:
            return
        with self._lock:
            self._redirects[src] = dst
            self._redirects.move_to_end(src)
            while len(self._redirects) > _MAX_LOG:
                self._redirects.popitem(last=False)

    def _record_block(self, key: str, reason: str, target: str | None = None) -> None:
        with self._lock:
            self._blocked[key] = reason
            self._blocked.move_to_end(key)
            while len(self._blocked) > _MAX_LOG:
                self._blocked.popitem(last=False)
            if len(self._log) < _MAX_LOG:
                self._log.append((target or key, reason))

    # ------------------------------------------------------------------ checking

    async def _check(self, host: str | IPAddress, port: int, target: str | None = None) -> list[IPAddress]:
        """Resolve and check once; the returned addresses are the only ones we connect to.
        Raises UnsafeURLError (and records it)."""
        key = allow_key(host, port)
        loop = asyncio.get_running_loop()
        try:
            if not isinstance(host, str):  # IP literal: nothing to resolve, no thread hop
                addresses = check_endpoint(host, port, self.allow_hosts, resolve=self.resolve)
            else:
                addresses = await asyncio.wait_for(
                    loop.run_in_executor(
                        None, lambda: check_endpoint(host, port, self.allow_hosts, resolve=self.resolve)
                    ),
                    self.resolve_timeout,
                )
            if port == self.port and any(
                ip.is_loopback or ip.is_unspecified or getattr(ip, "ipv4_mapped", None) is not None
                for ip in addresses
            ):
                raise UnsafeURLError("Requests to the guard proxy itself are refused.")
        except UnsafeURLError as exc:
            self._record_block(key, exc.reason, target)
            raise
        except asyncio.TimeoutError:
            reason = f"The host {host_to_str(host)} did not resolve in time."
            self._record_block(key, reason, target)
            raise UnsafeURLError(reason) from None
        return addresses

    async def _open_upstream(self, addresses: list[IPAddress], port: int):
        for ip in addresses:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(ip.compressed, port, limit=_BUF), self.connect_timeout
                )
            except (OSError, asyncio.TimeoutError):
                continue
            _send_without_delay(writer)
            return reader, writer
        raise _UpstreamUnreachable("could not connect to the server")

    # ------------------------------------------------------------------ connection handling

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            if len(self._tasks) > self.max_connections or self._stopping:
                return
            _send_without_delay(writer)
            await self._serve_client(reader, writer)
        except (asyncio.CancelledError, Exception):
            pass
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()

    async def _read_head(self, reader: asyncio.StreamReader, *, is_request: bool) -> _Head | None:
        try:
            raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.idle_timeout)
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip() == b"":
                return None
            raise _BadRequest(400 if is_request else 502, "incomplete header")
        except asyncio.LimitOverrunError:
            raise _BadRequest(431 if is_request else 502, "header too large")
        except ValueError:  # separator found but beyond limit
            raise _BadRequest(431 if is_request else 502, "header too large")
        # Tolerate leading empty lines before a request (RFC 9112 2.2).
        raw = raw.lstrip(b"\r\n")
        if not raw or raw == b"\r\n\r\n"[: len(raw)]:
            return None
        if len(raw) > self.max_header_bytes:
            raise _BadRequest(431 if is_request else 502, "header too large")
        return _parse_head(raw, is_request=is_request)

    async def _send_error(self, writer: asyncio.StreamWriter, status: int, reason: str, *, blocked: bool) -> None:
        titles = {400: "Bad Request", 403: "Forbidden", 405: "Method Not Allowed", 431: "Request Header Fields Too Large",
                  502: "Bad Gateway", 504: "Gateway Timeout"}
        if blocked:
            body = f"Blocked by the heatmap URL guard: {reason}\n"
        else:
            body = f"{reason}\n"
        data = body.encode("utf-8", "replace")
        head = (
            f"HTTP/1.1 {status} {titles.get(status, 'Error')}\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(data)}\r\n"
            "Cache-Control: no-store\r\n"
            "Connection: close\r\n"
            + (f"{BLOCK_HEADER}: {_safe_header_value(reason)}\r\n" if blocked else "")
            + "\r\n"
        )
        try:
            writer.write(head.encode("ascii") + data)
            await asyncio.wait_for(writer.drain(), 5)
        except (OSError, asyncio.TimeoutError):
            pass

    async def _serve_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: tuple[str, asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            while True:
                try:
                    head = await self._read_head(reader, is_request=True)
                    if head is None:
                        return
                    method = head.first[0]
                    if method == b"CONNECT":
                        if upstream is not None:
                            upstream[2].close()
                            upstream = None
                        await self._handle_connect(head, reader, writer)
                        return
                    upstream, keep = await self._handle_http(head, reader, writer, upstream)
                    if not keep:
                        return
                except _BadRequest as exc:
                    await self._send_error(writer, exc.status, exc.reason, blocked=False)
                    return
                except _UpstreamUnreachable:
                    writer.transport.abort()
                    return
                except UnsafeURLError as exc:
                    await self._send_error(writer, 403, exc.reason, blocked=True)
                    return
        finally:
            if upstream is not None:
                upstream[2].close()

    # ------------------------------------------------------------------ CONNECT

    async def _handle_connect(self, head: _Head, reader, writer) -> None:
        try:
            target = head.first[1].decode("ascii")
            host_text, port_text = _split_host_port(target)
            if not port_text:
                raise _BadRequest(400, "CONNECT needs host:port")
            host = canonical_host(host_text)
            port = _parse_port(port_text)
        except (UnicodeDecodeError, UnsafeURLError):
            raise _BadRequest(400, "bad CONNECT target") from None
        addresses = await self._check(host, port)
        up_reader, up_writer = await self._open_upstream(addresses, port)
        try:
            writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            await writer.drain()
            await self._pipe_both(reader, writer, up_reader, up_writer)
        finally:
            up_writer.close()

    async def _pipe_one(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while True:
                data = await asyncio.wait_for(src.read(_BUF), self.idle_timeout)
                if not data:
                    break
                dst.write(data)
                await asyncio.wait_for(dst.drain(), self.idle_timeout)
            if dst.can_write_eof():
                dst.write_eof()
        except (OSError, asyncio.TimeoutError, RuntimeError):
            dst.transport.abort()

    async def _pipe_both(self, r1, w1, r2, w2) -> None:
        a = asyncio.ensure_future(self._pipe_one(r1, w2))
        b = asyncio.ensure_future(self._pipe_one(r2, w1))
        try:
            await asyncio.gather(a, b)
        finally:
            a.cancel()
            b.cancel()

    # ------------------------------------------------------------------ plain HTTP

    async def _handle_http(self, head: _Head, reader, writer, upstream):
        method, target, version = head.first
        try:
            target_text = target.decode("ascii")
        except UnicodeDecodeError:
            raise _BadRequest(400, "non-ASCII request target") from None
        if not target_text[:7].lower() == "http://":
            raise _BadRequest(400, "this is a proxy: only absolute http:// URLs and CONNECT are accepted")
        rest = target_text[7:]
        cut = min([i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0] or [len(rest)])
        authority, path = rest[:cut], rest[cut:]
        path = path.split("#", 1)[0]
        if not path.startswith("/"):
            path = "/" + path
        if "@" in authority or "\\" in target_text:
            raise UnsafeURLError("URLs with credentials or backslashes are refused.")
        try:
            host_text, port_text = _split_host_port(authority)
            host = canonical_host(host_text)
            port = _parse_port(port_text) if port_text else 80
        except UnsafeURLError as exc:
            # canonical_host refusals are policy refusals: record them against the raw authority.
            self._record_block(authority.lower(), exc.reason, target_text[:300])
            raise
        req_framing, req_len = _body_framing(head)
        addresses = await self._check(host, port, target_text[:300])

        key = f"{allow_key(host, port)}|{','.join(a.compressed for a in addresses)}"
        if upstream is not None and (upstream[0] != key or upstream[1].at_eof()):
            upstream[2].close()
            upstream = None

        conn_tokens = head.tokens(b"connection") | head.tokens(b"proxy-connection")
        drop = _HOP_BY_HOP | conn_tokens
        out = [b"%s %s HTTP/1.1\r\n" % (method, path.encode("ascii"))]
        has_host = False
        for k, v in head.headers:
            lk = k.lower()
            if lk in drop:
                continue
            if lk == b"host":
                if has_host:
                    continue
                has_host = True
            out.append(k + b": " + v + b"\r\n")
        if not has_host:
            out.insert(1, b"Host: " + authority.encode("ascii") + b"\r\n")
        out.append(b"\r\n")
        request_head = b"".join(out)

        for attempt in (0, 1):
            reused = upstream is not None
            if upstream is None:
                up_reader, up_writer = await self._open_upstream(addresses, port)
                upstream = (key, up_reader, up_writer)
            _key, up_reader, up_writer = upstream
            try:
                up_writer.write(request_head)
                await self._relay_body(reader, up_writer, req_framing, req_len)
                await asyncio.wait_for(up_writer.drain(), self.idle_timeout)
                resp = await self._read_head(up_reader, is_request=False)
            except (ConnectionError, _BadRequest):
                resp = None
                if not reused or req_framing != "none":
                    raise
            if resp is None:
                up_writer.close()
                upstream = None
                if reused and req_framing == "none" and attempt == 0:
                    continue  # a kept-alive connection the server had closed: retry once, fresh
                raise _BadRequest(502, "the server closed the connection without answering")
            break

        # Forward interim 1xx responses other than 101.
        while True:
            status = int(resp.first[1])
            if 100 <= status < 200 and status != 101:
                writer.write(self._serialize_response(resp, close=False))
                resp = await self._read_head(up_reader, is_request=False)
                if resp is None:
                    raise _BadRequest(502, "the server closed the connection without answering")
                continue
            break
        if status == 101:
            raise _BadRequest(502, "protocol upgrades are only supported through CONNECT")
        if 300 <= status < 400:
            location = resp.get(b"location")
            if location:
                try:
                    self._record_redirect(target_text, location.decode("latin-1"))
                except ValueError:
                    pass
        framing, length = _body_framing(resp, request_method=method)
        client_keep = (
            version == b"HTTP/1.1" and b"close" not in conn_tokens and framing != "eof"
        )
        upstream_keep = (
            resp.first[0] == b"HTTP/1.1" and b"close" not in resp.tokens(b"connection") and framing != "eof"
        )
        writer.write(self._serialize_response(resp, close=not client_keep))
        await self._relay_body(up_reader, writer, framing, length)
        await asyncio.wait_for(writer.drain(), self.idle_timeout)
        if not upstream_keep:
            up_writer.close()
            upstream = None
        return upstream, client_keep

    @staticmethod
    def _serialize_response(resp: _Head, *, close: bool) -> bytes:
        conn_tokens = resp.tokens(b"connection")
        out = [b" ".join(resp.first).rstrip(b" ") + b"\r\n"]
        for k, v in resp.headers:
            lk = k.lower()
            if lk in (b"connection", b"keep-alive", b"proxy-connection") or lk in conn_tokens:
                continue
            out.append(k + b": " + v + b"\r\n")
        if close:
            out.append(b"Connection: close\r\n")
        out.append(b"\r\n")
        return b"".join(out)

    async def _relay_exactly(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, length: int) -> None:
        remaining = length
        while remaining > 0:
            data = await asyncio.wait_for(src.read(min(_BUF, remaining)), self.idle_timeout)
            if not data:
                raise _BadRequest(502, "body ended early")
            dst.write(data)
            remaining -= len(data)
            await asyncio.wait_for(dst.drain(), self.idle_timeout)

    async def _relay_body(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, framing: str, length: int) -> None:
        timeout = self.idle_timeout
        if framing == "none":
            return
        if framing == "length":
            await self._relay_exactly(src, dst, length)
            return
        if framing == "eof":
            while True:
                data = await asyncio.wait_for(src.read(_BUF), timeout)
                if not data:
                    return
                dst.write(data)
                await asyncio.wait_for(dst.drain(), timeout)
        # chunked
        while True:
            line = await asyncio.wait_for(src.readuntil(b"\n"), timeout)
            size_text = line.split(b";", 1)[0].strip()
            if not size_text or len(size_text) > 16 or not re.fullmatch(rb"[0-9A-Fa-f]+", size_text):
                raise _BadRequest(502, "bad chunked encoding")
            size = int(size_text, 16)
            dst.write(line)
            if size == 0:
                while True:  # trailers, then the empty line
                    t = await asyncio.wait_for(src.readuntil(b"\n"), timeout)
                    dst.write(t)
                    if t in (b"\r\n", b"\n"):
                        await asyncio.wait_for(dst.drain(), timeout)
                        return
            await self._relay_exactly(src, dst, size + 2)  # data + CRLF


__all__ = ["GuardProxy", "BLOCK_HEADER"]
