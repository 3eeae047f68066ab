"""Small guards the web views share."""

from __future__ import annotations

from urllib.parse import urlsplit


def same_site_path(target: str | None, *, fallback: str) -> str:
    """`target` if it is a path on this site, else `fallback`, so ?next= cannot send people elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return fallback
    if urlsplit(target).netloc:
        return fallback
    return target
