"""What one capture is asked to do: the page, the widths, and how to prepare the page before each shot.

Header values, cookie values and the basic-auth password are secrets: they are kept out of repr() (so out
of tracebacks and logs) and sent only to the page's own origin (see credentials.py).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

DEFAULT_WIDTHS = [320, 375, 425, 768, 1024, 1440, 1920]
MIN_WIDTH = 100
MAX_WIDTH = 3000
MAX_WIDTHS = 16
MAX_WAIT_SECONDS = 15.0
"""Waiting for `wait_for_selector` and `delay_seconds` together never take longer than this."""
DEVICE_SCALE_FACTORS = (1, 2)


def clean_widths(widths: Iterable[int]) -> list[int]:
    """The widths a capture takes: sorted, without duplicates; ValueError unless 1 to MAX_WIDTHS of them, each
    MIN_WIDTH to MAX_WIDTH."""
    cleaned = sorted(set(widths))
    if any(not MIN_WIDTH <= width <= MAX_WIDTH for width in cleaned):
        raise ValueError(f"Every width must be between {MIN_WIDTH} and {MAX_WIDTH} pixels.")
    if not cleaned:
        raise ValueError("Give at least one width.")
    if len(cleaned) > MAX_WIDTHS:
        raise ValueError(f"Give at most {MAX_WIDTHS} different widths.")
    return cleaned


@dataclass(frozen=True)
class Cookie:
    name: str
    value: str = field(repr=False)
    domain: str | None = None
    """None: a host-only cookie of the page's host. Else the page's host or a parent domain of it."""
    path: str = "/"


@dataclass(frozen=True)
class CaptureRequest:
    url: str
    widths: Sequence[int]
    """Shots are returned in this order; duplicates are dropped (kept as a tuple)."""
    block_consent_modals: bool = False
    """Click the common consent "accept" buttons and hide consent containers."""
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    """(name, value) pairs added to every request to the page's origin, and to no other."""
    cookies: tuple[Cookie, ...] = field(default=(), repr=False)
    basic_auth: tuple[str, str] | None = field(default=None, repr=False)
    """(username, password), sent as an `Authorization: Basic` header to the page's origin only."""
    wait_for_selector: str | None = None
    """Before the first shot, wait (at most MAX_WAIT_SECONDS - delay_seconds) until this CSS selector matches."""
    delay_seconds: float = 0.0
    """Extra wait before the first shot, after the page loaded (and the selector appeared)."""
    hide_selectors: tuple[str, ...] = ()
    """Elements matching these CSS selectors are hidden (display: none) before every width's shot."""
    device_scale_factor: int = 1
    """2 for a retina capture: the JPEG has twice the CSS width and height in pixels."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(dict.fromkeys(self.widths)))
        object.__setattr__(self, "hide_selectors", tuple(self.hide_selectors))
        if self.device_scale_factor not in DEVICE_SCALE_FACTORS:
            raise ValueError(f"device_scale_factor must be one of {DEVICE_SCALE_FACTORS}")
        if not 0 <= self.delay_seconds <= MAX_WAIT_SECONDS:
            raise ValueError(f"delay_seconds must be between 0 and {MAX_WAIT_SECONDS:g}")

    @property
    def origin(self) -> str:
        return origin_of(self.url)

    def origin_headers(self) -> list[tuple[str, str]]:
        """Every header the page's origin receives from us, basic credentials included."""
        headers = list(self.headers)
        if self.basic_auth is not None:
            username, password = self.basic_auth
            token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
            headers.append(("Authorization", f"Basic {token}"))
        return headers


def origin_of(url: str) -> str:
    """scheme://host[:port] with the default port left out, lower-cased, as browsers compare origins."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != default else "")
