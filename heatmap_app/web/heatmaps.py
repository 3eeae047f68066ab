"""Saved heatmap pages: list, create, detail, and the images and live fragments they load.

Every read and write goes through heatmap_app.heatmaps, the service the JSON API calls too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from heatmap_app import heatmaps, storage, toolbar
from heatmap_app.capture.walls import suggests_upload
from heatmap_app.history.runs import shown_snapshots
from heatmap_app.models import HeatmapSnapshot, SavedHeatmap
from heatmap_app.models.base import MAX_INTEGER, parse_id
from heatmap_app.queue import capture_attempt
from heatmap_app.uploads import UploadError
from heatmap_app.web import web
from heatmap_app.web.capture_settings import SettingsLineError, error_field, fill_form, settings_input
from heatmap_app.web.forms import (
    WIDTH_PRESETS,
    CaptureSettingsForm,
    HeatmapFilterForm,
    HeatmapForm,
    RenameForm,
    UploadForm,
)
from heatmap_app.web.projects import active_project

PAGE_SIZE = 12
MAX_PAGE = MAX_INTEGER // PAGE_SIZE  # the furthest page whose offset a query can take
PREFERRED_VIEW_WIDTH = 1440  # what a marketer usually wants to see first: the desktop layout
# The file names change on every capture, so the files behind a versioned URL never change.
IMAGE_MAX_AGE = 7 * 24 * 60 * 60


class WidthsNotNumbers(ValueError):
    pass


@dataclass(frozen=True)
class WidthProgress:
    width: int
    snapshot: HeatmapSnapshot | None
    captured_this_run: bool


def heatmap_or_404(short_id: str) -> SavedHeatmap:
    try:
        return heatmaps.get_heatmap(active_project(current_user), short_id)
    except heatmaps.HeatmapNotFound:
        abort(404, "This heatmap does not exist in your current project, or it was deleted.")


@web.app_template_global()
def width_progress(heatmap: SavedHeatmap) -> list[WidthProgress]:
    """Each target width with the snapshot shown for it, and whether the current run captured that one."""
    by_width = {snapshot.width: snapshot for snapshot in shown_snapshots(heatmap)}
    return [
        WidthProgress(
            width=width,
            snapshot=by_width.get(width),
            captured_this_run=width in by_width and by_width[width].generation == heatmap.capture_generation,
        )
        for width in heatmap.target_widths
    ]


def image_url(heatmap: SavedHeatmap, snapshot: HeatmapSnapshot, *, thumbnail: bool = False) -> str:
    """The current run's images by width; an earlier run's (shown while a new run is under way) by run."""
    version = snapshot.content_hash[:12]
    if snapshot.generation != heatmap.capture_generation:
        return url_for("web.run_image", short_id=heatmap.short_id, generation=snapshot.generation,
                       width=snapshot.width, thumbnail=1 if thumbnail else None, v=version)
    endpoint = "web.heatmap_thumbnail" if thumbnail else "web.heatmap_screenshot"
    return url_for(endpoint, short_id=heatmap.short_id, width=snapshot.width, v=version)


@web.app_template_global()
def thumbnail_url(heatmap: SavedHeatmap, snapshot: HeatmapSnapshot) -> str:
    return image_url(heatmap, snapshot, thumbnail=True)


def parse_widths(text: str) -> list[int]:
    """'360, 1280 px' -> [360, 1280]; the service decides which widths are allowed."""
    tokens = text.replace(",", " ").replace("px", " ").split()
    if not all(token.isascii() and token.isdigit() for token in tokens):
        raise WidthsNotNumbers("Use whole numbers separated by commas, e.g. 360, 1280.")
    return [int(token) for token in tokens]


def heatmap_input(form: HeatmapForm) -> dict[str, Any]:
    """The form's data in the API's shape, for heatmaps.create_heatmap."""
    preset_widths = WIDTH_PRESETS[form.preset.data][1]
    return {
        "url": form.url.data,
        "name": form.name.data,
        "widths": preset_widths if preset_widths is not None else parse_widths(form.widths.data or ""),
        "block_consent_modals": form.block_consent_modals.data,
        "capture_settings": settings_input(form),
    }


def _show_input_error(form: HeatmapForm | CaptureSettingsForm, error: heatmaps.HeatmapInputError) -> None:
    field = error_field(form, error.field) or getattr(form, error.field or "", None)
    (field.errors if field is not None else form.form_errors).append(error.message)


# --- list -----------------------------------------------------------------------------------------


@web.get("/heatmaps/")
@web.get("/home", endpoint="home")
@login_required
def heatmap_list() -> str:
    filters = HeatmapFilterForm(formdata=request.args)
    filters.validate()
    search = (filters.search.data or "").strip()
    status = filters.status.data if not filters.status.errors else ""
    page = min(parse_id(request.args.get("page", "")) or 1, MAX_PAGE)
    # A search that is too long lists nothing and says so beside the box, rather than quietly listing everything.
    items, count = ([], 0) if filters.search.errors else heatmaps.list_heatmaps(
        active_project(current_user),
        {"search": search or None, "status": status or None, "limit": PAGE_SIZE, "offset": (page - 1) * PAGE_SIZE},
    )
    page_count = max(1, -(-count // PAGE_SIZE))
    return render_template(
        "heatmaps/list.html", heatmaps=items, count=count, filters=filters, filtered=bool(search or status),
        page=page, page_count=page_count, first_shown=(page - 1) * PAGE_SIZE + 1, last_shown=(page - 1) * PAGE_SIZE + len(items),
        page_url=lambda number: url_for("web.heatmap_list", search=search or None, status=status or None, page=number),
    )


@web.get("/heatmaps/<short_id>/card")
@login_required
def heatmap_card(short_id: str) -> str:
    """One list card, re-rendered while its heatmap is processing (polled by static/js/app.js)."""
    heatmap = heatmap_or_404(short_id)
    return render_template("heatmaps/_card.html", heatmap=heatmap, progress=width_progress(heatmap))


# --- create ---------------------------------------------------------------------------------------


@web.route("/heatmaps/new", methods=["GET", "POST"])
@login_required
def heatmap_new() -> Response | tuple[str, int, dict[str, str]]:
    form = HeatmapForm()
    headers: dict[str, str] = {}
    if form.validate_on_submit():
        try:
            heatmap = heatmaps.create_heatmap(active_project(current_user), current_user, heatmap_input(form))
        except WidthsNotNumbers as error:
            form.widths.errors.append(str(error))
        except SettingsLineError as error:
            getattr(form, error.field).errors.append(str(error))
        except heatmaps.HeatmapInputError as error:
            _show_input_error(form, error)
        except heatmaps.CreateRateLimited as error:  # RefusedURLsRateLimited too
            form.form_errors.append(str(error))
            headers["Retry-After"] = str(error.retry_after)
        else:
            flash("Saved. The screenshots are being captured; they appear here as each width is ready.", "progress")
            return redirect(url_for("web.heatmap_detail", short_id=heatmap.short_id))
    status = 200 if request.method == "GET" else (429 if headers else 400)
    return render_template("heatmaps/new.html", form=form, presets=WIDTH_PRESETS), status, headers


# --- detail ---------------------------------------------------------------------------------------


def _viewer_context(heatmap: SavedHeatmap) -> dict[str, Any]:
    targets = heatmap.target_widths
    requested = request.args.get("width", type=int)
    if requested not in targets:
        requested = min(targets, key=lambda width: (abs(width - PREFERRED_VIEW_WIDTH), width))
    snapshot = heatmaps.pick_snapshot(heatmap, requested, among=shown_snapshots(heatmap))
    progress = width_progress(heatmap)
    return {
        "heatmap": heatmap,
        "requested_width": requested,
        "snapshot": snapshot,
        "screenshot_url": image_url(heatmap, snapshot) if snapshot else None,
        "progress": progress,
        "captured_count": sum(item.captured_this_run for item in progress),
        "attempt": capture_attempt(heatmap.id, heatmap.capture_generation) if heatmap.status == "processing" else None,
    }


def _detail_page(heatmap: SavedHeatmap, rename_form: RenameForm | None = None,
                 upload_form: UploadForm | None = None) -> str:
    context = _viewer_context(heatmap)
    return render_template(
        "heatmaps/detail.html", **context,
        rename_form=rename_form or RenameForm(formdata=None, name=heatmap.name),
        upload_form=upload_form or UploadForm(formdata=None, width=context["requested_width"]),
        suggest_upload=heatmap.status == "failed" and suggests_upload(heatmap.exception),
    )


@web.get("/heatmaps/<short_id>")
@login_required
def heatmap_detail(short_id: str) -> str:
    return _detail_page(heatmap_or_404(short_id))


@web.post("/heatmaps/<short_id>/upload")
@login_required
def heatmap_upload(short_id: str) -> Response | tuple[str, int]:
    """The user's own screenshot at one width: for pages behind a login or a bot check."""
    heatmap = heatmap_or_404(short_id)
    form = UploadForm()
    if form.validate():
        try:
            toolbar.upload_screenshot(heatmap, form.width.data, form.image.data.read())
        except UploadError as error:
            form.image.errors.append(error.detail)
        except heatmaps.HeatmapInputError as error:
            (form.width if error.field in ("width", "widths") else form.image).errors.append(error.message)
        else:
            flash(f"Your screenshot at {form.width.data} px is saved.", "success")
            return redirect(url_for("web.heatmap_detail", short_id=short_id, width=form.width.data))
    return _detail_page(heatmap, upload_form=form), 400


