"""The project a signed-in person is working in, and the switcher in the top bar."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from heatmap_app import accounts
from heatmap_app.accounts import current_project
from heatmap_app.extensions import db
from heatmap_app.models import Project, User
from heatmap_app.web import web
from heatmap_app.web.forms import ProjectSwitchForm
from heatmap_app.web.safety import same_site_path


def active_project(user: User) -> Project:
    project = current_project(user)
    if project is None:
        abort(403, "Your account does not belong to any project yet. Ask an admin to add you to one.")
    return project


def project_choice(project: Project, value: str | int | None = None) -> SelectChoice:
    return SelectChoice(project.id if value is None else value, f"{project.organization.name} · {project.name}")


def project_switch_form(user: User) -> ProjectSwitchForm:
    current = current_project(user)
    form = ProjectSwitchForm(formdata=None, project_id=current.id if current else None)
    form.project_id.choices = [project_choice(project) for project in user.projects]
    return form


@web.app_context_processor
def inject_project_switcher() -> dict[str, Any]:
    if not current_user.is_authenticated:
        return {}
    return {
        "current_project": current_project(current_user),
        "project_switch_form": project_switch_form(current_user),
    }


@web.post("/projects/switch")
@login_required
def switch_project() -> Response:
    form = project_switch_form(current_user)
    form.process(request.form)
    if not form.validate():
        abort(400, "Choose one of your projects.")
    project = db.session.get(Project, form.project_id.data)
    accounts.switch_project(current_user, project)
    flash(f"Switched to {project.name}.", "success")
    return redirect(page_in_any_project(same_site_path(request.form.get("next"), fallback=url_for("web.heatmap_list"))))


def page_in_any_project(path: str) -> str:
    """The page to show after a switch: the same one, unless it belongs to one heatmap of the old project (the
    new project's list instead, not a 404)."""
    list_path = url_for("web.heatmap_list")
    return list_path if path.startswith(list_path) and path.split("?")[0] != list_path else path
