"""The URL guard: the forward HTTP proxy that every request of a capture's Chrome goes through (the
engine's switches, ``heatmap_app.capture.chrome``, say how).

The security core is three methods of :class:`GuardProxy`:

* ``_admit`` - only our own capture browsers may use the guard: a client whose address is not in
  ``clients`` gets a 403 and nothing else;
* ``_check`` - the host is canonicalised exactly as :mod:`.core` does, resolved **once**, every
  answer checked; a refusal is logged and recorded for the engine to explain a failed navigation;
* ``_connect`` - connects to one of exactly the addresses ``_check`` returned, never resolving
  again, so neither a redirect, a sub-resource, a WebSocket nor a DNS-rebinding answer can reach
  the operator's network.

HTTP/1.1 is parsed and written by h11 on both sides (``_forward``); ``CONNECT`` (https, wss) is a
checked byte pipe (``_tunnel``).  A refused plain-http request gets ``403`` with a short text body and
an ``X-Heatmap-Blocked`` header; a refused ``CONNECT`` gets the same ``403``.  bench/README.md says why
this design and not a SOCKS5 guard.

Bounds: header size, connect timeout, idle timeout on every read, resolution timeout, concurrent
client connections.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import threading
from collections import OrderedDict
from collections.abc import Iterable
from urllib.parse import urljoin, urlsplit

import h11

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
    parse_guard_clients,
    split_url,
    system_resolver,
)

BLOCK_HEADER = "X-Heatmap-Blocked"
_BUF = 256 * 1024
# Headers of one hop only (RFC 9110 7.6.1), plus Expect: we do not relay 100-continue handshakes.
_HOP_BY_HOP = frozenset(
    {b"connection", b"proxy-connection", b"keep-alive", b"proxy-authorization", b"proxy-authenticate", b"te",
     b"trailer", b"upgrade", b"expect"}
)
_MAX_LOG = 2000
_TITLES = {400: "Bad Request", 403: "Forbidden", 431: "Request Header Fields Too Large", 501: "Not Implemented",
           502: "Bad Gateway"}
log = logging.getLogger(__name__)

ClientNetworks = Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]


class _Refused(Exception):
    """A request we answer with an error status: malformed, or a server that misbehaved."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


class _Unreachable(Exception):
    """The checked address did not accept a connection. The browser gets a dropped connection, not a 502
    page, so it sees the network error it would see without the guard, and the capture treats the site
    as unreachable for now (worth a retry) rather than as a page that answered 502."""


def _error_response(status: int, reason: str, *, blocked: bool) -> bytes:
    body = (f"Blocked by the heatmap URL guard: {reason}\n" if blocked else f"{reason}\n").encode("utf-8", "replace")
    safe_reason = "".join(c if 32 <= ord(c) < 127 else "?" for c in reason)[:300]
    return (
        f"HTTP/1.1 {status} {_TITLES.get(status, 'Error')}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Cache-Control: no-store\r\n"
        "Connection: close\r\n"
        + (f"{BLOCK_HEADER}: {safe_reason}\r\n" if blocked else "")
        + "\r\n"
    ).encode("ascii") + body


def _norm_url(url: str) -> str | None:
    """``scheme://host:port/path?query`` with the canonical host and explicit port, or None."""
    try:
        scheme, host, port = split_url(url.strip())
        parts = urlsplit(url.strip())
    except (UnsafeURLError, ValueError):
        return None
    query = f"?{parts.query}" if parts.query else ""
    return f"{scheme}://{allow_key(host, port)}{parts.path or '/'}{query}"


