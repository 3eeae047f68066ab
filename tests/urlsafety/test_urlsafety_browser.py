"""A real headless Chromium, through the real capture engine, behind the GuardProxy.

Two loopback servers on the same port: "public" on 127.0.0.1:P (allowed by CAPTURE_ALLOW_HOSTS)
and "internal" on 127.0.0.2:P (not allowed) which counts every request and connection it gets.
Nothing here leaves 127.0.0.0/8: names are answered by an injected resolver.
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from heatmap_app.capture import (
    Browser,
    BrowserPool,
    CaptureRequest,
    CaptureSettings,
    PermanentCaptureError,
    capture,
)
from heatmap_app.urlsafety import GuardProxy, parse_allow_hosts
from tests.capture.processes import live_processes
from tests.urlsafety.helpers import INTERNAL_IP, PUBLIC_IP, CountingServer, MapResolver

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (shutil.which("chromium") or shutil.which("google-chrome")) or not shutil.which("chromedriver"),
                       reason="needs chromium and chromedriver"),
]

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005"
    "0001ff5a5d9a6d0000000049454e44ae426082"
)

# Every way a page can make the browser send a request.
VECTORS = {
    "/frame": '<iframe src="{i}/frame"></iframe>',
    "/frame-by-name": '<iframe src="{n}/frame-by-name"></iframe>',
    "/img.png": '<img src="{i}/img.png" width=10 height=10>',
    "/img-decimal.png": '<img src="{d}/img-decimal.png" width=10 height=10>',
    "/script.js": '<script src="{i}/script.js"></script>',
    "/style.css": '<link rel="stylesheet" href="{i}/style.css">',
    "/bg.png": '<div style="width:10px;height:10px;background:url({i}/bg.png)"></div>',
    "/prefetch": '<link rel="prefetch" href="{i}/prefetch">',
    "/fetch": "<script>fetch('{i}/fetch', {{mode: 'no-cors'}}).catch(() => {{}});</script>",
    "/xhr": "<script>try {{ const x = new XMLHttpRequest(); x.open('GET', '{i}/xhr'); x.send(); }} catch (e) {{}}</script>",
    "/beacon": "<script>navigator.sendBeacon('{i}/beacon', 'x');</script>",
    "/ws": "<script>try {{ new WebSocket('{w}/ws'); }} catch (e) {{}}</script>",
    "/form": '<iframe name="f"></iframe><form id="fm" method="post" target="f" action="{i}/form"></form>'
             "<script>document.getElementById('fm').submit();</script>",
    "/secret": '<iframe src="/redirect-internal"></iframe>',  # public 302 -> internal /secret
    "/meta": '<iframe src="/meta-refresh"></iframe>',  # public page that meta-refreshes to internal /meta
}


@pytest.fixture
def world(server_pair):
    public, internal = server_pair
    port = public.port
    origins = {
        "i": internal.origin,
        "n": f"http://internal.test:{port}",
        "d": f"http://2130706434:{port}",  # 127.0.0.2 in decimal
        "w": f"ws://{INTERNAL_IP}:{port}",
    }
    body = "\n".join(v.format(**origins) for v in VECTORS.values())
    page = (
        "<!doctype html><html><head><title>public</title></head>"
        '<body style="margin:0;background:#fff"><h1 style="height:1200px">Public page</h1>'
        f'<img src="/ok.png" width=10 height=10>{body}</body></html>'
    )
    html = {"Content-Type": "text/html; charset=utf-8"}
    public.routes.update({
        "/": (200, html, page),
        "/ok.png": (200, {"Content-Type": "image/png"}, PNG),
        "/redirect-internal": (302, {"Location": f"{internal.origin}/secret"}, ""),
        "/meta-refresh": (200, html, f'<meta http-equiv="refresh" content="0;url={internal.origin}/meta">'),
        "/rebind": (200, html, (
            f"<h1>rebind</h1><img src='http://rebind.test:{port}/rebind.png' width=10 height=10>"
            f"<script src='http://rebind.test:{port}/rebind.js'></script>"
            f"<script>fetch('http://rebind.test:{port}/rebind-fetch').catch(() => {{}});</script>"
        )),
    })
    internal.routes.update({path: (200, html, "INTERNAL") for path in VECTORS})
    resolver = MapResolver({
        "internal.test": [INTERNAL_IP],
        "public.test": [PUBLIC_IP],
        "rebind.test": [[PUBLIC_IP], [INTERNAL_IP]],  # public on the first lookup, internal after
    })
    allow = parse_allow_hosts(f"{PUBLIC_IP}:{port}")
    with GuardProxy(allow, resolve=resolver, connect_timeout=2, idle_timeout=10) as guard:
        settings = CaptureSettings(proxy_server=guard.url, page_load_timeout=10, resources_timeout=3)
        yield guard, public, internal, resolver, settings


def test_public_page_captured_and_internal_server_gets_nothing(world):
    guard, public, internal, _, settings = world
    shots = capture(CaptureRequest(f"{public.origin}/", [800]), settings,
                    explain_navigation_failure=guard.blocked_reason)
    assert len(shots) == 1 and shots[0].jpeg[:2] == b"\xff\xd8" and shots[0].height >= 1200

    assert internal.requests == [] and internal.connections == 0
    paths = [path for _, path, _ in public.requests]
    assert "/" in paths and "/ok.png" in paths  # allowed subresources still load
    assert "/redirect-internal" in paths and "/meta-refresh" in paths

    # The test is not vacuous: the browser did try every vector, and the guard refused each one.
    targets = [target for target, _ in guard.blocked_requests]
    attempted = {path for path in VECTORS if any(t.endswith(path) for t in targets if t.startswith("http://"))}
    missing = set(VECTORS) - attempted - {"/ws"}
    assert not missing, f"never attempted: {missing}; blocked: {targets}"
    assert f"{INTERNAL_IP}:{public.port}" in targets  # the WebSocket's CONNECT tunnel
    internal_blocks = [(t, r) for t, r in guard.blocked_requests if INTERNAL_IP in t or "internal.test" in t]
    assert len(internal_blocks) >= len(VECTORS)
    # An address in the page is named; a name is refused without telling where it resolves.
    assert all(("is loopback" if INTERNAL_IP in target else "does not resolve to a public address") in reason
               for target, reason in internal_blocks)
    # Anything else refused is Chrome's own background traffic to names our test resolver does
    # not know (harmless: refused like any other unresolvable host).
    assert all("does not resolve" in r for t, r in guard.blocked_requests if (t, r) not in internal_blocks)


def test_blocked_main_navigation_fails_with_a_clear_reason(world):
    guard, public, internal, _, settings = world
    with pytest.raises(PermanentCaptureError) as info:
        capture(CaptureRequest(f"{internal.origin}/", [800]), settings, explain_navigation_failure=guard.blocked_reason)
    assert "Blocked" in str(info.value) and "127.0.0.2 is loopback" in str(info.value)
    # a redirect of the main navigation to an internal address fails the capture the same way
    with pytest.raises(PermanentCaptureError) as info:
        capture(CaptureRequest(f"{public.origin}/redirect-internal", [800]), settings,
                explain_navigation_failure=guard.blocked_reason)
    assert "Blocked" in str(info.value) and "loopback" in str(info.value)
    assert internal.requests == [] and internal.connections == 0


def test_a_page_refreshing_itself_to_an_internal_address_fails_and_reaches_nothing(world):
    guard, public, internal, _, settings = world
    with pytest.raises(PermanentCaptureError) as info:
        capture(CaptureRequest(f"{public.origin}/meta-refresh", [800]), settings,
                explain_navigation_failure=guard.blocked_reason)
    assert "Blocked" in str(info.value) and "loopback" in str(info.value)  # not a screenshot of the refusal
    assert internal.requests == [] and internal.connections == 0


def test_dns_rebinding_reaches_nothing_internal(world):
    guard, public, internal, resolver, settings = world
    port = public.port
    shots = capture(CaptureRequest(f"http://rebind.test:{port}/rebind", [800]), settings,
                    explain_navigation_failure=guard.blocked_reason)
    assert len(shots) == 1
    # the main document was checked against the first (public) answer and fetched from exactly it
    assert ("GET", "/rebind", f"rebind.test:{port}") in public.requests
    # later lookups answered internal: each sub-request was re-checked and refused, not connected
    assert resolver.calls["rebind.test"] >= 2
    assert any(t.startswith(f"http://rebind.test:{port}/") for t, _ in guard.blocked_requests)
    assert internal.requests == [] and internal.connections == 0


# ---------------------------------------------------------------------------------------------------------------
# UDP and the browser's own traffic: nothing may go around the guard, and the guard sees only the page's hosts.

MDNS_GROUP, MDNS_PORT = "224.0.0.251", 5353


class UdpVictim:
    """A UDP socket (and a TCP listener on the same port) on the internal address: counts what reaches it."""

    def __init__(self) -> None:
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((INTERNAL_IP, 0))
        self.port = self.udp.getsockname()[1]
        self.tcp = socket.socket()
        self.tcp.bind((INTERNAL_IP, self.port))
        self.tcp.listen(16)
        self.datagrams: list[bytes] = []
        self.connections = 0
        threading.Thread(target=self._receive, daemon=True).start()
        threading.Thread(target=self._accept, daemon=True).start()

    def _receive(self) -> None:
        while True:
            try:
                self.datagrams.append(self.udp.recv(65535))
            except OSError:
                return

    def _accept(self) -> None:
        while True:
            try:
                self.tcp.accept()[0].close()
            except OSError:
                return
            self.connections += 1

    def close(self) -> None:
        self.udp.close()
        self.tcp.close()


def webrtc_page(victim_port: int, mdns_name: str) -> str:
    """STUN and TURN servers on the victim, then forged remote candidates on it, and WebTransport to it."""
    victim = f"{INTERNAL_IP}:{victim_port}"
    candidates = [
        f"candidate:1 1 udp 2122260223 {INTERNAL_IP} {victim_port} typ host",
        f"candidate:2 1 udp 1686052607 {INTERNAL_IP} {victim_port} typ srflx raddr 0.0.0.0 rport 0",
        f"candidate:3 1 tcp 1518280447 {INTERNAL_IP} {victim_port} typ host tcptype passive",
        f"candidate:4 1 udp 2122260223 {mdns_name} {victim_port} typ host",
    ]
    return f"""<!doctype html><body style="margin:0"><h1 style="height:1200px">WebRTC</h1>
