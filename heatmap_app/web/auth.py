"""Log in and log out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from heatmap_app.accounts import authenticate
from heatmap_app.extensions import limiter
from heatmap_app.web import web
from heatmap_app.web.forms import LoginForm


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths, so ?next= cannot send people to another site."""
    if not target or not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
        return url_for("web.index")
    return target


@web.get("/")
def index() -> Response:
    return redirect(url_for("web.login") if not current_user.is_authenticated else url_for("web.home"))


@web.get("/home")
@login_required
def home() -> str:
    return render_template("home.html")


@web.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login() -> Response | str:
    if current_user.is_authenticated:
        return redirect(url_for("web.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.email.data or "", form.password.data or "")
        if user is not None:
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        form.password.errors.append("Email or password is incorrect.")
    return render_template("auth/login.html", form=form)


@web.post("/logout")
@login_required
def logout() -> Response:
    logout_user()
    flash("You are logged out.")
    return redirect(url_for("web.login"))
