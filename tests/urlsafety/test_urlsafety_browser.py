"""A real headless Chromium, through the real capture engine, behind the GuardProxy.

Two loopback servers on the same port: "public" on 127.0.0.1:P (allowed by CAPTURE_ALLOW_HOSTS)
and "internal" on 127.0.0.2:P (not allowed) which counts every request and connection it gets.
Nothing here leaves 127.0.0.0/8: names are answered by an injected resolver.
"""

from __future__ import annotations

import shutil

import pytest

from heatmap_app.capture import CaptureSettings, PermanentCaptureError, capture
from heatmap_app.urlsafety import GuardProxy, parse_allow_hosts
from tests.urlsafety.helpers import INTERNAL_IP, PUBLIC_IP, MapResolver

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
    shots = capture(f"{public.origin}/", [800], settings, explain_navigation_failure=guard.blocked_reason)
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
        capture(f"{internal.origin}/", [800], settings, explain_navigation_failure=guard.blocked_reason)
    assert "Blocked" in str(info.value) and "127.0.0.2 is loopback" in str(info.value)
    # a redirect of the main navigation to an internal address fails the capture the same way
    with pytest.raises(PermanentCaptureError) as info:
        capture(f"{public.origin}/redirect-internal", [800], settings, explain_navigation_failure=guard.blocked_reason)
    assert "Blocked" in str(info.value) and "loopback" in str(info.value)
    assert internal.requests == [] and internal.connections == 0


def test_a_page_refreshing_itself_to_an_internal_address_fails_and_reaches_nothing(world):
    guard, public, internal, _, settings = world
    with pytest.raises(PermanentCaptureError) as info:
        capture(f"{public.origin}/meta-refresh", [800], settings, explain_navigation_failure=guard.blocked_reason)
    assert "Blocked" in str(info.value) and "loopback" in str(info.value)  # not a screenshot of the refusal
    assert internal.requests == [] and internal.connections == 0


def test_dns_rebinding_reaches_nothing_internal(world):
    guard, public, internal, resolver, settings = world
    port = public.port
    shots = capture(f"http://rebind.test:{port}/rebind", [800], settings,
                    explain_navigation_failure=guard.blocked_reason)
    assert len(shots) == 1
    # the main document was checked against the first (public) answer and fetched from exactly it
    assert ("GET", "/rebind", f"rebind.test:{port}") in public.requests
    # later lookups answered internal: each sub-request was re-checked and refused, not connected
    assert resolver.calls["rebind.test"] >= 2
    assert any(t.startswith(f"http://rebind.test:{port}/") for t, _ in guard.blocked_requests)
    assert internal.requests == [] and internal.connections == 0