@web.get("/heatmaps/<short_id>/viewer")
@login_required
def heatmap_viewer(short_id: str) -> str:
    """The detail page's status, progress and screenshot panel, re-rendered while processing."""
    return render_template("heatmaps/_viewer.html", **_viewer_context(heatmap_or_404(short_id)))


@web.post("/heatmaps/<short_id>/rename")
@login_required
def heatmap_rename(short_id: str) -> Response | tuple[str, int]:
    heatmap = heatmap_or_404(short_id)
    form = RenameForm()
    if form.validate():
        try:
            heatmaps.update_heatmap(heatmap, {"name": form.name.data})
        except heatmaps.HeatmapInputError as error:
            form.name.errors.append(error.message)
        else:
            flash("Renamed.", "success")
            return redirect(url_for("web.heatmap_detail", short_id=short_id))
    return _detail_page(heatmap, rename_form=form), 400


@web.route("/heatmaps/<short_id>/settings", methods=["GET", "POST"])
@login_required
def heatmap_settings(short_id: str) -> Response | tuple[str, int]:
    heatmap = heatmap_or_404(short_id)
    if heatmap.type != "screenshot":
        abort(404, "Only screenshot heatmaps have capture settings.")
    form = CaptureSettingsForm()
    if not form.is_submitted():
        fill_form(form, heatmap.capture_settings)
    elif form.validate():
        try:
            heatmaps.update_heatmap(heatmap, {"capture_settings": settings_input(form)})
        except SettingsLineError as error:
            getattr(form, error.field).errors.append(str(error))
        except heatmaps.HeatmapInputError as error:
            _show_input_error(form, error)
        else:
            flash("Capture settings saved.", "success")
            return redirect(url_for("web.heatmap_detail", short_id=short_id))
    status = 200 if not form.is_submitted() else 400
    return render_template("heatmaps/settings.html", form=form, heatmap=heatmap), status


