"""Signing up, logging in and out, changing the password."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from heatmap_app.accounts import (
    AccountError,
    authenticate,
    change_password,
    create_user,
    end_sessions,
    install_has_users,
    normalise_email,
)
from heatmap_app.extensions import limiter
from heatmap_app.web import web
from heatmap_app.web.forms import LoginForm, PasswordChangeForm, SignupForm
from heatmap_app.web.safety import same_site_path


def signup_is_open() -> bool:
    """Sign-up can be switched off, but never before the install has its first user (its admin)."""
    return current_app.config["SIGNUP_ENABLED"] or not install_has_users()


def _auth_rate_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _account_being_guessed() -> str:
    """The account a password is tried for: the signed-in one, else the email typed into the login form."""
    if current_user.is_authenticated:
        return str(current_user.email)
    return normalise_email(request.form.get("email", ""))


# Every place that checks a password counts against one bucket per account, whatever address the tries
# come from (guessing spread over many addresses), beside the per-address limit of the login form.
password_tries_per_account = limiter.shared_limit(
    _auth_rate_limit, scope="password-tries-per-account", key_func=_account_being_guessed, methods=["POST"]
)


@web.get("/")
def index() -> Response:
    if current_user.is_authenticated:
        return redirect(url_for("web.heatmap_list"))
    return redirect(url_for("web.login") if install_has_users() else url_for("web.signup"))


@web.route("/login", methods=["GET", "POST"])
@limiter.limit(_auth_rate_limit, methods=["POST"])
@password_tries_per_account
def login() -> Response | str:
    if current_user.is_authenticated:
        return redirect(url_for("web.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.email.data or "", form.password.data or "")
        if user is not None:
            # A new session id at every login: whatever session of this account was copied before ends.
            end_sessions(user)
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
    # Ends the session on the server too, so a copy of the cookie is worth nothing from now on.
    end_sessions(current_user._get_current_object())
    logout_user()
    flash("You are logged out.", "success")
    return redirect(url_for("web.login"))


@web.route("/settings/password", methods=["GET", "POST"])
@login_required
@password_tries_per_account
def password_change() -> Response | tuple[str, int]:
    form = PasswordChangeForm()
    user = current_user._get_current_object()
    if form.validate_on_submit():
        try:
            change_password(user, form.current_password.data or "", form.new_password.data or "")
        except AccountError as error:
            getattr(form, error.field or "new_password").errors.append(str(error))
        else:
            login_user(user)  # this browser goes on with the new session id; every other one is logged out
            flash("Your password is changed. You are logged out everywhere else.", "success")
            return redirect(url_for("web.password_change"))
    return render_template("settings/password.html", form=form), 200 if request.method == "GET" else 400
