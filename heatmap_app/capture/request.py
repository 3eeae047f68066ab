"""What one capture is asked to do: the page, the widths, and how to prepare the page before each shot."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class CaptureRequest:
    url: str
    widths: Sequence[int]
    """Shots are returned in this order; duplicates are dropped (kept as a tuple)."""
    block_consent_modals: bool = False
    """Click the common consent "accept" buttons and hide consent containers."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(dict.fromkeys(self.widths)))
