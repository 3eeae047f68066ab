"""The capture engine: full-page JPEG screenshots of a URL at several viewport widths in headless Chrome.

Plain Python (no Flask): the RQ worker, the `capture` CLI command and the benchmark all use it.
"""

from .browser import Browser, Shot
from .errors import CaptureError, PermanentCaptureError, TransientCaptureError
from .pool import BrowserPool
from .request import CaptureRequest
from .run import capture, capture_to_directory
from .settings import CaptureSettings

__all__ = [
    "Browser",
    "BrowserPool",
    "CaptureError",
    "CaptureRequest",
    "CaptureSettings",
    "PermanentCaptureError",
    "Shot",
    "TransientCaptureError",
    "capture",
    "capture_to_directory",
]