def _end_to_end(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """`headers` less the hop-by-hop ones, including those the Connection header names."""
    headers = list(headers)
    named = {t.strip().lower() for k, v in headers if k in (b"connection", b"proxy-connection") for t in v.split(b",")}
    return [(k, v) for k, v in headers if k not in _HOP_BY_HOP and k not in named]


class _Peer:
    """One side of a relayed exchange: an h11 state machine over a stream."""

    def __init__(self, role: type[h11.CLIENT] | type[h11.SERVER], reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, *, max_header_bytes: int, idle_timeout: float):
        self.h11 = h11.Connection(role, max_incomplete_event_size=max_header_bytes)
        self.reader, self.writer, self.idle_timeout = reader, writer, idle_timeout

    async def next_event(self) -> h11.Event | type[h11.PAUSED]:
        while True:
            event = self.h11.next_event()
            if event is not h11.NEED_DATA:
                return event
            async with asyncio.timeout(self.idle_timeout):
                self.h11.receive_data(await self.reader.read(_BUF))

    async def send(self, event: h11.Event) -> None:
        data = self.h11.send(event)
        if data:
            self.writer.write(data)
            async with asyncio.timeout(self.idle_timeout):
                await self.writer.drain()

    def reusable(self) -> bool:
        return self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE


class _Upstream(_Peer):
    def __init__(self, key: str, *args, **kwargs):
        super().__init__(h11.CLIENT, *args, **kwargs)
        self.key = key


def _absolute_http(target: bytes) -> tuple[str, str, str]:
    """(text, authority, origin-form path) of an absolute-form ``http://`` request target."""
    try:
        text = target.decode("ascii")
        parts = urlsplit(text)
    except (UnicodeDecodeError, ValueError):
        raise _Refused(400, "bad request target") from None
    if text[:7].lower() != "http://":
        raise _Refused(400, "this is a proxy: only absolute http:// URLs and CONNECT are accepted")
    return text, parts.netloc, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _host_port(authority: str, default_port: int | None) -> tuple[str | IPAddress, int]:
    """Canonical host and port of `authority` (UnsafeURLError if it cannot be one)."""
    if "@" in authority or "\\" in authority:
        raise UnsafeURLError("URLs with credentials or backslashes are refused.")
    host_text, port_text = _split_host_port(authority)
    if not port_text and default_port is None:
        raise UnsafeURLError("CONNECT needs host:port")
    return canonical_host(host_text), _parse_port(port_text) if port_text else default_port


class GuardProxy:
    """The checking forward proxy, served from a background thread on `bind_host` (a random port unless
    `port` is given) and announced to the browser as `advertise_host`. Use as a context manager or call
    :meth:`start` / :meth:`stop`."""

    def __init__(
        self,
        allow_hosts: frozenset[str] = frozenset(),
        *,
        resolve: Resolver = system_resolver,
        bind_host: str = "127.0.0.1",
        advertise_host: str | None = None,
        port: int = 0,
        clients: ClientNetworks = parse_guard_clients(""),
        connect_timeout: float = 10.0,
        idle_timeout: float = 60.0,
        resolve_timeout: float = RESOLVE_TIMEOUT + 1.0,
        max_header_bytes: int = 64 * 1024,
        max_connections: int = 256,
    ):
        self.allow_hosts = frozenset(allow_hosts)
        self.resolve = resolve
        self.bind_host, self.advertise_host, self.port = bind_host, advertise_host or bind_host, port
        self.clients = tuple(clients)
        self.connect_timeout = connect_timeout
        self.idle_timeout = idle_timeout
        self.resolve_timeout = resolve_timeout
        self.max_header_bytes = max_header_bytes
        self.max_connections = max_connections
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
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
        host = self.advertise_host
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("GuardProxy already started")
        loop = asyncio.new_event_loop()
        self._server = loop.run_until_complete(
            asyncio.start_server(self._on_client, self.bind_host, self.port, backlog=512)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._loop = loop

        def run() -> None:
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="urlsafety-guard-proxy", daemon=True)
        self._thread.start()

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

        asyncio.run_coroutine_threadsafe(shutdown(), loop)
        thread.join(timeout=5)
        self._thread = None
        self._loop = None

    def __enter__(self) -> "GuardProxy":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ the refusal log

    def blocked_reason(self, url: str) -> str | None:
        """Why a request for this URL's host:port was refused during this session, if it was.
        Call it when a navigation fails *and* after a navigation (with the browser's current
        URL): a blocked plain-http redirect target shows as the guard's 403 page, not an error."""
        try:
            _scheme, host, port = split_url(url.strip())
        except UnsafeURLError:
            return None
        with self._lock:
            seen: set[str] = set()
            current = _norm_url(url)
            reason = self._blocked.get(allow_key(host, port))
            # Follow the plain-http redirects the guard has seen (bounded), so that the URL the
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

    def _record_block(self, key: str, reason: str, target: str) -> None:
        log.warning("URL guard refused %s: %s", target, reason)
        with self._lock:
            self._blocked[key] = reason
            self._blocked.move_to_end(key)
            while len(self._blocked) > _MAX_LOG:
                self._blocked.popitem(last=False)
            if len(self._log) < _MAX_LOG:
                self._log.append((target, reason))

    # ------------------------------------------------------------------ the security core

    def _admit(self, peer: tuple | None) -> bool:
        """Only our own capture browsers, known by their address, may use the guard."""
        try:
            address = ipaddress.ip_address(peer[0].split("%")[0]) if peer else None
        except ValueError:
            address = None
        if address is not None and getattr(address, "ipv4_mapped", None):
            address = address.ipv4_mapped
        if address is not None and any(address in network for network in self.clients):
            return True
        log.warning("URL guard refused a client that is not a capture browser: %s", peer)
        return False

    async def _check(self, host: str | IPAddress, port: int, target: str) -> list[IPAddress]:
        """Resolve once and check every answer; the addresses returned are the only ones `_connect` may use.
        Raises UnsafeURLError, recorded and logged."""
        key = allow_key(host, port)
        try:
            addresses = await asyncio.wait_for(
                asyncio.to_thread(check_endpoint, host, port, self.allow_hosts, resolve=self.resolve),
                self.resolve_timeout,
            )
            if port == self.port and any(self._is_own_address(ip) for ip in addresses):
                raise UnsafeURLError("Requests to the guard proxy itself are refused.")
        except UnsafeURLError as exc:
            self._record_block(key, exc.reason, target)
            raise
        except asyncio.TimeoutError:
            reason = f"The host {host_to_str(host)} did not resolve in time."
            self._record_block(key, reason, target)
            raise UnsafeURLError(reason) from None
        return addresses

    def _is_own_address(self, ip: IPAddress) -> bool:
        mapped = getattr(ip, "ipv4_mapped", None)
        return ip.is_loopback or ip.is_unspecified or mapped is not None or str(ip) in (self.bind_host,
                                                                                        self.advertise_host)

    async def _connect(self, addresses: list[IPAddress], port: int) -> tuple[asyncio.StreamReader,
                                                                              asyncio.StreamWriter]:
        for ip in addresses:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(ip.compressed, port, limit=_BUF), self.connect_timeout
                )
            except (OSError, asyncio.TimeoutError):
                continue
            _send_without_delay(writer)
            return reader, writer
        raise _Unreachable("could not connect to the server")

    # ------------------------------------------------------------------ connections

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            if len(self._tasks) > self.max_connections or self._stopping:
                return
            if not self._admit(writer.get_extra_info("peername")):
                writer.write(_error_response(403, "Only the service's capture browsers may use this proxy.",
                                             blocked=False))
                writer.write_eof()
                # Closing with the request unread would reset the connection, the answer unread.
                async with asyncio.timeout(1):
                    await reader.read(self.max_header_bytes)
                return
            _send_without_delay(writer)
            await self._serve(reader, writer)
        except (asyncio.CancelledError, Exception):
            pass
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = _Peer(h11.SERVER, reader, writer, max_header_bytes=self.max_header_bytes,
                       idle_timeout=self.idle_timeout)
        upstream: _Upstream | None = None
        try:
            while True:
                request = await client.next_event()
                if not isinstance(request, h11.Request):
                    return  # the client closed the connection, or sent nothing before its idle timeout
                if request.method == b"CONNECT":
                    await self._tunnel(client, request)
                    return
                upstream = await self._forward(client, request, upstream)
                if not client.reusable():
                    return
                client.h11.start_next_cycle()
        except h11.RemoteProtocolError as exc:
            writer.write(_error_response(exc.error_status_hint, str(exc), blocked=False))
        except _Refused as exc:
            writer.write(_error_response(exc.status, exc.reason, blocked=False))
        except UnsafeURLError as exc:
            writer.write(_error_response(403, exc.reason, blocked=True))
        except _Unreachable:
            writer.transport.abort()
        finally:
            if upstream is not None:
                upstream.writer.close()

    async def _tunnel(self, client: _Peer, request: h11.Request) -> None:
        try:
            host, port = _host_port(request.target.decode("ascii"), None)
        except (UnicodeDecodeError, UnsafeURLError):
            raise _Refused(400, "bad CONNECT target") from None
        addresses = await self._check(host, port, allow_key(host, port))
        up_reader, up_writer = await self._connect(addresses, port)
        try:
            await client.next_event()  # the CONNECT's EndOfMessage; h11 then pauses
            client.writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            up_writer.write(client.h11.trailing_data[0])
            await asyncio.gather(self._pipe(client.reader, up_writer), self._pipe(up_reader, client.writer))
        finally:
            up_writer.close()

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while True:
                async with asyncio.timeout(self.idle_timeout):
                    data = await source.read(_BUF)
                    if not data:
                        break
                    sink.write(data)
                    await sink.drain()
            if sink.can_write_eof():
                sink.write_eof()
        except (OSError, asyncio.TimeoutError, RuntimeError):
            sink.transport.abort()

    async def _forward(self, client: _Peer, request: h11.Request, upstream: _Upstream | None) -> _Upstream | None:
        """Relay one plain-http request and its response; returns the upstream connection if it may be reused."""
        target_text, authority, path = _absolute_http(request.target)
        try:
            host, port = _host_port(authority, 80)
        except UnsafeURLError as exc:
            self._record_block(authority.lower(), exc.reason, target_text[:300])
            raise
        addresses = await self._check(host, port, target_text[:300])
        headers = _end_to_end(request.headers)
        names = [k for k, _ in headers]
        if b"transfer-encoding" in names and b"content-length" in names:
            raise _Refused(400, "both Transfer-Encoding and Content-Length")
        if b"host" not in names:
            headers.insert(0, (b"host", authority.encode("ascii")))
        outgoing = h11.Request(method=request.method, target=path.encode("ascii"), headers=headers)
        has_body = b"transfer-encoding" in names or b"content-length" in names

        key = f"{allow_key(host, port)}|{','.join(a.compressed for a in addresses)}"
        if upstream is not None and upstream.key != key:
            upstream.writer.close()
            upstream = None
        if not has_body:
            await client.next_event()  # its EndOfMessage
        for _attempt in (1, 2):
            reused = upstream is not None
            if upstream is None:
                upstream = _Upstream(key, *await self._connect(addresses, port), max_header_bytes=self.max_header_bytes,
                                     idle_timeout=self.idle_timeout)
            try:
                await upstream.send(outgoing)
                await (self._relay_body(client, upstream) if has_body else upstream.send(h11.EndOfMessage()))
                response = await self._relay_interim(client, upstream)
                break
            except (OSError, h11.ProtocolError):
                upstream.writer.close()
                upstream = None
                if not reused or has_body:
                    raise _Refused(502, "the server closed the connection without answering") from None
                # A kept-alive connection the server had closed: retry once on a fresh one.
        else:  # pragma: no cover - the second attempt always breaks or raises
            raise _Refused(502, "the server closed the connection without answering")

        if 300 <= response.status_code < 400:
            location = dict(response.headers).get(b"location")
            if location:
                self._record_redirect(target_text, location.decode("latin-1"))
        await client.send(h11.Response(status_code=response.status_code, reason=response.reason,
                                       headers=_end_to_end(response.headers)))
        await self._relay_body(upstream, client)
        if upstream.reusable():
            upstream.h11.start_next_cycle()
            return upstream
        upstream.writer.close()
        return None

    @staticmethod
    async def _relay_body(source: _Peer, sink: _Peer) -> None:
        """Data events up to the end of the message; trailers are not relayed."""
        while True:
            event = await source.next_event()
            if isinstance(event, h11.Data):
                await sink.send(event)
            elif isinstance(event, h11.EndOfMessage):
                await sink.send(h11.EndOfMessage())
                return
            else:
                raise _Refused(502, "the connection ended in the middle of a message")

    @staticmethod
    async def _relay_interim(client: _Peer, upstream: _Upstream) -> h11.Response:
        """The final response's head, after forwarding any interim 1xx responses (101 is refused)."""
        while True:
            event = await upstream.next_event()
            if isinstance(event, h11.InformationalResponse):
                if event.status_code == 101:
                    raise _Refused(502, "protocol upgrades are only supported through CONNECT")
                await client.send(event)
            elif isinstance(event, h11.Response):
                return event
            else:
                raise h11.RemoteProtocolError("the server closed the connection without answering")


def _send_without_delay(writer: asyncio.StreamWriter) -> None:
    """Nagle off: a proxy relays small writes (headers, short bodies) that must not wait for an ACK."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


__all__ = ["BLOCK_HEADER", "GuardProxy"]