@web.post("/heatmaps/<short_id>/regenerate")
@login_required
def heatmap_regenerate(short_id: str) -> Response:
    heatmap = heatmap_or_404(short_id)
    try:
        heatmaps.regenerate_heatmap(heatmap)
    except heatmaps.HeatmapInputError as error:
        abort(400, error.message)
    flash("Capturing again. The last screenshots stay on show until each width is captured anew; "
          "the history keeps them.", "progress")
    return redirect(url_for("web.heatmap_detail", short_id=short_id, width=request.form.get("width", type=int)))


@web.post("/heatmaps/<short_id>/delete")
@login_required
def heatmap_delete(short_id: str) -> Response:
    heatmap = heatmap_or_404(short_id)
    heatmaps.delete_heatmap(heatmap)
    flash(f"Deleted “{heatmap.name or heatmap.url}”.", "success")
    return redirect(url_for("web.heatmap_list"))


# --- images ---------------------------------------------------------------------------------------


def _snapshot_at(heatmap: SavedHeatmap, width: int) -> HeatmapSnapshot:
    snapshot = next((item for item in heatmap.snapshots if item.width == width and item.has_content), None)
    if snapshot is None:
        abort(404, "There is no screenshot at this width yet.")
    return snapshot


@web.get("/heatmaps/<short_id>/thumbnails/<int:width>.jpg")
@login_required
def heatmap_thumbnail(short_id: str, width: int) -> Response:
    snapshot = _snapshot_at(heatmap_or_404(short_id), width)
    return storage.send_jpeg(snapshot.thumbnail_path, snapshot, etag=f"thumb-{snapshot.content_hash}",
                             max_age=IMAGE_MAX_AGE)


@web.get("/heatmaps/<short_id>/screenshots/<int:width>.jpg")
@login_required
def heatmap_screenshot(short_id: str, width: int) -> Response:
    snapshot = _snapshot_at(heatmap_or_404(short_id), width)
    return storage.send_jpeg(snapshot.file_path, snapshot, etag=snapshot.content_hash,
                             max_age=IMAGE_MAX_AGE)
