"""How long comparing two captures takes: two 1920 × 16,000 px JPEGs of a busy page, the second with a changed
band, compared the way the worker compares a run with the one before it (the figure alone) and the way the
compare page and the API draw the highlight (figure and picture).

    .venv/bin/python bench/diff.py            # --rounds 7

The pages are drawn here (thousands of coloured boxes and text-like stripes, saved at the capture quality), since
a real landing page is rarely 16,000 px tall at 1920 px; the cost depends on the pixel count and the JPEG size.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from io import BytesIO
from pathlib import Path

from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from heatmap_app.history.diff import measure_change, picture_change  # noqa: E402

WIDTH, HEIGHT = 1920, 16_000
JPEG_QUALITY = 70  # CAPTURE_JPEG_QUALITY's default


def busy_page(*, changed: bool) -> bytes:
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    rng = random.Random(16)
    for _ in range(6000):
        x, y = rng.randrange(WIDTH), rng.randrange(HEIGHT)
        draw.rectangle([x, y, x + rng.randrange(20, 400), y + rng.randrange(10, 120)],
                       fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    for y in range(0, HEIGHT, 24):  # lines of "text"
        draw.line([(160, y), (160 + rng.randrange(400, 1600), y)], fill=(40, 40, 40), width=3)
    if changed:
        draw.rectangle([0, 4000, WIDTH, 4800], fill=(192, 57, 43))
    output = BytesIO()
    image.save(output, "JPEG", quality=JPEG_QUALITY)
    return output.getvalue()


def timed(function, *args) -> tuple[float, object]:
    started = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    rounds = parser.parse_args().rounds
    before, after = busy_page(changed=False), busy_page(changed=True)
    print(f"two {WIDTH} x {HEIGHT} JPEGs, {len(before):,} and {len(after):,} bytes; {rounds} rounds")
    figures: list[float] = []
    pictures: list[float] = []
    for _ in range(rounds):  # interleaved, so both see the same machine
        seconds, figure = timed(measure_change, before, after)
        figures.append(seconds)
        seconds, (picture_figure, picture) = timed(picture_change, before, after)
        pictures.append(seconds)
    print(f"figure only (the worker's comparison):  median {statistics.median(figures):.3f} s, "
          f"max {max(figures):.3f} s; changed share {figure.changed_share:.4f} (the band is {800 / HEIGHT:.4f})")
    print(f"figure and picture (compare page, API): median {statistics.median(pictures):.3f} s, "
          f"max {max(pictures):.3f} s; picture {len(picture):,} bytes")


if __name__ == "__main__":
    main()
