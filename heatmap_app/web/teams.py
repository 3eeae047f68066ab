"""The organization page (members, roles, invitations, projects) and the page an invitation link opens.

Every change goes through heatmap_app.teams, the functions the JSON API calls too.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user
from werkzeug.wrappers import Response

from heatmap_app import teams
from heatmap_app.accounts import find_user_by_email
from heatmap_app.extensions import limiter
from heatmap_app.models import Organization, Project, User
from heatmap_app.models.base import parse_id, utcnow
from heatmap_app.web import once, web
from heatmap_app.web.auth import _auth_rate_limit
from heatmap_app.web.forms import InvitationSignupForm, InviteForm, ProjectNameForm
from heatmap_app.web.projects import active_project


def _organization() -> Organization:
    return active_project(current_user).organization


def _render(invite_form: InviteForm | None = None, project_form: ProjectNameForm | None = None,
            status: int = 200) -> tuple[str, int]:
    organization = _organization()
    page = render_template(
        "settings/organization.html", organization=organization, is_admin=teams.is_admin(current_user, organization),
        members=organization.memberships, invites=teams.pending_invites(organization), now=utcnow(),
        invite_form=invite_form or InviteForm(formdata=None), project_form=project_form or ProjectNameForm(formdata=None),
        new_link=once.take(request.args.get("shown")),
    )
    return page, status


@web.errorhandler(teams.NotAllowed)
def _not_allowed(error: teams.NotAllowed) -> tuple[str, int]:
    return render_template("errors/error.html", status=403, title="Not allowed", message=str(error)), 403


@web.get("/settings/organization")
@login_required
def organization_page() -> tuple[str, int]:
    return _render()


@web.post("/settings/organization/invites")
@login_required
def invite_member() -> Response | tuple[str, int]:
    form = InviteForm()
    if form.validate():
        try:
            record, raw = teams.invite(_organization(), current_user, form.target_email.data, form.level.data)
        except teams.TeamError as error:
            form.target_email.errors.append(error.message)
        else:
            link = url_for("web.invitation", token=raw, _external=True)
            mailed = teams.send_invite_mail(record, link)
            flash(f"Invitation for {record.target_email} created" + (" and mailed." if mailed else "."), "success")
            return redirect(url_for("web.organization_page", shown=once.stash(link)))
    return _render(invite_form=form, status=400)


@web.post("/settings/organization/invites/<invite_id>/revoke")
@login_required
def revoke_invite(invite_id: str) -> Response:
    try:
        teams.revoke_invite(_organization(), current_user, invite_id[:36])
    except teams.InviteUnusable as error:
        abort(404, str(error))
    flash("Invitation revoked: its link no longer works.", "success")
    return redirect(url_for("web.organization_page"))


def _member(user_id: str) -> User:
    number = parse_id(user_id)
    found = next((item.user for item in _organization().memberships if item.user_id == number), None)
    if found is None:
        abort(404, "This person is not a member of your organization.")
    return found


@web.post("/settings/organization/members/<user_id>/role")
@login_required
def change_member_role(user_id: str) -> Response:
    member = _member(user_id)
    try:
        teams.change_role(_organization(), current_user, member, request.form.get("level", ""))
    except teams.TeamError as error:
        flash(error.message, "error")
    else:
        flash(f"{member.email} is now {request.form.get('level')}.", "success")
    return redirect(url_for("web.organization_page"))


@web.post("/settings/organization/members/<user_id>/remove")
@login_required
def remove_member(user_id: str) -> Response:
    member, organization = _member(user_id), _organization()
    try:
        teams.remove_member(organization, current_user, member)
    except teams.TeamError as error:
        flash(error.message, "error")
        return redirect(url_for("web.organization_page"))
    if member.id == current_user.id:
        return redirect(url_for("web.login"))
    flash(f"{member.email} was removed; their sessions and keys no longer reach {organization.name}.", "success")
    return redirect(url_for("web.organization_page"))


# --- projects -------------------------------------------------------------------------------------


def _project(project_id: str) -> Project:
    number = parse_id(project_id)
    found = next((project for project in _organization().live_projects if project.id == number), None)
    if found is None:
        abort(404, "This project is not in your organization.")
    return found


@web.post("/settings/organization/projects")
@login_required
def create_project() -> Response | tuple[str, int]:
    form = ProjectNameForm()
    if form.validate():
        try:
            project = teams.create_project(_organization(), current_user, form.name.data)
        except teams.TeamError as error:
            form.name.errors.append(error.message)
        else:
            flash(f"Project “{project.name}” created. Switch to it in the top bar.", "success")
            return redirect(url_for("web.organization_page"))
    return _render(project_form=form, status=400)


@web.post("/settings/organization/projects/<project_id>/rename")
@login_required
def rename_project(project_id: str) -> Response:
    try:
        teams.rename_project(_project(project_id), current_user, request.form.get("name", ""))
    except teams.TeamError as error:
        flash(error.message, "error")
    return redirect(url_for("web.organization_page"))


@web.post("/settings/organization/projects/<project_id>/rotate-token")
@login_required
def rotate_project_token(project_id: str) -> Response:
    project = teams.rotate_project_token(_project(project_id), current_user)
    flash(f"New token for {project.name}: update the snippet on your site, the old token is refused from now on.",
          "success")
    return redirect(url_for("web.organization_page"))


@web.post("/settings/organization/projects/<project_id>/delete")
@login_required
def delete_project(project_id: str) -> Response:
    project = _project(project_id)
    try:
        teams.delete_project(project, current_user)
    except teams.TeamError as error:
        flash(error.message, "error")
    else:
        flash(f"Project “{project.name}” deleted.", "success")
    return redirect(url_for("web.organization_page"))


# --- the invitation link --------------------------------------------------------------------------


@web.route("/invitations/<token>", methods=["GET", "POST"])
@limiter.limit(_auth_rate_limit, methods=["POST"])
def invitation(token: str) -> Response | tuple[str, int]:
    """Accept as the signed-in invitee, or create the invitee's account (open even when sign-up is off)."""
    try:
        record = teams.usable_invite(token)
    except teams.InviteUnusable as error:
        return render_template("errors/error.html", status=410, title="Invitation not usable", message=str(error)), 410
    form = InvitationSignupForm()
    if current_user.is_authenticated and request.method == "POST":
        try:
            organization = teams.accept_invite(token, current_user)
        except teams.InviteUnusable as error:
            return render_template("errors/error.html", status=403, title="Wrong account", message=str(error)), 403
        flash(f"Welcome to {organization.name}.", "success")
        return redirect(url_for("web.heatmap_list"))
    has_account = find_user_by_email(record.target_email) is not None
    if not current_user.is_authenticated and not has_account and form.validate_on_submit():
        try:
            user = teams.accept_invite_as_new_user(token, form.password.data or "", form.first_name.data or "")
        except teams.TeamError as error:
            form.password.errors.append(error.message)
        else:
            login_user(user)
            flash(f"Welcome to {record.organization.name}.", "success")
            return redirect(url_for("web.heatmap_list"))
    status = 200 if request.method == "GET" else 400
    return render_template("auth/invitation.html", invite=record, form=form, has_account=has_account,
                           wrong_account=current_user.is_authenticated
                           and current_user.email != record.target_email), status