<img src="/slow.png" width=10 height=10>
<script>
(async () => {{
  try {{ new WebTransport('https://{victim}/'); }} catch (unavailable) {{}}
  const caller = new RTCPeerConnection({{iceServers: [
    {{urls: ['stun:{victim}']}},
    {{urls: ['turn:{victim}?transport=udp', 'turn:{victim}?transport=tcp'], username: 'u', credential: 'p'}},
  ]}});
  caller.createDataChannel('x');
  await caller.setLocalDescription(await caller.createOffer());
  const callee = new RTCPeerConnection();
  await callee.setRemoteDescription(caller.localDescription);
  await caller.setRemoteDescription(await callee.createAnswer());
  for (const candidate of {json.dumps(candidates)}) {{
    await caller.addIceCandidate({{candidate, sdpMid: '0', sdpMLineIndex: 0}});
  }}
  window.keep = [caller, callee];
}})();
</script></body>"""


def chrome_command_line(profile: str) -> list[str]:
    """The switches the running browser's main process really got (the last of a repeated switch wins)."""
    [main] = [
        process for process in live_processes()
        if f"--user-data-dir={profile}" in process.command_line and " --type=" not in process.command_line
    ]
    return Path(f"/proc/{main.pid}/cmdline").read_bytes().decode().split("\0")


