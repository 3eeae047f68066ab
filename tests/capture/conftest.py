"""Fixtures of the capture-engine tests: a loopback web server for the fixture pages, one shared Chrome,
a recording proxy and a stand-in Selenium Grid."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.request import urlopen

import pytest

from heatmap_app.capture import Browser, CaptureSettings
from tests.capture.servers import ForwardingProxyHandler, PagesServer, RecordingProxy
from tests.support.site import Site, serve_site

PAGES = Path(__file__).resolve().parent.parent / "fixtures" / "pages"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture(scope="session")
def page_server() -> Iterator[Site]:
    """tests/fixtures/pages/ on loopback, with the misbehaving paths of tests.support.site."""
    with serve_site() as site:
        yield site


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chrome for the tests that only look at what a capture produces."""
    with Browser(CaptureSettings()) as shared:
        yield shared


@pytest.fixture
def recording_proxy() -> Iterator[RecordingProxy]:
    record = RecordingProxy(address="")
    handler = type("BoundProxyHandler", (ForwardingProxyHandler,), {"proxy_record": record})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    record.address = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield record
    server.shutdown()
    server.server_close()


@pytest.fixture
def remote_webdriver_url() -> Iterator[str]:
    """chromedriver on its own speaks the WebDriver protocol a Selenium Grid speaks: a Grid stand-in."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [CHROMEDRIVER, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while True:
        try:
            urlopen(f"{url}/status", timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    yield url
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@pytest.fixture
def pages() -> Iterator[PagesServer]:
    """Pages the test writes into `pages.pages`, on 127.0.0.1."""
    with PagesServer() as server:
        yield server


@pytest.fixture
def other_pages() -> Iterator[PagesServer]:
    """A second site, on 127.0.0.2: another origin, as another customer's would be."""
    with PagesServer("127.0.0.2") as server:
        yield server
