"""Fixtures for the URL-safety tests (loopback only; see helpers.py)."""

from __future__ import annotations

import pytest

from tests.urlsafety.helpers import INTERNAL_IP, PUBLIC_IP, CountingServer, free_port_on_both


@pytest.fixture
def server_pair():
    """(public, internal) CountingServers on 127.0.0.1:P and 127.0.0.2:P."""
    port = free_port_on_both()
    public = CountingServer(PUBLIC_IP, port).start()
    internal = CountingServer(INTERNAL_IP, port).start()
    yield public, internal
    public.stop()
    internal.stop()
