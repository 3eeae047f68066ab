"""The capture-settings fields of the web forms, to and from the API's `capture_settings` object.

Saved secrets are never put into a page: a saved header or cookie shows its name and MASK, and a line
sent back with MASK keeps the saved value; a line taken away removes it; a new value replaces it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from wtforms import Field

from heatmap_app import capture_settings
from heatmap_app.web.forms import CaptureSettingsFields

MASK = "••••••••"
# The API's names of settings fields, to the form field that shows their errors.
ERROR_FIELDS = (
    ("capture_settings.headers", "headers"),
    ("capture_settings.cookies", "cookies"),
    ("capture_settings.basic_auth.password", "basic_password"),
    ("capture_settings.basic_auth", "basic_username"),
    ("capture_settings.wait_for_selector", "wait_for_selector"),
    ("capture_settings.delay_seconds", "delay_seconds"),
    ("capture_settings.hide_selectors", "hide_selectors"),
    ("capture_settings.device_scale_factor", "device_scale_factor"),
)


class SettingsLineError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _header(line: str, number: int) -> dict[str, Any]:
    name, colon, value = line.partition(":")
    if not colon or not name.strip():
        raise SettingsLineError("headers", f"Line {number}: write a header as Name: value.")
    value = value.strip()
    return {"name": name.strip()} if value == MASK else {"name": name.strip(), "value": value}


def _cookie(line: str, number: int) -> dict[str, Any]:
    first, *attributes = [part.strip() for part in line.split(";")]
    name, equals, value = first.partition("=")
    if not equals or not name.strip():
        raise SettingsLineError("cookies", f"Line {number}: write a cookie as name=value.")
    cookie: dict[str, Any] = {"name": name.strip()}
    if value.strip() != MASK:
        cookie["value"] = value.strip()
    for attribute in attributes:
        key, _, attribute_value = attribute.partition("=")
        if key.strip().lower() not in ("domain", "path") or not attribute_value.strip():
            raise SettingsLineError(
                "cookies", f"Line {number}: after the value, only Domain=… and Path=… are understood."
            )
        cookie[key.strip().lower()] = attribute_value.strip()
    return cookie


def settings_input(form: CaptureSettingsFields) -> dict[str, Any]:
    """The form's fields as the API's `capture_settings` (SettingsLineError for a line it cannot read)."""
    basic: dict[str, Any] | None = None
    if form.basic_username.data and not form.remove_basic_auth.data:
        basic = {"username": form.basic_username.data.strip()}
        if form.basic_password.data:
            basic["password"] = form.basic_password.data
    delay: Decimal | None = form.delay_seconds.data
    return {
        "headers": [_header(line, number) for number, line in enumerate(_lines(form.headers.data), 1)],
        "cookies": [_cookie(line, number) for number, line in enumerate(_lines(form.cookies.data), 1)],
        "basic_auth": basic,
        "wait_for_selector": (form.wait_for_selector.data or "").strip() or None,
        "delay_seconds": float(delay) if delay is not None else 0,
        "hide_selectors": _lines(form.hide_selectors.data),
        "device_scale_factor": int(form.device_scale_factor.data or 1),
    }


def fill_form(form: CaptureSettingsFields, saved: dict[str, Any] | None) -> None:
    """Show the saved settings, every secret as MASK."""
    public = capture_settings.public_capture_settings(saved)
    form.headers.data = "\n".join(f"{header['name']}: {MASK}" for header in public["headers"])
    form.cookies.data = "\n".join(
        f"{cookie['name']}={MASK}"
        + (f"; Domain={cookie['domain']}" if cookie["domain"] else "")
        + (f"; Path={cookie['path']}" if cookie["path"] != "/" else "")
        for cookie in public["cookies"]
    )
    form.basic_username.data = public["basic_auth"]["username"] if public["basic_auth"] else ""
    form.wait_for_selector.data = public["wait_for_selector"] or ""
    form.delay_seconds.data = Decimal(str(public["delay_seconds"])) if public["delay_seconds"] else None
    form.hide_selectors.data = "\n".join(public["hide_selectors"])
    form.device_scale_factor.data = str(public["device_scale_factor"])


def error_field(form: CaptureSettingsFields, api_field: str | None) -> Field | None:
    """The form field that shows an error the service raised about `api_field`, if it is a setting."""
    for prefix, name in ERROR_FIELDS:
        if api_field and api_field.startswith(prefix):
            return getattr(form, name)
    return None
