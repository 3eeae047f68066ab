"""How much a page changed between two screenshots of it: a share of the page and a picture of where.

Plain Pillow, no Flask. JPEG noise must not count as change, so pixels are compared in cells (CELL_PIXELS
square, at the decoded scale) whose mean difference must pass TOLERANCE; the shorter page is treated as
changed below its end. Both JPEGs are decoded at a reduced scale (JPEG's own DCT scaling), which is what keeps
two 1920 × 16,000 captures within a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from PIL import Image, ImageChops

# Decoding at 1/4 is enough to measure, 1/2 to show where: a 1920 px page's highlight is 960 px wide.
# The later page is decoded at both scales for the picture.
MEASURE_SCALE = 4
PICTURE_SCALE = 2
CELL_PIXELS = 4  # at the decoded scale: 16 screen px when measuring, like the heatmap data's buckets
TOLERANCE = 24  # mean absolute difference (0-255, luminance) a cell must exceed to count as changed
HIGHLIGHT = (230, 30, 60)
PICTURE_JPEG_QUALITY = 80

ImageSource = bytes | Path


@dataclass(frozen=True)
class ScreenshotDiff:
    changed_share: float  # share of the taller page's area whose cells changed, 0.0-1.0
    height_before: int  # page pixels, at full scale
    height_after: int

    @property
    def height_change(self) -> int:
        return self.height_after - self.height_before


def _decode(source: ImageSource, scale: int) -> tuple[Image.Image, tuple[int, int]]:
    """The image decoded at about 1/scale, in RGB, and its full-scale size."""
    image = Image.open(BytesIO(source) if isinstance(source, bytes) else source)
    full_size = image.size
    image.draft("RGB", (max(1, full_size[0] // scale), max(1, full_size[1] // scale)))
    image = image.convert("RGB")
    if image.size[0] > full_size[0] // scale + 1:  # not a JPEG, or draft could not scale that far
        image = image.reduce(max(1, round(image.size[0] / max(1, full_size[0] // scale))))
    return image, full_size


def _on_canvas(image: Image.Image, size: tuple[int, int], fill: int | tuple[int, int, int] = (0, 0, 0)) -> Image.Image:
    if image.size == size:
        return image
    canvas = Image.new(image.mode, size, fill)
    canvas.paste(image, (0, 0))
    return canvas


def _changed_cells(before: Image.Image, after: Image.Image, *, beyond: tuple[int, int]) -> Image.Image:
    """A mask with one pixel per cell, 255 where the cell changed. Rows below `beyond` (the shorter page's
    height, width) count as changed whatever they hold."""
    size = (max(before.width, after.width), max(before.height, after.height))
    difference = ImageChops.difference(_on_canvas(before, size), _on_canvas(after, size)).convert("L")
    cells = difference.reduce(CELL_PIXELS).point(lambda value: 255 if value > TOLERANCE else 0)
    shorter_width, shorter_height = beyond
    if shorter_height < size[1] or shorter_width < size[0]:
        cells.paste(255, (0, shorter_height // CELL_PIXELS, cells.width, cells.height))
        cells.paste(255, (shorter_width // CELL_PIXELS, 0, cells.width, cells.height))
    return cells


def _share(cells: Image.Image) -> float:
    changed = cells.histogram()[255]
    return changed / (cells.width * cells.height) if cells.width and cells.height else 0.0


def _compare(before: ImageSource, after: ImageSource) -> tuple[ScreenshotDiff, Image.Image]:
    """The figure and the changed-cells mask, at MEASURE_SCALE."""
    before_image, before_size = _decode(before, MEASURE_SCALE)
    after_image, after_size = _decode(after, MEASURE_SCALE)
    shorter = (min(before_image.width, after_image.width), min(before_image.height, after_image.height))
    cells = _changed_cells(before_image, after_image, beyond=shorter)
    figure = ScreenshotDiff(changed_share=_share(cells), height_before=before_size[1], height_after=after_size[1])
    return figure, cells


def measure_change(before: ImageSource, after: ImageSource) -> ScreenshotDiff:
    """How much changed from `before` to `after` (JPEG bytes or files)."""
    return _compare(before, after)[0]


def picture_change(before: ImageSource, after: ImageSource) -> tuple[ScreenshotDiff, bytes]:
    """The figure, and a JPEG of the later page (greyed, at half scale) with its changed cells highlighted.

    The cells are measured as by measure_change; only the later page is decoded again, at the picture's scale."""
    figure, cells = _compare(before, after)
    after_image, _size = _decode(after, PICTURE_SCALE)
    size = after_image.size
    page = after_image.convert("L").point(lambda value: 128 + value // 2).convert("RGB")
    cell = CELL_PIXELS * MEASURE_SCALE // PICTURE_SCALE  # a cell's side at the picture's scale
    cells = cells.resize((cells.width * cell, cells.height * cell), Image.Resampling.NEAREST)
    mask = _on_canvas(cells.point(lambda value: 150 if value else 0), size, fill=0).crop((0, 0, *size))
    picture = Image.composite(Image.new("RGB", size, HIGHLIGHT), page, mask)
    output = BytesIO()
    picture.save(output, "JPEG", quality=PICTURE_JPEG_QUALITY)
    return figure, output.getvalue()
