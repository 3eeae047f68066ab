"""Screenshots uploaded from the user's own browser (PostHog's toolbar capture), made safe to store and serve.

Every image is decoded by Pillow within caps (bytes, width, height, pixels — checked from the header,
before any pixel is decoded, so a decompression bomb is refused unread) and re-encoded as a fresh JPEG:
nothing of the uploaded file but its pixels is kept (no EXIF, GPS, ICC profile, comments or trailing data).
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

# PostHog's caps (heatmaps_api.py).
MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_TOTAL_BYTES = 60 * 1024 * 1024
# An upload request: MAX_TOTAL_BYTES of images and room for the multipart framing around them.
MAX_REQUEST_BYTES = MAX_TOTAL_BYTES + 1024 * 1024
MAX_IMAGE_WIDTH = 4000
MAX_IMAGE_HEIGHT = 30000
MAX_IMAGE_PIXELS = 50_000_000
FORMATS = {"JPEG", "PNG", "WEBP"}
JPEG_QUALITY = 85


class UploadError(ValueError):
    """An upload that cannot become a screenshot; `code` is PostHog's error code for it."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def reencode_screenshot(data: bytes) -> bytes:
    """The uploaded image as a fresh JPEG of the same pixels; UploadError if it is not a safe image."""
    if len(data) > MAX_IMAGE_BYTES:
        raise UploadError("file_too_large", f"Each screenshot must be less than {MAX_IMAGE_BYTES // (1024 * 1024)}MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=sorted(FORMATS)) as image:
                width, height = image.size
                if width > MAX_IMAGE_WIDTH or height > MAX_IMAGE_HEIGHT or width * height > MAX_IMAGE_PIXELS:
                    raise UploadError("image_too_large", "Screenshot dimensions are too large to process")
                if getattr(image, "n_frames", 1) > 1:
                    raise UploadError("invalid_image", "Upload a still image, not an animation")
                image.load()
                pixels = _flattened(image)
    except UploadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own bomb check, when the header declares more pixels than it will ever decode.
        raise UploadError("image_too_large", "Screenshot dimensions are too large to process") from None
    except UnidentifiedImageError:
        raise UploadError("invalid_image", "Uploaded media must be a valid image") from None
    except (OSError, ValueError, SyntaxError):  # truncated or corrupt data, as Pillow reports it
        raise UploadError("invalid_image", "Uploaded media must be a valid image") from None
    # Pillow carries a file's comment, EXIF and ICC profile into the copies it makes, and writes them again.
    pixels.info.clear()
    output = io.BytesIO()
    pixels.save(output, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return output.getvalue()


def _flattened(image: Image.Image) -> Image.Image:
    """RGB pixels; transparency shown over white, as a page's background usually is."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")
