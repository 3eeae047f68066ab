"""The overlay painted on the server: a screenshot with its heat layer (or scroll-depth bands) as a PNG.

The heat layer follows simpleheat, the library the detail page draws with: each point stamps a blurred
disc whose opacity is its count over the hottest count (at least MIN_OPACITY), the stamps add up as
canvas "source-over" does (the screen blend of their alphas), and the summed alpha picks the colour from
the blue–cyan–lime–yellow–red gradient. A strip under the picture says what it shows.
"""

from __future__ import annotations

import io
from functools import lru_cache

from flask import Response
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

from heatmap_app.interactions.schemas import HeatmapPoint, OverlayData, OverlayQuery, ScrollDepthBucket
from heatmap_app.models import HeatmapSnapshot, SavedHeatmap

RADIUS = 25
BLUR = 15
MIN_OPACITY = 0.05
LEVELS = 64  # distinct stamp opacities
GRADIENT = ((0.4, (0, 0, 255)), (0.6, (0, 255, 255)), (0.7, (0, 255, 0)), (0.8, (255, 255, 0)), (1.0, (255, 0, 0)))
FOLD_COLOUR = (255, 255, 255, 255)
CAPTION_HEIGHT = 36
TYPE_LABELS = {"click": "Clicks", "rageclick": "Rage clicks", "deadclick": "Dead clicks",
               "mousemove": "Mouse moves", "scrolldepth": "Scroll depth"}


@lru_cache(maxsize=1)
def palette() -> tuple[tuple[int, int, int], ...]:
    """256 colours: the gradient sampled as a 256 px canvas linear gradient is."""
    colours = []
    for index in range(256):
        position = index / 255
        lower = max((stop for stop in GRADIENT if stop[0] <= position), default=GRADIENT[0])
        upper = min((stop for stop in GRADIENT if stop[0] >= position), default=GRADIENT[-1])
        span = upper[0] - lower[0]
        share = 0.0 if span == 0 else (position - lower[0]) / span
        colours.append(tuple(round(a + (b - a) * share) for a, b in zip(lower[1], upper[1], strict=True)))
    return tuple(colours)  # type: ignore[arg-type]


@lru_cache(maxsize=1)
def stamps() -> tuple[Image.Image, ...]:
    """The blurred disc at each of LEVELS opacities (index LEVELS - 1 is fully opaque)."""
    size = 2 * (RADIUS + BLUR)
    disc = Image.new("L", (size, size), 0)
    ImageDraw.Draw(disc).ellipse((BLUR, BLUR, size - BLUR, size - BLUR), fill=255)
    disc = disc.filter(ImageFilter.GaussianBlur(BLUR / 2))
    return tuple(disc.point(lambda value, level=level: round(value * (level + 1) / LEVELS)) for level in range(LEVELS))


def heat_alpha(size: tuple[int, int], points: list[HeatmapPoint], max_count: int) -> Image.Image:
    """The grey heat layer: every point's stamp screen-blended in, as source-over alpha accumulates."""
    width, height = size
    alpha = Image.new("L", size, 0)
    half = RADIUS + BLUR
    for point in points:
        x, y = round(point.pointer_relative_x * width), point.pointer_y
        if not (-half < x < width + half and -half < y < height + half):
            continue
        strength = max(point.count / max_count, MIN_OPACITY) if max_count else MIN_OPACITY
        stamp = stamps()[min(LEVELS - 1, max(0, round(strength * LEVELS) - 1))]
        box = (x - half, y - half, x + half, y + half)
        alpha.paste(ImageChops.screen(alpha.crop(box), stamp), box)
    return alpha


def colourise(alpha: Image.Image, opacity: float) -> Image.Image:
    """RGBA from the grey layer: colour by the gradient, opacity scaled as the page's opacity control does."""
    colours = palette()
    red, green, blue = (alpha.point([colour[channel] for colour in colours]) for channel in range(3))
    return Image.merge("RGBA", (red, green, blue, alpha.point(lambda value: round(value * opacity))))


def band_colour(share: float) -> tuple[int, int, int]:
    """A scroll band's colour: the gradient from blue (few reached it) to red (all did); black where none did."""
    return palette()[round((0.4 + 0.6 * share) * 255)] if share > 0 else (0, 0, 0)


