"""How much a page changed between two screenshots: JPEG noise is no change, a changed band is, and the picture
shows where."""

from __future__ import annotations

import random
from io import BytesIO

from PIL import Image, ImageDraw

from heatmap_app.history.diff import HIGHLIGHT, measure_change, picture_change

WIDTH, HEIGHT = 1024, 3000


def page(*, band: tuple[int, int, int] | None = None, height: int = HEIGHT, quality: int = 80) -> bytes:
    """A busy page (many small coloured boxes in its first HEIGHT px, which JPEG blurs differently at each quality),
    optionally with a solid band from y=1000 to y=1600."""
    image = Image.new("RGB", (WIDTH, height), "white")
    draw = ImageDraw.Draw(image)
    rng = random.Random(7)
    for _ in range(1500):
        x, y = rng.randrange(WIDTH), rng.randrange(HEIGHT)
        draw.rectangle([x, y, x + rng.randrange(8, 200), y + rng.randrange(8, 60)],
                       fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    if band is not None:
        draw.rectangle([0, 1000, WIDTH - 1, 1599], fill=band)
    output = BytesIO()
    image.save(output, "JPEG", quality=quality)
    return output.getvalue()


def test_the_same_page_encoded_at_another_jpeg_quality_has_not_changed() -> None:
    figure = measure_change(page(quality=90), page(quality=55))

    assert figure.changed_share < 0.005
    assert figure.height_change == 0


def test_a_band_that_changed_counts_as_its_share_of_the_page() -> None:
    figure = measure_change(page(), page(band=(200, 30, 30)))

    assert abs(figure.changed_share - 600 / HEIGHT) < 0.02  # the band is a fifth of the page


def test_a_longer_page_counts_its_new_part_as_changed_and_says_how_much_taller() -> None:
    figure = measure_change(page(), page(height=HEIGHT + 1000))

    assert figure.height_change == 1000
    assert 0.2 < figure.changed_share < 0.3  # 1000 of 4000 px, the rest identical


def test_the_picture_highlights_the_changed_band_and_greys_the_rest() -> None:
    figure, jpeg = picture_change(page(), page(band=(30, 30, 200)))
    picture = Image.open(BytesIO(jpeg)).convert("RGB")

    def tinted(x: int, y: int) -> bool:  # page coordinates; the picture is at half scale
        red, green, _blue = picture.getpixel((x // 2, y // 2))
        return red - green > 60  # towards HIGHLIGHT, which no greyed pixel is

    assert picture.size == (WIDTH // 2, HEIGHT // 2)
    assert HIGHLIGHT[0] - HIGHLIGHT[1] > 60
    band = [tinted(x, y) for x in range(20, WIDTH, 50) for y in range(1020, 1600, 50)]
    outside = [tinted(x, y) for x in range(20, WIDTH, 50) for y in [*range(20, 980, 50), *range(1620, HEIGHT, 50)]]
    assert sum(band) / len(band) > 0.8  # where a box of the band's own colour stood, nothing changed
    assert not any(outside)
    assert abs(figure.changed_share - 600 / HEIGHT) < 0.05
