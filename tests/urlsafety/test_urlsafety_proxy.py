"""GuardProxy with real sockets (loopback only): forwarding, blocking, pinning, robustness."""

from __future__ import annotations

import http.client
import ipaddress
import os
import socket
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heatmap_app.urlsafety import GuardProxy, parse_allow_hosts
from heatmap_app.urlsafety.proxy import BLOCK_HEADER
from tests.urlsafety.helpers import INTERNAL_IP, PUBLIC_IP, MapResolver


@pytest.fixture
def env(server_pair):
    public, internal = server_pair
    public.routes.update({
        "/": (200, {"Content-Type": "text/plain"}, "public ok"),
        "/chunked": (200, {"Content-Type": "text/plain", "Transfer-Encoding": "chunked"},
                     b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"),
        "/redirect-internal": (302, {"Location": f"{internal.origin}/secret"}, ""),
        "/echo": lambda h: (200, {}, h.body or b"-"),
        "/empty": (204, {}, b""),
    })
    internal.routes["/secret"] = (200, {}, "INTERNAL SECRET")
    resolver = MapResolver({
        "public.test": [PUBLIC_IP],
        "internal.test": [INTERNAL_IP],
        "mixed.test": [PUBLIC_IP, INTERNAL_IP],
        "rebind.test": [[PUBLIC_IP], [INTERNAL_IP]],
    })
    allow = parse_allow_hosts(f"{PUBLIC_IP}:{public.port}")
    with GuardProxy(allow, resolve=resolver, idle_timeout=2, connect_timeout=2) as guard:
        yield guard, public, internal, resolver


def via(guard: GuardProxy) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", guard.port, timeout=5)


def get(guard, url, method="GET", body=None, headers=None):
    c = via(guard)
    c.request(method, url, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r, data


def test_binds_loopback_only(env):
    guard, *_ = env
    assert guard.url == f"http://127.0.0.1:{guard.port}"


def test_plain_http_allowed_and_keepalive(env):
    guard, public, internal, _ = env
    c = via(guard)
    for _ in range(3):
        c.request("GET", f"{public.origin}/")
        r = c.getresponse()
        assert r.status == 200 and r.read() == b"public ok"
    c.request("GET", f"{public.origin}/chunked")
    r = c.getresponse()
    assert r.read() == b"hello world"
    c.request("HEAD", f"{public.origin}/")
    r = c.getresponse()
    assert r.status == 200 and r.read() == b""
    c.request("GET", f"{public.origin}/empty")
    assert c.getresponse().status == 204
    c.close()
    assert public.connections == 1  # client and upstream connections were both kept alive
    assert len(public.requests) == 6
    assert internal.requests == []


def test_request_bodies(env):
    guard, public, *_ = env
    r, data = get(guard, f"{public.origin}/echo", "POST", body=b"x" * 300_000)
    assert r.status == 200 and data == b"x" * 300_000
    c = via(guard)
    c.putrequest("POST", f"{public.origin}/echo")
    c.putheader("Transfer-Encoding", "chunked")
    c.endheaders()
    c.send(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    r = c.getresponse()
    assert r.read() == b"abcde"
    c.close()


@pytest.mark.parametrize("host", [INTERNAL_IP, "internal.test", "mixed.test", "localhost", "0x7f000002",
                                  "[::ffff:127.0.0.2]", "nowhere.test"])
def test_plain_http_blocked(env, host):
    guard, public, internal, _ = env
    url = f"http://{host}:{public.port}/secret"
    r, data = get(guard, url)
    assert r.status == 403
    assert r.getheader(BLOCK_HEADER)
    assert data.startswith(b"Blocked by the heatmap URL guard")
    assert internal.requests == [] and internal.connections == 0
    assert guard.blocked_reason(url)
    assert guard.blocked_reason(f"{public.origin}/") is None


def test_blocked_reason_is_readable(env):
    guard, public, internal, _ = env
    get(guard, f"{internal.origin}/secret")
    reason = guard.blocked_reason(f"{internal.origin}/other")
    assert reason == f"The address {INTERNAL_IP} is loopback and cannot be captured."
    assert guard.blocked_requests == [(f"{internal.origin}/secret", reason)]
    assert guard.blocked_reason(f"{internal.origin.replace(str(public.port), '1')}/") is None
    assert guard.blocked_reason("chrome-error://chromewebdata/") is None


@pytest.mark.parametrize("host", ["internal.test", "mixed.test", "nowhere.test"])
def test_the_refusal_page_of_a_name_never_tells_what_it_resolves_to(env, host):
    """The page lands in screenshots: it must not say whether or where an internal name resolves."""
    guard, public, *_ = env
    r, data = get(guard, f"http://{host}:{public.port}/secret")
    expected = f"The host {host} does not resolve to a public address, so it cannot be captured."
    assert r.status == 403
    assert data.decode() == f"Blocked by the heatmap URL guard: {expected}\n"
    assert r.getheader(BLOCK_HEADER) == expected
    assert INTERNAL_IP not in data.decode() + r.getheader(BLOCK_HEADER)


def test_names_via_allowed_address(env):
    guard, public, internal, resolver = env
    r, data = get(guard, f"http://public.test:{public.port}/")
    assert r.status == 200 and data == b"public ok"
    assert public.requests[-1][2] == f"public.test:{public.port}"  # Host header kept


def test_redirect_target_is_checked_too(env):
    guard, public, internal, _ = env
    r, _ = get(guard, f"{public.origin}/redirect-internal")
    assert r.status == 302  # the proxy passes the redirect on ...
    r, _ = get(guard, r.getheader("Location"))
    assert r.status == 403  # ... and refuses the browser's next request
    assert internal.requests == []
    # the URL that was asked for explains itself through the redirect the proxy saw
    assert "loopback" in guard.blocked_reason(f"{public.origin}/redirect-internal")
    assert guard.blocked_reason(f"{public.origin}/") is None


def test_rebinding_connects_to_the_checked_address(env):
    guard, public, internal, resolver = env
    # first lookup says public: the request is checked and sent to exactly that address
    r, data = get(guard, f"http://rebind.test:{public.port}/")
    assert r.status == 200 and data == b"public ok"
    assert resolver.calls["rebind.test"] == 1  # resolved once: checked address == connected address
    # every later lookup says internal: refused, and the internal server never hears of it
    for _ in range(3):
        r, _ = get(guard, f"http://rebind.test:{public.port}/secret")
        assert r.status == 403
    s = socket.create_connection(("127.0.0.1", guard.port))
    s.sendall(f"CONNECT rebind.test:{public.port} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert s.recv(100).startswith(b"HTTP/1.1 403")
    s.close()
    assert internal.requests == [] and internal.connections == 0


def connect(guard, target: str) -> tuple[socket.socket, bytes]:
    s = socket.create_connection(("127.0.0.1", guard.port), timeout=5)
    s.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    return s, head


def test_connect_tunnel_allowed(env):
    guard, public, internal, _ = env
    s, head = connect(guard, f"{PUBLIC_IP}:{public.port}")
    assert head.startswith(b"HTTP/1.1 200")
    s.sendall(f"GET / HTTP/1.1\r\nHost: {PUBLIC_IP}\r\nConnection: close\r\n\r\n".encode())
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"public ok")
    s.close()


@pytest.mark.parametrize("target", [f"{INTERNAL_IP}:{{port}}", "internal.test:{port}", "[::1]:{port}",
                                    "2130706434:{port}", "169.254.169.254:443", "localhost:{port}"])
def test_connect_tunnel_blocked(env, target):
    guard, public, internal, _ = env
    s, head = connect(guard, target.format(port=public.port))
    assert head.startswith(b"HTTP/1.1 403")
    assert BLOCK_HEADER.encode() in head
    s.close()
    assert internal.connections == 0


def test_proxy_refuses_its_own_port():
    with GuardProxy() as guard:
        # even when the operator (wrongly) allows the proxy's own address:port
        guard.allow_hosts = parse_allow_hosts(f"127.0.0.1:{guard.port}")
        r, data = get(guard, f"{guard.url}/")
        assert r.status == 403 and b"guard proxy itself" in data
        s, head = connect(guard, f"127.0.0.1:{guard.port}")
        assert head.startswith(b"HTTP/1.1 403")
        s.close()


def test_origin_form_request_is_not_served(env):
    guard, *_ = env
    s = socket.create_connection(("127.0.0.1", guard.port), timeout=5)
    s.sendall(b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")
    assert s.recv(100).startswith(b"HTTP/1.1 400")
    s.close()


def test_an_unreachable_upstream_drops_the_connection_as_a_network_error(env):
    """No synthetic 502 page: the browser must see what it would see without the proxy, a network error."""
    guard, public, *_ = env
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    closed_port = s.getsockname()[1]
    s.close()
    guard.allow_hosts = parse_allow_hosts(f"127.0.0.1:{closed_port}")
    client = socket.create_connection(("127.0.0.1", guard.port), timeout=5)
    client.sendall(f"GET http://127.0.0.1:{closed_port}/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    try:
        assert client.recv(100) == b""
    except ConnectionResetError:
        pass
    finally:
        client.close()


def test_header_size_is_bounded(env):
    guard, public, *_ = env
    s = socket.create_connection(("127.0.0.1", guard.port), timeout=5)
    s.sendall(f"GET {public.origin}/ HTTP/1.1\r\nX: ".encode() + b"a" * 200_000)
    reply = s.recv(100)
    assert reply.startswith(b"HTTP/1.1 431") or reply == b""
    s.close()
    assert public.requests == []


def test_idle_client_is_dropped(env):
    guard, *_ = env
    s = socket.create_connection(("127.0.0.1", guard.port), timeout=10)
    s.sendall(b"GET http://")
    t = time.monotonic()
    assert s.recv(100) == b""  # closed without an answer
    assert 1 < time.monotonic() - t < 5  # idle_timeout=2
    s.close()


GARBAGE = [
    b"\x00\xff" * 100 + b"\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET http://[::1 HTTP/1.1\r\n\r\n",
    b"GET http://a:b:c/ HTTP/1.1\r\n\r\n",
    b"GET http://127.0.0.1:99999/ HTTP/1.1\r\n\r\n",
    b"CONNECT x HTTP/1.1\r\n\r\n",
    b"CONNECT :80 HTTP/1.1\r\n\r\n",
    b"CONNECT [::1]:x HTTP/1.1\r\n\r\n",
    b"GET http://example.com/ HTTP/9.9\r\n\r\n",
    b"GET http://example.com/ HTTP/1.1\r\nbad header\r\n\r\n",
    b"GET http://example.com/ HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"GET http://\xc3\xa9.com/ HTTP/1.1\r\n\r\n",
    b"\r\n\r\n\r\n\r\n",
]


def test_garbage_never_crashes_the_proxy(env):
    guard, public, internal, _ = env
    for junk in GARBAGE + [os.urandom(n) for n in (1, 10, 1000, 70_000)]:
        s = socket.create_connection(("127.0.0.1", guard.port), timeout=5)
        try:
            s.sendall(junk)
            s.shutdown(socket.SHUT_WR)
            while s.recv(65536):
                pass
        except OSError:
            pass
        finally:
            s.close()
    r, data = get(guard, f"{public.origin}/")
    assert r.status == 200 and data == b"public ok"
    assert internal.connections == 0


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=300))
def test_fuzzed_request_heads(junk):
    # one proxy for all examples (module-level), loopback only
    guard = _fuzz_guard()
    s = socket.create_connection(("127.0.0.1", guard.port), timeout=5)
    try:
        s.sendall(b"GET http://x.example/ HTTP/1.1\r\n" + junk + b"\r\n\r\n")
        s.shutdown(socket.SHUT_WR)
        while s.recv(65536):
            pass
    except OSError:
        pass
    finally:
        s.close()
    c = via(guard)
    c.request("GET", "http://x.example/")
    assert c.getresponse().status == 403  # x.example does not resolve -> refused, proxy alive
    c.close()


_FUZZ: list[GuardProxy] = []


def _fuzz_guard() -> GuardProxy:
    if not _FUZZ:
        g = GuardProxy(resolve=MapResolver({}), idle_timeout=1)
        g.start()
        _FUZZ.append(g)
    return _FUZZ[0]


def teardown_module(module):
    for g in _FUZZ:
        g.stop()


def test_stop_closes_everything(server_pair):
    public, _ = server_pair
    guard = GuardProxy(parse_allow_hosts(f"{PUBLIC_IP}:{public.port}"))
    guard.start()
    port = guard.port
    s, head = connect(guard, f"{PUBLIC_IP}:{public.port}")  # an open tunnel
    assert head.startswith(b"HTTP/1.1 200")
    guard.stop()
    s.settimeout(3)
    assert s.recv(10) == b""
    s.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1)


def test_a_client_that_is_not_a_capture_browser_is_refused(server_pair, caplog):
    public, _ = server_pair
    nodes_only = [ipaddress.ip_network("10.9.9.0/24")]  # this test's client comes from 127.0.0.1
    with GuardProxy(parse_allow_hosts(f"{PUBLIC_IP}:{public.port}"), clients=nodes_only) as guard:
        r, data = get(guard, f"{public.origin}/")
        s, head = connect(guard, f"{PUBLIC_IP}:{public.port}")
        s.close()
    assert r.status == 403 and data == b"Only the service's capture browsers may use this proxy.\n"
    assert head.startswith(b"HTTP/1.1 403")
    assert public.requests == [] and public.connections == 0
    assert sum("not a capture browser" in m for m in caplog.messages) == 2


def test_every_refusal_is_logged(env, caplog):
    guard, public, internal, _ = env
    get(guard, f"{internal.origin}/secret")
    connect(guard, "internal.test:443")[0].close()
    assert [m for m in caplog.messages if m.startswith("URL guard refused")] == [
        f"URL guard refused {internal.origin}/secret: The address {INTERNAL_IP} is loopback and cannot be captured.",
        "URL guard refused internal.test:443: The host internal.test does not resolve to a public address, "
        "so it cannot be captured.",
    ]


def test_the_guard_listens_where_it_is_told_and_announces_its_advertised_address():
    with GuardProxy(bind_host="127.0.0.3", advertise_host="192.0.2.10") as guard:
        assert guard.url == f"http://192.0.2.10:{guard.port}"
        socket.create_connection(("127.0.0.3", guard.port), timeout=2).close()
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", guard.port), timeout=2)
