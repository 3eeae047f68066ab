"""Capture failures, worded for the marketer who asked for the screenshot."""


class CaptureError(Exception):
    """A capture failed; ``str(error)`` is the reason shown to the user."""

    permanent: bool = False


class PermanentCaptureError(CaptureError):
    """Trying again will not help: the URL or the page is at fault. A blocked URL, an HTTP 4xx/5xx answer, a
    redirect loop, a file download instead of a page, a page that holds the browser, a page too large."""

    permanent = True


class TransientCaptureError(CaptureError):
    """Worth another try: connection errors, timeouts, a browser that crashed."""

    permanent = False
