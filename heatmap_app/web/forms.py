"""Forms of the web UI. Field names follow the API's where the two overlap (url, name, widths, scopes…).

The forms only check shape (present, length, a number); what a value may be is decided by the service
functions the API calls too, and their errors are put back on the matching field.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DecimalField,
    EmailField,
    IntegerField,
    PasswordField,
    RadioField,
    SearchField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    URLField,
)
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional

from heatmap_app.accounts import (
    KNOWN_SCOPES,
    MIN_PASSWORD_LENGTH,
    SCOPE_ALL,
    SCOPE_MEMBER_WRITE,
    SCOPE_ORGANIZATION_WRITE,
    SCOPE_PROJECT_WRITE,
    SCOPE_READ,
    SCOPE_WRITE,
)
from heatmap_app.capture.request import MAX_WAIT_SECONDS
from heatmap_app.heatmap_schemas import DEFAULT_WIDTHS, MAX_NAME_LENGTH, MAX_SEARCH_LENGTH, MAX_URL_LENGTH

# preset -> (label, widths); "custom" reads the widths field instead.
WIDTH_PRESETS: dict[str, tuple[str, list[int] | None]] = {
    "all": ("All", DEFAULT_WIDTHS),
    "mobile": ("Mobile", [320, 375, 425]),
    "tablet": ("Tablet", [768, 1024]),
    "desktop": ("Desktop", [1440, 1920]),
    "custom": ("Custom", None),
}

SCOPE_DESCRIPTIONS = {
    SCOPE_READ: "List saved heatmaps and download their screenshots.",
    SCOPE_WRITE: "Create, change, regenerate and delete saved heatmaps. Includes read.",
    SCOPE_PROJECT_WRITE: "Create, rename and delete projects, and rotate their tokens (as an admin).",
    SCOPE_ORGANIZATION_WRITE: "Rename the organization (as an admin).",
    SCOPE_MEMBER_WRITE: "Invite, promote and remove members (as an admin).",
    SCOPE_ALL: "Everything, including scopes added later.",
}


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])
    submit = SubmitField("Log in")


class SignupForm(FlaskForm):
    first_name = StringField("First name", validators=[Optional(), Length(max=150)])
    email = EmailField("Work email", validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)])
    password = PasswordField(
        "Password", validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=200)],
        description=f"At least {MIN_PASSWORD_LENGTH} characters.",
    )
    organization_name = StringField("Company or team", validators=[Optional(), Length(max=200)])
    submit = SubmitField("Create account")


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=200)])
    new_password = PasswordField(
        "New password", validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=200)],
        description=f"At least {MIN_PASSWORD_LENGTH} characters. You are logged out everywhere else.",
    )
    submit = SubmitField("Change password")


class ProjectSwitchForm(FlaskForm):
    project_id = SelectField("Project", coerce=int)
    submit = SubmitField("Switch")


class APIKeyForm(FlaskForm):
    label = StringField("Label", validators=[DataRequired(), Length(max=100)],
                        description="What uses this key, e.g. “Zapier” or “CI deploy”.")
    scopes = SelectMultipleField(
        "Scopes", choices=[SelectChoice(scope) for scope in KNOWN_SCOPES], default=[SCOPE_READ],
        validators=[DataRequired(message="Choose at least one scope.")],
    )
    scoped_projects = SelectField("Project", coerce=str, description="Limit the key to one project, or let it reach all of yours.")
    password = PasswordField(
        "Your password", validators=[DataRequired(message="Enter your password to create a key."), Length(max=200)],
        description="Asked again so that nobody who borrows your session can make a key.",
    )
    submit = SubmitField("Create key")


class HeatmapFilterForm(FlaskForm):
    """The list's search box and status filter: a GET form, so links to a filtered list can be shared."""

    class Meta:
        csrf = False

    search = SearchField("Search", validators=[
        Optional(), Length(max=MAX_SEARCH_LENGTH, message=f"Search for at most {MAX_SEARCH_LENGTH} characters; "
                                                              "nothing was searched.")])
    status = SelectField(
        "Status", choices=[
            SelectChoice("", "All statuses"), SelectChoice("processing", "Processing"),
            SelectChoice("completed", "Ready"), SelectChoice("failed", "Failed"),
        ],
        default="", validators=[Optional()],
    )
    submit = SubmitField("Search")


