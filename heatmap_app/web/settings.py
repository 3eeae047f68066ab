"""Settings: personal API keys (created with scopes and an optional project, shown once, revoked)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from heatmap_app.accounts import AccountError, create_api_key, password_matches, revoke_api_key
from heatmap_app.models import PersonalAPIKey, User
from heatmap_app.web import once, web
from heatmap_app.web.auth import password_tries_per_account
from heatmap_app.web.forms import SCOPE_DESCRIPTIONS, APIKeyForm
from heatmap_app.web.projects import project_choice

ALL_PROJECTS = ""


def _api_key_form(user: User, *, blank: bool = False) -> APIKeyForm:
    form = APIKeyForm(formdata=None) if blank else APIKeyForm()
    form.scoped_projects.choices = [SelectChoice(ALL_PROJECTS, "All my projects")] + [
        project_choice(project, str(project.id)) for project in user.projects
    ]
    return form


def _keys_newest_first(user: User) -> list[PersonalAPIKey]:
    return sorted(user.api_keys, key=lambda key: key.created_at, reverse=True)


def _render_keys_page(form: APIKeyForm, *, new_key: str | None = None, status: int = 200) -> tuple[str, int]:
    page = render_template(
        "settings/api_keys.html", form=form, keys=_keys_newest_first(current_user), new_key=new_key,
        scope_descriptions=SCOPE_DESCRIPTIONS,
    )
    return page, status


@web.get("/settings/api-keys")
@login_required
def api_keys() -> tuple[str, int, dict[str, str]]:
    new_key = once.take(request.args.get("shown"))
    # The page that shows a new key is kept by no browser or proxy cache.
    return (*_render_keys_page(_api_key_form(current_user), new_key=new_key), {"Cache-Control": "no-store"})


@web.post("/settings/api-keys")
@login_required
@password_tries_per_account
def create_api_key_view() -> Response | tuple[str, int]:
    form = _api_key_form(current_user)
    if not form.validate():
        return _render_keys_page(form, status=400)
    if not password_matches(current_user, form.password.data or ""):
        form.password.errors.append("The password is incorrect.")
        return _render_keys_page(form, status=400)
    scoped_projects = None if form.scoped_projects.data == ALL_PROJECTS else [int(form.scoped_projects.data)]
    try:
        _, raw_key = create_api_key(current_user, form.label.data or "", form.scopes.data or [], scoped_projects)
    except AccountError as error:
        getattr(form, error.field or "label").errors.append(str(error))
        return _render_keys_page(form, status=400)
    # Redirect-after-POST, so a reload creates no second key; the raw key waits in Redis for the one page that
    # shows it (never in the session cookie, never in a cache).
    return redirect(url_for("web.api_keys", shown=once.stash(raw_key)), code=303)


@web.post("/settings/api-keys/<key_id>/revoke")
@login_required
def revoke_api_key_view(key_id: str) -> Response:
    if not revoke_api_key(current_user, key_id):
        abort(404, "This key does not exist or is already revoked.")
    flash("The key is revoked. Anything using it can no longer reach the API.", "success")
    return redirect(url_for("web.api_keys"))
