"""The admin's queue page in a real Chromium: a failed capture listed with its error, retried with the button,
then captured by the worker; invisible to anyone who is not the admin."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from flask import Flask
from flask.testing import FlaskClient
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from heatmap_app import heatmaps
from heatmap_app.models import User
from tests.support.workers import reload
from tests.web.browser import BurstWorker
from tests.web.conftest import PAGES, LiveServer
from tests.web.test_browser import element, log_in

pytestmark = pytest.mark.browser


@pytest.fixture
def held_port() -> Iterator[socket.socket]:
    """A loopback port bound but not listening (connections refused) until the test serves pages on it."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield held


def serve_pages_on(held: socket.socket) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(held.getsockname(), partial(SimpleHTTPRequestHandler, directory=str(PAGES)),
                                 bind_and_activate=False)
    server.socket = held
    server.server_activate()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def app_config(held_port: socket.socket) -> dict[str, object]:
    host, port = held_port.getsockname()
    return {"CAPTURE_ALLOW_HOSTS": f"{host}:{port}", "CAPTURE_RETRY_DELAYS": []}  # one try: it fails at once


def test_the_admin_sees_a_failed_capture_retries_it_and_the_worker_captures_it(
    app: Flask, browser: WebDriver, live_server: LiveServer, user: User, held_port: socket.socket,
    worker: BurstWorker,
) -> None:
    assert user.is_staff  # the install's first account
    host, port = held_port.getsockname()
    heatmap = heatmaps.create_heatmap(user.current_project, user,
                                      {"url": f"http://{host}:{port}/landing.html", "widths": [1024]})
    worker.start()
    worker.finish()
    assert reload(heatmap.id).status == "failed"

    log_in(browser, live_server, user)
    browser.find_element(By.LINK_TEXT, "Queue").click()
    row = element(browser, f"#failed-{heatmap_job(heatmap)}")
    assert heatmap.id in row.text and "could not be reached" in row.text
    assert "Nothing is waiting" in browser.find_element(By.ID, "waiting-title").find_element(By.XPATH, "../..").text

    row.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    element(browser, ".flash")
    assert "queued again" in browser.find_element(By.CSS_SELECTOR, ".flash").text
    assert browser.find_element(By.ID, "queue-depth").text.startswith("1 job")
    assert heatmap_job(heatmap) in browser.find_element(By.ID, "waiting-jobs").text
    assert reload(heatmap.id).status == "processing"

    server = serve_pages_on(held_port)
    try:
        worker.start()
        worker.finish()
    finally:
        server.shutdown()
    done = reload(heatmap.id)
    assert done.status == "completed" and [snapshot.width for snapshot in done.snapshots] == [1024]
    browser.refresh()
    assert "No job failed lately" in element(browser, "#failures-title").find_element(By.XPATH, "../..").text


def heatmap_job(heatmap) -> str:
    return f"capture-{heatmap.id}-{heatmap.capture_generation}"


def test_the_queue_page_is_not_there_for_others(client: FlaskClient, auth, user: User, other_user: User) -> None:
    auth.login(other_user.email)
    assert not other_user.is_staff
    assert client.get("/admin/queue").status_code == 404
    assert client.post("/admin/queue/failed/anything/retry",
                       data={"csrf_token": auth.csrf_token("/home")}).status_code == 404
    auth.logout()
    assert client.get("/admin/queue").status_code == 302  # to the login page
