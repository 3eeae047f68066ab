"""Signing up, logging in and out."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from heatmap_app.accounts import AccountError, authenticate, create_user, install_has_users
from heatmap_app.extensions import limiter
from heatmap_app.web import web
from heatmap_app.web.forms import LoginForm, SignupForm
from heatmap_app.web.safety import same_site_path


def signup_is_open() -> bool:
    """Sign-up can be switched off, but never before the install has its first user (its admin)."""
    return current_app.config["SIGNUP_ENABLED"] or not install_has_users()


def _auth_rate_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@web.get("/")
def index() -> Response:
    if current_user.is_authenticated:
        return redirect(url_for("web.heatmap_list"))
    return redirect(url_for("web.login") if install_has_users() else url_for("web.signup"))


@web.route("/login", methods=["GET", "POST"])
@limiter.limit(_auth_rate_limit, methods=["POST"])
def login() -> Response | str:
    if current_user.is_authenticated:
        return redirect(url_for("web.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.email.data or "", form.password.data or "")
        if user is not None:
            login_user(user)
            return redirect(same_site_path(request.args.get("next"), fallback=url_for("web.heatmap_list")))
        form.password.errors.append("Email or password is incorrect.")
    return render_template("auth/login.html", form=form, signup_open=signup_is_open())


@web.route("/signup", methods=["GET", "POST"])
@limiter.limit(_auth_rate_limit, methods=["POST"])
def signup() -> Response | str:
    if not signup_is_open():
        raise NotFound("Sign-up is turned off on this install. Ask your admin for an account.")
    if current_user.is_authenticated:
        return redirect(url_for("web.index"))
    form = SignupForm()
    if form.validate_on_submit():
        try:
            user = create_user(form.email.data or "", form.password.data or "", first_name=form.first_name.data or "",
                               organization_name=form.organization_name.data or None)
        except AccountError as error:
            getattr(form, error.field or "email").errors.append(str(error))
        else:
            login_user(user)
            flash("Welcome! Your account is ready." + (" You are this install's admin." if user.is_staff else ""),
                  "success")
            return redirect(url_for("web.heatmap_list"))
    return render_template("auth/signup.html", form=form)


@web.post("/logout")
@login_required
def logout() -> Response:
    logout_user()
    flash("You are logged out.", "success")
    return redirect(url_for("web.login"))
