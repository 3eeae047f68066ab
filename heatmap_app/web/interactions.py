"""Heatmap data in the UI: the overlay data and PNG of a saved heatmap's detail page, and the install page."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, render_template, request
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from heatmap_app import heatmaps, storage
from heatmap_app.interactions.collect import last_contact
from heatmap_app.interactions.overlay import NoScreenshot, overlay_data
from heatmap_app.interactions.query import project_last_seen, recent_pages
from heatmap_app.interactions.render import png_response, render_png
from heatmap_app.interactions.schemas import InvalidQuery, OverlayQuery, validate_query
from heatmap_app.interactions.snippet import install_snippet
from heatmap_app.models import SavedHeatmap
from heatmap_app.web import web
from heatmap_app.web.projects import active_project

DATE_PRESETS = (("-24h", "Last 24 hours"), ("-7d", "Last 7 days"), ("-30d", "Last 30 days"),
                ("-90d", "Last 90 days"), ("custom", "Custom range"))
TYPE_CHOICES = (("click", "Clicks"), ("rageclick", "Rage clicks"), ("deadclick", "Dead clicks"),
                ("mousemove", "Mouse moves"), ("scrolldepth", "Scroll depth"))
AGGREGATIONS = (("total_count", "All interactions"), ("unique_visitors", "Unique visitors"))
TOLERANCES = (5, 10, 20, 50)


def overlay_values(args: dict[str, str]) -> dict[str, str]:
    """The detail page's control values in OverlayQuery's terms: "custom" takes the two date fields."""
    values = dict(args)
    if values.get("date_from") == "custom":
        values["date_from"] = values.pop("custom_from", "") or "-7d"
        values["date_to"] = values.pop("custom_to", "") or values["date_from"]
    return {name: value for name, value in values.items() if value != ""}


@web.app_template_global()
def overlay_controls() -> dict[str, Any]:
    """The overlay's controls as the page's query string sets them (kept across width tabs), with the choices."""
    chosen = {"type": "click", "date_from": "-7d", "aggregation": "total_count", "width_tolerance": "10",
              "opacity": "0.7", "custom_from": "", "custom_to": "", **request.args.to_dict()}
    if chosen["date_from"] not in dict(DATE_PRESETS):
        chosen["custom_from"], chosen["custom_to"] = chosen["date_from"], chosen.get("date_to", "")
        chosen["date_from"] = "custom"
    return {"chosen": chosen, "types": TYPE_CHOICES, "presets": DATE_PRESETS, "aggregations": AGGREGATIONS,
            "tolerances": TOLERANCES}


def _heatmap(short_id: str) -> SavedHeatmap:
    try:
        return heatmaps.get_heatmap(active_project(current_user), short_id)
    except heatmaps.HeatmapNotFound:
        abort(404, "This heatmap does not exist in your current project, or it was deleted.")


def _query() -> OverlayQuery:
    return validate_query(OverlayQuery, overlay_values(request.args.to_dict()))


@web.get("/heatmaps/<short_id>/overlay.json")
@login_required
def heatmap_overlay_data(short_id: str) -> Response | tuple[Response, int]:
    """What the detail page paints over the screenshot (static/js/overlay.js)."""
    heatmap = _heatmap(short_id)
    try:
        data, _ = overlay_data(heatmap, _query())
    except InvalidQuery as error:
        return current_app.json.response({"detail": error.message, "attr": error.field}), 400
    except NoScreenshot:
        abort(404, "This heatmap has no screenshot yet.")
    return current_app.json.response(data.model_dump(mode="json"))


@web.get("/heatmaps/<short_id>/overlay.png")
@login_required
def heatmap_overlay_png(short_id: str) -> Response:
    """The screenshot painted with the chosen data, rendered on the server: the Download PNG button."""
    heatmap = _heatmap(short_id)
    try:
        query = _query()
        data, snapshot = overlay_data(heatmap, query)
    except InvalidQuery as error:
        abort(400, error.message)
    except NoScreenshot:
        abort(404, "This heatmap has no screenshot yet.")
    return png_response(heatmap, snapshot, render_png(storage.read_snapshot(snapshot), data, query.opacity), query)


@web.get("/install")
@login_required
def install() -> str:
    """The project's token, the snippet to paste, and whether data has arrived."""
    project = active_project(current_user)
    return render_template(
        "interactions/install.html",
        project=project,
        snippet=install_snippet(request.host_url, project.api_token),
        last_seen=project_last_seen(project),
        last_contact=last_contact(project),
        pages=recent_pages(project),
        retention_days=current_app.config["HEATMAP_DATA_RETENTION_DAYS"],
        points_retention_days=current_app.config["HEATMAP_POINTS_RETENTION_DAYS"],
    )