def last_switch(command_line: list[str], name: str) -> str | None:
    values = [part.split("=", 1)[1] if "=" in part else "" for part in command_line if part.split("=", 1)[0] == name]
    return values[-1] if values else None


@pytest.fixture
def slow_page_server():
    """The public server, with an image that takes a second: the page stays loaded that long."""
    server = CountingServer(PUBLIC_IP)
    server.routes["/slow.png"] = lambda handler: (time.sleep(1), (200, {"Content-Type": "image/png"}, PNG))[1]
    server.start()
    yield server
    server.stop()


def test_webrtc_sends_no_udp_and_reaches_the_victim_only_through_the_guard(slow_page_server):
    public = slow_page_server
    victim = UdpVictim()
    public.routes["/"] = (200, {"Content-Type": "text/html"}, webrtc_page(victim.port, f"{uuid.uuid4()}.local"))
    try:
        with GuardProxy(parse_allow_hosts(f"{PUBLIC_IP}:{public.port}"), resolve=MapResolver({})) as guard:
            with Browser(CaptureSettings(proxy_server=guard.url)) as browser:
                command_line = chrome_command_line(browser.user_data_dir)
                preferences = json.loads((Path(browser.user_data_dir) / "Default" / "Preferences").read_text())
                browser.capture(CaptureRequest(f"{public.origin}/", [800]))
                browser.capture(CaptureRequest(f"{public.origin}/", [800]))  # a warm browser, as a worker's
            blocked = [target for target, _ in guard.blocked_requests]
    finally:
        victim.close()

    assert last_switch(command_line, "--webrtc-ip-handling-policy") == "disable_non_proxied_udp"
    assert preferences["webrtc"]["ip_handling_policy"] == "disable_non_proxied_udp"
    assert "--disable-quic" in command_line
    assert "WebTransport" in last_switch(command_line, "--disable-blink-features").split(",")
    assert "WebRtcHideLocalIpsWithMdns" in last_switch(command_line, "--disable-features").split(",")
    assert "--disable-popup-blocking" not in command_line
    assert victim.datagrams == [], f"{len(victim.datagrams)} datagrams reached {INTERNAL_IP}:{victim.port}"
    assert victim.connections == 0
    # Not vacuous: the page did ask for its TURN server over TCP, and the guard refused it.
    assert f"{INTERNAL_IP}:{victim.port}" in blocked
    assert public.requests.count(("GET", "/slow.png", f"{PUBLIC_IP}:{public.port}")) == 2