class CaptureSettingsFields(FlaskForm):
    """The capture settings, on the create form and the settings page (web/capture_settings.py reads them)."""

    headers = TextAreaField(
        "Request headers", validators=[Optional(), Length(max=20_000)], render_kw={"rows": 3, "spellcheck": "false"},
        description="One per line, as Name: value — e.g. Authorization: Bearer … Sent only to the page's own site.",
    )
    cookies = TextAreaField(
        "Cookies", validators=[Optional(), Length(max=50_000)], render_kw={"rows": 3, "spellcheck": "false"},
        description="One per line, as name=value, optionally followed by ; Domain=example.com; Path=/app. "
                    "Sent only to the page's own site.",
    )
    basic_username = StringField("Username", validators=[Optional(), Length(max=200)],
                                 render_kw={"autocomplete": "off", "spellcheck": "false"})
    basic_password = PasswordField("Password", validators=[Optional(), Length(max=4000)],
                                   render_kw={"autocomplete": "new-password"})
    remove_basic_auth = BooleanField("Remove the saved username and password")
    wait_for_selector = StringField(
        "Wait for element", validators=[Optional(), Length(max=500)], render_kw={"spellcheck": "false"},
        description="A CSS selector, e.g. #pricing-table: the screenshot waits until it appears.",
    )
    delay_seconds = DecimalField(
        "Extra delay in seconds", places=None, validators=[Optional(), NumberRange(min=0, max=MAX_WAIT_SECONDS)],
        description=f"Waited after the page loaded. With the element wait, at most {MAX_WAIT_SECONDS:g} s in all.",
    )
    hide_selectors = TextAreaField(
        "Hide elements", validators=[Optional(), Length(max=11_000)], render_kw={"rows": 2, "spellcheck": "false"},
        description="CSS selectors, one per line — chat widgets, pop-ups. Hidden before every width.",
    )
    device_scale_factor = RadioField(
        "Pixel density", choices=[SelectChoice("1", "Standard (1×)"), SelectChoice("2", "Retina (2×)")], default="1",
    )


class CaptureSettingsForm(CaptureSettingsFields):
    submit = SubmitField("Save settings")


class HeatmapForm(CaptureSettingsFields):
    url = URLField("Page URL", validators=[DataRequired(message="Enter the address of the page to capture."), Length(max=MAX_URL_LENGTH)],
                   description="A public http(s) page, e.g. https://example.com/pricing")
    name = StringField("Name", validators=[Optional(), Length(max=MAX_NAME_LENGTH)], description="Shown in the list. Defaults to the URL.")
    preset = RadioField("Widths", choices=[SelectChoice(key, label) for key, (label, _) in WIDTH_PRESETS.items()], default="all")
    widths = StringField("Widths in pixels", validators=[Optional(), Length(max=200)],
                         description="Filled in by the choice above; for Custom, type your own from 100 to 3000, "
                                     "separated by commas.")
    block_consent_modals = BooleanField("Hide cookie banners",
                                        description="Click “accept” on common consent pop-ups before capturing.")
    submit = SubmitField("Capture screenshots")


class InviteForm(FlaskForm):
    target_email = EmailField("Email", validators=[DataRequired(message="Enter the email address to invite."),
                                                   Email(check_deliverability=False), Length(max=254)])
    level = SelectField("Role", choices=[SelectChoice("member", "Member"), SelectChoice("admin", "Admin")],
                        default="member", description="Members work on every project; admins also manage "
                                                      "projects, members and the organization.")
    submit = SubmitField("Create invitation")


class InvitationSignupForm(FlaskForm):
    first_name = StringField("First name", validators=[Optional(), Length(max=150)])
    password = PasswordField(
        "Password", validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=200)],
        description=f"At least {MIN_PASSWORD_LENGTH} characters.",
    )
    submit = SubmitField("Create account and join")


class ProjectNameForm(FlaskForm):
    name = StringField("Project name", validators=[DataRequired(message="Give the project a name."), Length(max=200)])
    submit = SubmitField("Save")


class RenameForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(message="Enter a name."), Length(max=MAX_NAME_LENGTH)])
    submit = SubmitField("Save name")


class ScheduleForm(FlaskForm):
    """Recapture schedule (hour in UTC; the page shows it in the browser's time too) and the change webhook."""

    frequency = SelectField("Recapture", choices=[
        SelectChoice("off", "Off"), SelectChoice("daily", "Every day"), SelectChoice("weekly", "Every week")])
    hour = SelectField("At (UTC)", choices=[SelectChoice(str(hour), f"{hour:02d}:00 UTC") for hour in range(24)],
                       default="6")
    weekday = SelectField("On", choices=[SelectChoice(str(day), name) for day, name in enumerate(
        ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"))], default="0")
    change_webhook_url = URLField("Webhook when the page changes", validators=[Optional(), Length(max=2000)])
    submit = SubmitField("Save schedule")


class UploadForm(FlaskForm):
    image = FileField("Screenshot", validators=[FileRequired(message="Choose a JPEG, PNG or WebP image.")],
                      description="A full-page screenshot from your own browser: JPEG, PNG or WebP, up to 20 MB.")
    width = IntegerField("Taken at width (px)",
                         validators=[DataRequired(message="Give the width of your browser window.")],
                         description="The width of the browser window, in CSS pixels.")
    submit = SubmitField("Upload screenshot")
