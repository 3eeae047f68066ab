"""Reading colours out of captured JPEGs."""

from __future__ import annotations

import io

from PIL import Image

from heatmap_app.capture import Shot

RED = (224, 0, 0)
GREEN = (0, 192, 0)
BLUE = (0, 0, 224)
WHITE = (255, 255, 255)
GREY = (128, 128, 128)
ORANGE = (255, 128, 0)
PURPLE = (128, 0, 255)
MAGENTA = (224, 0, 224)
CYAN = (0, 192, 224)


def image_of(shot: Shot) -> Image.Image:
    return Image.open(io.BytesIO(shot.jpeg)).convert("RGB")


def colour_at(shot: Shot, x: int, y: int) -> tuple[int, int, int]:
    return image_of(shot).getpixel((x, y))


def looks_like(actual: tuple[int, int, int], expected: tuple[int, int, int]) -> bool:
    """Equal but for JPEG noise."""
    return all(abs(a - e) <= 40 for a, e in zip(actual, expected))