def multicast_listener() -> socket.socket | None:
    """A socket in the mDNS group on every interface that has multicast, or None if none has."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind(("", MDNS_PORT))
    joined = 0
    for index, _ in socket.if_nameindex():
        membership = socket.inet_aton(MDNS_GROUP) + socket.inet_aton("0.0.0.0") + struct.pack("@i", index)
        try:
            listener.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
            joined += 1
        except OSError:
            continue
    if not joined:
        listener.close()
        return None
    return listener


def test_a_pages_forged_mdns_candidate_sends_no_multicast_lookup(slow_page_server):
    public = slow_page_server
    listener = multicast_listener()
    if listener is None:
        pytest.skip("no network interface with multicast on this machine")
    name = f"{uuid.uuid4()}.local"
    heard: list[bytes] = []

    def listen() -> None:
        while True:
            try:
                heard.append(listener.recv(9000))
            except OSError:
                return

    threading.Thread(target=listen, daemon=True).start()
    victim = UdpVictim()
    public.routes["/"] = (200, {"Content-Type": "text/html"}, webrtc_page(victim.port, name))
    try:
        # The listener hears the group: a lookup of our own, sent the way Chrome would send one.
        probe_name = f"{uuid.uuid4()}.local".encode()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.sendto(b"\0" * 12 + probe_name, (MDNS_GROUP, MDNS_PORT))
        deadline = time.monotonic() + 5
        while not any(probe_name in datagram for datagram in heard) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert any(probe_name in datagram for datagram in heard), "the listener hears the mDNS group"

        with GuardProxy(parse_allow_hosts(f"{PUBLIC_IP}:{public.port}"), resolve=MapResolver({})) as guard:
            capture(CaptureRequest(f"{public.origin}/", [800]), CaptureSettings(proxy_server=guard.url))
    finally:
        listener.close()
        victim.close()

    label = name.split(".")[0].encode()
    assert [datagram for datagram in heard if label in datagram] == []


def test_the_guard_sees_no_host_but_the_pages_own(server_pair):
    public, _ = server_pair
    port = public.port
    public.routes.update({
        "/": (200, {"Content-Type": "text/html"}, (
            '<!doctype html><body style="margin:0"><h1 style="height:1200px">A page</h1>'
            f'<img src="http://cdn.test:{port}/logo.png" width=10 height=10>'
            f'<a href="http://public.test:{port}/next">next</a><form action="/search"><input name="q"></form>'
        )),
        "/logo.png": (200, {"Content-Type": "image/png"}, PNG),
    })
    resolver = MapResolver({"public.test": [PUBLIC_IP], "cdn.test": [PUBLIC_IP]})
    with GuardProxy(parse_allow_hosts(f"{PUBLIC_IP}:{port}"), resolve=resolver) as guard:
        with BrowserPool(CaptureSettings(proxy_server=guard.url)) as pool:
            for _ in range(3):
                pool.capture(CaptureRequest(f"http://public.test:{port}/", [375, 1024]),
                             explain_navigation_failure=guard.blocked_reason)

    # Every name the guard looked up, and every request it refused (update checks, sign-in, search
    # engines, safe browsing, translation would be refused here: this resolver knows no other name).
    assert set(resolver.calls) == {"public.test", "cdn.test"}
    assert guard.blocked_requests == []
    assert ("GET", "/logo.png", f"cdn.test:{port}") in public.requests


# ---------------------------------------------------------------------------------------------------------------
# https, where the guard sees only CONNECT tunnels, and a browser without its guard.


@pytest.fixture
def tls_server(tmp_path):
    """An https server on 127.0.0.1 (self-signed for 127.0.0.1 and 127.0.0.2) whose /go redirects to 127.0.0.2."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-keyout", tmp_path / "key.pem", "-out", tmp_path / "cert.pem",
                    "-addext", "subjectAltName=IP:127.0.0.1,IP:127.0.0.2"], check=True, capture_output=True)
    server = CountingServer(PUBLIC_IP)
    server.routes.update({
        "/": (200, {"Content-Type": "text/html"}, "<h1>over https</h1>"),
        "/go": (302, {"Location": f"https://{INTERNAL_IP}:{server.port}/secret"}, ""),
    })
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server.httpd.socket = context.wrap_socket(server.httpd.socket, server_side=True)
    server.start()
    yield server
    server.stop()