def scroll_bands(size: tuple[int, int], buckets: list[ScrollDepthBucket], opacity: float) -> Image.Image:
    """Each 100 px band coloured by the share of visits that reached it, with that share written on it."""
    width, height = size
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    if not buckets:
        return layer
    draw = ImageDraw.Draw(layer)
    font = ImageFont.load_default(size=13)
    total = buckets[0].cumulative_count
    for top in range(0, height, 100):
        # A visit whose deepest bucket starts at or below this band's top has seen the band.
        share = next((bucket.cumulative_count for bucket in buckets if bucket.scroll_depth_bucket >= top), 0) / total
        draw.rectangle((0, top, width, min(top + 100, height)), fill=(*band_colour(share), round(255 * opacity * 0.55)))
        draw.text((8, top + 6), f"{round(share * 100)}% reached {top:,} px", font=font, fill=(0, 0, 0, 255),
                  stroke_width=2, stroke_fill=(255, 255, 255, 255))
    return layer


def draw_fold(layer: Image.Image, fold_y: int | None) -> None:
    if fold_y is None or not 0 < fold_y < layer.height:
        return
    draw = ImageDraw.Draw(layer)
    for left in range(0, layer.width, 16):
        draw.line((left, fold_y, left + 9, fold_y), fill=FOLD_COLOUR, width=3)
        draw.line((left, fold_y + 2, left + 9, fold_y + 2), fill=(0, 0, 0, 255), width=1)
    draw.text((layer.width - 8, fold_y - 4), f"Fold · {fold_y:,} px (median screen height)", anchor="rb",
              font=ImageFont.load_default(size=13), fill=(0, 0, 0, 255), stroke_width=2,
              stroke_fill=(255, 255, 255, 255))


def caption(data: OverlayData) -> str:
    counted = "visitors" if data.aggregation == "unique_visitors" else "interactions"
    if data.type == "scrolldepth":
        counted = "visits" if data.aggregation == "total_count" else "visitors"
    below = f" · {data.fold.pct_below_fold:g}% below the fold" if data.type != "scrolldepth" else ""
    # Plain hyphens and "to": the bundled font has no en dash.
    return (f"{TYPE_LABELS[data.type]} · {data.data_url} · {data.date_from:%-d %b %Y} to {data.date_to:%-d %b %Y} · "
            f"viewports {data.viewport_width_min}-{data.viewport_width_max} px · {data.total:,} {counted}{below}")


def render_png(screenshot: bytes, data: OverlayData, opacity: float) -> bytes:
    """The screenshot (JPEG bytes) with the overlay painted on it, and a caption strip below, as PNG bytes."""
    with Image.open(io.BytesIO(screenshot)) as image:
        base = image.convert("RGBA")
    # Points are in CSS px: a retina screenshot is painted at its CSS size.
    css_size = (data.snapshot_width, data.snapshot_height)
    if base.size != css_size:
        base = base.resize(css_size, Image.Resampling.LANCZOS)
    if data.type == "scrolldepth":
        layer = scroll_bands(base.size, data.scroll_depth, opacity)
    else:
        layer = colourise(heat_alpha(base.size, data.points, data.max_count), opacity)
    draw_fold(layer, data.fold.median_viewport_height)
    painted = Image.alpha_composite(base, layer).convert("RGB")
    framed = Image.new("RGB", (painted.width, painted.height + CAPTION_HEIGHT), (22, 27, 46))
    framed.paste(painted, (0, 0))
    ImageDraw.Draw(framed).text((10, painted.height + CAPTION_HEIGHT // 2), caption(data), anchor="lm",
                                font=ImageFont.load_default(size=14), fill=(255, 255, 255))
    output = io.BytesIO()
    framed.save(output, format="PNG", optimize=False, compress_level=6)
    return output.getvalue()


def png_response(heatmap: SavedHeatmap, snapshot: HeatmapSnapshot, png: bytes, query: OverlayQuery) -> Response:
    """The PNG as a download named after the heatmap, the width and the type painted."""
    response = Response(png, mimetype="image/png")
    filename = f"heatmap-{heatmap.short_id}-{snapshot.width}-{query.type}-{query.date_from}-{query.date_to}.png"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, max-age=30"
    return response
