"""What this process resolved for the API at most API_KEY_CACHE_SECONDS ago (a key's identity, a project it
reaches, the snapshot a completed heatmap serves), so a client polling or fetching images does not ask the
database the same questions many times a second. A bounded dict per kind, per app; 0 seconds turns it off."""

from __future__ import annotations

import time
from collections.abc import Hashable
from typing import Any

from flask import current_app

ENTRY_LIMIT = 4096  # entries per kind; past it the kind starts over


def _entries(kind: str) -> dict[Hashable, tuple[float, Any]]:
    return current_app.extensions.setdefault(f"heatmap_recent_{kind}", {})


def enabled() -> bool:
    return current_app.config["API_KEY_CACHE_SECONDS"] > 0


def recall(kind: str, key: Hashable) -> Any | None:
    entry = _entries(kind).get(key) if enabled() else None
    if entry is None or entry[0] <= time.monotonic():
        return None
    return entry[1]


def remember(kind: str, key: Hashable, value: Any) -> None:
    if not enabled():
        return
    entries = _entries(kind)
    if len(entries) >= ENTRY_LIMIT:
        entries.clear()
    entries[key] = (time.monotonic() + current_app.config["API_KEY_CACHE_SECONDS"], value)


def forget(kind: str, key: Hashable) -> None:
    _entries(kind).pop(key, None)