def test_a_blocked_https_redirect_fails_as_blocked(tls_server):
    port = tls_server.port
    with GuardProxy(parse_allow_hosts(f"{PUBLIC_IP}:{port}"), resolve=MapResolver({})) as guard:
        with Browser(CaptureSettings(proxy_server=guard.url, page_load_timeout=10, resources_timeout=2)) as browser:
            # The test's own certificate; the service's browsers keep checking certificates.
            browser._devtools.call("Security.setIgnoreCertificateErrors", {"ignore": True})
            origin = f"https://{PUBLIC_IP}:{port}"
            assert browser.capture(CaptureRequest(f"{origin}/", [800]), explain_navigation_failure=guard.blocked_reason)
            with pytest.raises(PermanentCaptureError) as info:
                browser.capture(CaptureRequest(f"{origin}/go", [800]), explain_navigation_failure=guard.blocked_reason)
    # The guard saw only a tunnel to 127.0.0.1 and then one to 127.0.0.2, which it refused.
    assert str(info.value) == f"Blocked: The address {INTERNAL_IP} is loopback and cannot be captured."
    assert guard.blocked_requests == [(f"{INTERNAL_IP}:{port}", str(info.value).removeprefix("Blocked: "))]


def test_a_page_whose_guard_is_bypassed_resolves_no_name(server_pair):
    """A browser context without the guard (as if its proxy were lost) may not look names up itself."""
    public, _ = server_pair
    name = socket.gethostname()
    assert PUBLIC_IP in {info[4][0] for info in socket.getaddrinfo(name, public.port)}  # the machine knows it
    with GuardProxy(parse_allow_hosts(f"{PUBLIC_IP}:{public.port}")) as guard:
        with Browser(CaptureSettings(proxy_server=guard.url)) as browser:
            devtools = browser._devtools
            context = devtools.call("Target.createBrowserContext", {"proxyServer": "direct://"})["browserContextId"]
            for url in (f"http://{name}:{public.port}/by-name", f"{public.origin}/by-address"):
                devtools.call("Target.createTarget", {"url": url, "browserContextId": context})
            deadline = time.monotonic() + 10
            while "/by-address" not in [path for _, path, _ in public.requests] and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1)  # as long again for the name, had it resolved
            devtools.call("Target.disposeBrowserContext", {"browserContextId": context})
    # The direct context reached the page by the guard's own address (excepted from the rules), not by name.
    assert "/by-address" in [path for _, path, _ in public.requests]
    assert {host for _, _, host in public.requests} == {f"{PUBLIC_IP}:{public.port}"}
    assert guard.blocked_requests == []
