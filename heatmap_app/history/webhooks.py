"""The outgoing "page changed" webhook: a JSON POST signed with HMAC-SHA256, sent only to a public address.

The URL goes through the same checks as a capture's, and the connection goes to exactly the address that was
checked (resolve once, check, connect), so a name that re-resolves to an internal address between the check
and the connection reaches nothing. Redirects are not followed.

Signature: `X-Heatmap-Signature: sha256=<hex HMAC of "<timestamp>.<body>">` with the heatmap's webhook secret,
and `X-Heatmap-Timestamp`, so a receiver can refuse replays.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import socket
import ssl
import time
from typing import Any
from urllib.parse import urlsplit

from heatmap_app.urlsafety import check_endpoint, split_url
from heatmap_app.urlsafety.core import host_to_str

SEND_TIMEOUT = 10  # seconds for connecting and for the answer
USER_AGENT = "heatmap-webhook/1"


class WebhookFailed(RuntimeError):
    """The receiver did not take the webhook (no connection, or not a 2xx): worth another try later."""


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class _PinnedConnection(http.client.HTTPSConnection):
    """An HTTP(S) connection to one checked address, speaking to it as the URL's host (Host header, TLS SNI and
    certificate check all use the name)."""

    def __init__(self, host: str, port: int, address: str, *, tls: bool) -> None:
        super().__init__(host, port, timeout=SEND_TIMEOUT, context=ssl.create_default_context())
        self._address = address
        self._tls = tls

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), timeout=self.timeout)
        if self._tls:
            self.sock = self._context.wrap_socket(self.sock, server_hostname=self.host)


def send_webhook(url: str, payload: dict[str, Any], secret: str, allow_hosts: frozenset[str]) -> int:
    """POST `payload` to `url`; the status it answered. UnsafeURLError when the URL may not be called (now),
    WebhookFailed when the receiver could not be reached or did not answer 2xx."""
    scheme, host, port = split_url(url.strip())
    address = str(check_endpoint(host, port, allow_hosts)[0])
    target = urlsplit(url.strip())
    path = (target.path or "/") + (f"?{target.query}" if target.query else "")
    body = json.dumps(payload, separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    connection = _PinnedConnection(host_to_str(host).strip("[]"), port, address, tls=scheme == "https")
    try:
        connection.request("POST", path, body=body, headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Heatmap-Timestamp": timestamp,
            "X-Heatmap-Signature": signature(secret, timestamp, body),
        })
        status = connection.getresponse().status
    except (OSError, http.client.HTTPException) as error:
        raise WebhookFailed(f"The webhook receiver could not be reached: {error.__class__.__name__}") from None
    finally:
        connection.close()
    if not 200 <= status < 300:
        raise WebhookFailed(f"The webhook receiver answered HTTP {status}.")
    return status

