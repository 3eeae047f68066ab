"""The server-rendered PNG: heat where the points are, bands by the share that scrolled that far, the fold line."""

from __future__ import annotations

from datetime import date
from typing import Any

from heatmap_app.interactions.render import CAPTION_HEIGHT, render_png
from heatmap_app.interactions.schemas import FoldSummary, HeatmapPoint, OverlayData, ScrollDepthBucket
from tests.interactions.conftest import SHOT_COLOUR, distance, jpeg, png_pixels


def overlay(**fields: Any) -> OverlayData:
    values: dict[str, Any] = {
        "type": "click", "aggregation": "total_count", "snapshot_width": 800, "snapshot_height": 1200,
        "viewport_width_min": 720, "viewport_width_max": 880, "date_from": date(2026, 11, 1),
        "date_to": date(2026, 11, 7), "data_url": "https://shop.example/", "points": [], "scroll_depth": [],
        "fold": FoldSummary.of(0, 0, None), "total": 0, "max_count": 0, **fields,
    }
    return OverlayData(**values)


def screenshot() -> bytes:
    return jpeg(800, 1200)


def test_the_hottest_point_is_red_a_cooler_one_blue_and_the_rest_untouched() -> None:
    data = overlay(points=[HeatmapPoint(pointer_target_fixed=False, pointer_relative_x=0.25, pointer_y=300, count=10),
                           HeatmapPoint(pointer_target_fixed=True, pointer_relative_x=0.75, pointer_y=48, count=1)],
                   total=11, max_count=10)

    picture = png_pixels(render_png(screenshot(), data, opacity=1.0))

    assert picture.size == (800, 1200 + CAPTION_HEIGHT)
    red, green, blue = picture.getpixel((200, 300))
    assert red > 240 and green < 30 and blue < 30
    red, green, blue = picture.getpixel((600, 48))
    assert blue > red + 20 and blue > green + 20  # 1 of 10: faint, at the cold end of the gradient
    assert distance(picture.getpixel((200, 330))) > 0  # the blur reaches past the 25 px disc
    for far in ((200, 360), (400, 600), (799, 1199)):
        assert distance(picture.getpixel(far)) < 6


def test_opacity_lets_the_screenshot_through() -> None:
    data = overlay(points=[HeatmapPoint(pointer_target_fixed=False, pointer_relative_x=0.5, pointer_y=500, count=1)],
                   total=1, max_count=1)

    strong = png_pixels(render_png(screenshot(), data, opacity=1.0)).getpixel((400, 500))
    faint = png_pixels(render_png(screenshot(), data, opacity=0.2)).getpixel((400, 500))

    assert distance(strong) > 3 * distance(faint) > 0


def test_scroll_bands_are_hot_where_everyone_got_and_cold_past_the_deepest() -> None:
    data = overlay(type="scrolldepth", total=4, max_count=3, fold=FoldSummary.of(4, 0, 600), scroll_depth=[
        ScrollDepthBucket(scroll_depth_bucket=600, bucket_count=3, cumulative_count=4),
        ScrollDepthBucket(scroll_depth_bucket=900, bucket_count=1, cumulative_count=1),
    ])

    picture = png_pixels(render_png(screenshot(), data, opacity=1.0))

    everyone, a_quarter, nobody = (picture.getpixel((700, y)) for y in (350, 850, 1150))
    assert everyone[0] > everyone[2]  # red-ish: 100 % reached
    assert a_quarter[2] > a_quarter[0]  # blue-ish: 25 %
    assert max(nobody) < min(SHOT_COLOUR)  # darkened: nobody scrolled this far
    # The fold line at the median screen height, across the page.
    assert any(distance(picture.getpixel((x, 600)), everyone) > 60 for x in range(0, 200, 4))


def test_the_caption_strip_says_what_is_shown() -> None:
    picture = png_pixels(render_png(screenshot(), overlay(), opacity=0.7))
    strip = picture.crop((0, 1200, 800, 1200 + CAPTION_HEIGHT))
    assert len(strip.getcolors(maxcolors=100_000) or ()) > 10  # text on the dark strip
    assert distance(picture.getpixel((400, 600)), SHOT_COLOUR) < 6  # nothing painted without data


def test_a_retina_screenshot_is_painted_at_its_css_size_with_the_points_where_they_belong(tmp_path: Path) -> None:
    retina = tmp_path / "retina.jpg"
    retina.write_bytes(jpeg(1600, 2400))  # the 800 × 1200 CSS px page at device scale factor 2
    data = overlay(points=[HeatmapPoint(pointer_target_fixed=False, pointer_relative_x=0.25, pointer_y=300, count=10)],
                   total=10, max_count=10)

    picture = png_pixels(render_png(retina.read_bytes(), data, opacity=1.0))

    assert picture.size == (800, 1200 + CAPTION_HEIGHT)
    red, green, blue = picture.getpixel((200, 300))
    assert red > 240 and green < 30 and blue < 30
    assert distance(picture.getpixel((400, 600))) < 6
