"""Capture a URL end to end with a browser of its own: what the worker and the `capture` CLI call."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .browser import Browser, ExplainNavigationFailure, Shot
from .request import CaptureRequest
from .settings import CaptureSettings


def capture(
    request: CaptureRequest,
    settings: CaptureSettings | None = None,
    *,
    on_shot: Callable[[Shot], None] | None = None,
    explain_navigation_failure: ExplainNavigationFailure | None = None,
) -> list[Shot]:
    """Start a browser, capture the request's page at every width, and close the browser whatever happens."""
    with Browser(settings) as browser:
        return browser.capture(
            request,
            on_shot=on_shot,
            explain_navigation_failure=explain_navigation_failure,
        )


def capture_to_directory(
    request: CaptureRequest,
    out_dir: str | os.PathLike[str],
    settings: CaptureSettings | None = None,
    *,
    explain_navigation_failure: ExplainNavigationFailure | None = None,
) -> dict[str, Any]:
    """Write `out_dir/<width>.jpg` for every width as it is captured; return a JSON-ready summary."""
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    shots = capture(
        request,
        settings,
        on_shot=lambda shot: write_atomically(directory / f"{shot.width}.jpg", shot.jpeg),
        explain_navigation_failure=explain_navigation_failure,
    )
    return {
        "url": request.url,
        "seconds": round(time.monotonic() - started, 2),
        "shots": [{"width": shot.width, "height": shot.height, "bytes": len(shot.jpeg)} for shot in shots],
    }


def write_atomically(path: Path, data: bytes) -> None:
    """Readers see the old file or the whole new one, never a half-written one, even after a crash."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
