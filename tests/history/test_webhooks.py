"""The "page changed" webhook: signed so the receiver can trust it, sent only where a capture could go, and a
failing receiver is an error worth retrying."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from heatmap_app.history.webhooks import WebhookFailed, send_webhook
from heatmap_app.urlsafety import UnsafeURLError, parse_allow_hosts
from tests.support.site import Site

SECRET = "s3cret-of-this-heatmap"


def test_the_receiver_gets_the_json_signed_with_hmac_over_timestamp_and_body(site: Site) -> None:
    status = send_webhook(site.url("hook"), {"event": "heatmap.changed", "n": 1}, SECRET, parse_allow_hosts(site.host))

    assert status == 200
    (headers, body), = site.deliveries
    expected = hmac.new(SECRET.encode(), headers["x-heatmap-timestamp"].encode() + b"." + body, hashlib.sha256)
    assert headers["x-heatmap-signature"] == f"sha256={expected.hexdigest()}"
    assert headers["content-type"] == "application/json" and headers["host"] == site.host
    assert json.loads(body) == {"event": "heatmap.changed", "n": 1}


def test_a_receiver_that_fails_raises_for_a_later_try(site: Site) -> None:
    site.hook_statuses.append(503)

    with pytest.raises(WebhookFailed, match="HTTP 503"):
        send_webhook(site.url("hook"), {"event": "heatmap.changed"}, SECRET, parse_allow_hosts(site.host))


@pytest.mark.parametrize("path", ["hook", "status/200"])
def test_an_internal_address_is_refused_before_anything_is_sent(site: Site, path: str) -> None:
    with pytest.raises(UnsafeURLError):
        send_webhook(site.url(path), {"event": "heatmap.changed"}, SECRET, frozenset())

    assert site.requests == []


def test_a_receiver_that_is_gone_is_an_error_worth_retrying(site: Site) -> None:
    allow = parse_allow_hosts("127.0.0.1:9")  # discard port: nothing listens

    with pytest.raises(WebhookFailed, match="could not be reached"):
        send_webhook("http://127.0.0.1:9/hook", {"event": "heatmap.changed"}, SECRET, allow)
