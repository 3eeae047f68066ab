"""A warm browser kept by one worker across jobs: measured faster than a cold start per job (bench/README.md)."""

from __future__ import annotations

from collections.abc import Callable

from .browser import Browser, ExplainNavigationFailure, Shot
from .request import CaptureRequest
from .settings import CaptureSettings


class BrowserPool:
    """Lends one Browser to successive captures; replaces it after `max_jobs` captures or any error.

    Not thread-safe: one pool per worker process. close() ends the browser it holds.
    """

    def __init__(self, settings: CaptureSettings | None = None, *, max_jobs: int = 20) -> None:
        self.settings = settings or CaptureSettings()
        self.max_jobs = max_jobs
        self._browser: Browser | None = None
        self._jobs_done = 0

    @property
    def warm(self) -> bool:
        """Whether a browser is kept for the next capture (False after a recycle)."""
        return self._browser is not None

    @property
    def process_group_id(self) -> int | None:
        """Process group of the warm browser, for a supervisor that must kill it (see Browser)."""
        return self._browser.process_group_id if self._browser else None

    def capture(
        self,
        request: CaptureRequest,
        *,
        on_shot: Callable[[Shot], None] | None = None,
        explain_navigation_failure: ExplainNavigationFailure | None = None,
    ) -> list[Shot]:
        if self._browser is None:
            self._browser = Browser(self.settings)
            self._jobs_done = 0
        try:
            shots = self._browser.capture(
                request,
                on_shot=on_shot,
                explain_navigation_failure=explain_navigation_failure,
            )
        except BaseException:
            # Whatever failed may have left the browser stuck on a navigation or broken.
            self.close()
            raise
        self._jobs_done += 1
        if self._jobs_done >= self.max_jobs:
            self.close()
        return shots

    def close(self) -> None:
        browser, self._browser = self._browser, None
        if browser is not None:
            browser.close()

    def __enter__(self) -> BrowserPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
