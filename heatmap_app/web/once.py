"""A secret shown once after a redirect: kept in Redis for a few minutes under a random id, taken on first read.

So a page that creates a key or an invitation answers with redirect-after-POST (a reload creates nothing) and
still shows the secret exactly once, without ever putting it in the (client-side) session cookie.
"""

from __future__ import annotations

import secrets

from heatmap_app.queue import redis_connection

TTL_SECONDS = 300
PREFIX = "heatmaps:shown-once:"


def stash(secret: str) -> str:
    ticket = secrets.token_urlsafe(16)
    redis_connection().set(PREFIX + ticket, secret, ex=TTL_SECONDS)
    return ticket


def take(ticket: str | None) -> str | None:
    if not ticket or len(ticket) > 64:
        return None
    value = redis_connection().getdel(PREFIX + ticket)
    return value.decode() if isinstance(value, bytes) else value
