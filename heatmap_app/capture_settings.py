"""Per-heatmap capture settings: what the API and the UI accept, how they are saved, what is shown back.

The API field `capture_settings` (our extension of PostHog's object) holds:
`headers` [{name, value}], `cookies` [{name, value, domain?, path?}], `basic_auth` {username, password} or
null, `wait_for_selector`, `delay_seconds`, `hide_selectors` [..], `device_scale_factor` (1 or 2).

Header values, cookie values and the password are secrets: saved encrypted (secretbox), shown back only
as `value_set` / `password_set`, and never put into an error message. An update replaces each key it
names; a header or cookie sent without `value` keeps the value saved under its name, and `basic_auth`
without `password` keeps the saved password — so what a client read back can be sent back unchanged.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from heatmap_app import secretbox
from heatmap_app.capture.request import DEVICE_SCALE_FACTORS, MAX_WAIT_SECONDS, Cookie
from heatmap_app.extensions import db
from heatmap_app.heatmap_schemas import (
    MAX_COOKIES,
    MAX_HEADERS,
    MAX_HIDE_SELECTORS,
    MAX_SELECTOR_LENGTH,
    MAX_VALUE_LENGTH,
)
from heatmap_app.models import SavedHeatmap

MAX_NAME_LENGTH = 200
TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# RFC 6265 cookie-octet: no controls, whitespace, double quote, comma, semicolon or backslash.
COOKIE_VALUE = re.compile(r'[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*')
HOST_NAME = re.compile(r"\.?[A-Za-z0-9.-]{1,253}")
COOKIE_PATH = re.compile(r"/[\x20-\x3a\x3c-\x7e]{0,499}")
# Headers the browser sets itself or that would change what the request is; cookies have a field of their own.
FORBIDDEN_HEADERS = frozenset({
    "host", "cookie", "content-length", "content-type", "connection", "transfer-encoding", "upgrade", "te",
    "trailer", "keep-alive", "expect", "origin", "referer", "proxy-authorization", "proxy-connection",
})
SETTING_KEYS = ("headers", "cookies", "basic_auth", "wait_for_selector", "delay_seconds", "hide_selectors",
                "device_scale_factor")
DEFAULTS: dict[str, Any] = {
    "headers": [], "cookies": [], "basic_auth": None, "wait_for_selector": None, "delay_seconds": 0,
    "hide_selectors": [], "device_scale_factor": 1,
}


class CaptureSettingsError(ValueError):
    """`field` names the offending part, e.g. `capture_settings.headers[1].value`; the message names no secret."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def clean_capture_settings(value: Any, saved: Mapping[str, Any] | None, page_url: str) -> dict[str, Any]:
    """The settings to save: `value` (API input) applied over the `saved` ones, secrets encrypted."""
    if not isinstance(value, Mapping):
        raise CaptureSettingsError("capture_settings", "capture_settings must be an object.")
    unknown = sorted(set(value) - set(SETTING_KEYS))
    if unknown:
        raise CaptureSettingsError(f"capture_settings.{unknown[0]}", f"capture_settings has no field {unknown[0]!r}.")
    saved = {**DEFAULTS, **(saved or {})}
    cleaned = dict(saved)
    if "headers" in value:
        cleaned["headers"] = _clean_headers(value["headers"], saved["headers"])
    if "cookies" in value:
        cleaned["cookies"] = _clean_cookies(value["cookies"], saved["cookies"])
    if "basic_auth" in value:
        cleaned["basic_auth"] = _clean_basic_auth(value["basic_auth"], saved["basic_auth"])
    if "wait_for_selector" in value:
        cleaned["wait_for_selector"] = _clean_selector("wait_for_selector", value["wait_for_selector"])
    if "delay_seconds" in value:
        cleaned["delay_seconds"] = _clean_delay(value["delay_seconds"])
    if "hide_selectors" in value:
        cleaned["hide_selectors"] = _clean_hide_selectors(value["hide_selectors"])
    if "device_scale_factor" in value:
        factor = value["device_scale_factor"]
        if isinstance(factor, bool) or factor not in DEVICE_SCALE_FACTORS:
            raise CaptureSettingsError("capture_settings.device_scale_factor", "device_scale_factor must be 1 or 2.")
        cleaned["device_scale_factor"] = int(factor)
    if cleaned["basic_auth"] and any(header["name"].lower() == "authorization" for header in cleaned["headers"]):
        raise CaptureSettingsError(
            "capture_settings.basic_auth", "Give either basic credentials or an Authorization header, not both."
        )
    check_cookie_domains(cleaned, page_url)
    return cleaned


def check_cookie_domains(settings: Mapping[str, Any], page_url: str) -> None:
    """A cookie's domain must be the page's host or a parent domain of it: its cookies go to that site alone."""
    host = (urlsplit(page_url).hostname or "").lower()
    for index, cookie in enumerate(settings.get("cookies") or []):
        domain = (cookie.get("domain") or "").lower().lstrip(".")
        if not domain:
            continue
        if _is_ip(host) or _is_ip(domain):
            matches = domain == host
        else:
            matches = "." in domain and (host == domain or host.endswith("." + domain))
        if not matches:
            raise CaptureSettingsError(
                f"capture_settings.cookies[{index}].domain",
                f"The cookie's domain must be the page's host ({host}) or a parent domain of it.",
            )


def public_capture_settings(saved: Mapping[str, Any] | None) -> dict[str, Any]:
    """The settings as the API and the UI show them: every secret replaced by whether it is set."""
    settings = {**DEFAULTS, **(saved or {})}
    basic = settings["basic_auth"]
    return {
        "headers": [{"name": header["name"], "value_set": True} for header in settings["headers"]],
        "cookies": [
            {"name": cookie["name"], "value_set": True, "domain": cookie.get("domain"), "path": cookie.get("path", "/")}
            for cookie in settings["cookies"]
        ],
        "basic_auth": {"username": basic["username"], "password_set": True} if basic else None,
        "wait_for_selector": settings["wait_for_selector"],
        "delay_seconds": settings["delay_seconds"],
        "hide_selectors": list(settings["hide_selectors"]),
        "device_scale_factor": settings["device_scale_factor"],
    }


def request_options(saved: Mapping[str, Any] | None) -> dict[str, Any]:
    """Keyword arguments of CaptureRequest, secrets decrypted (secretbox.UnreadableSecret if one cannot be)."""
    settings = {**DEFAULTS, **(saved or {})}
    basic = settings["basic_auth"]
    return {
        "headers": tuple((header["name"], secretbox.decrypt(header["value"])) for header in settings["headers"]),
        "cookies": tuple(
            Cookie(cookie["name"], secretbox.decrypt(cookie["value"]), cookie.get("domain"), cookie.get("path", "/"))
            for cookie in settings["cookies"]
        ),
        "basic_auth": (basic["username"], secretbox.decrypt(basic["password"])) if basic else None,
        "wait_for_selector": settings["wait_for_selector"],
        "delay_seconds": float(settings["delay_seconds"]),
        "hide_selectors": tuple(settings["hide_selectors"]),
        "device_scale_factor": settings["device_scale_factor"],
    }


def rotated(saved: Mapping[str, Any] | None) -> dict[str, Any]:
    """The same settings with every secret re-encrypted under the first key of CAPTURE_SECRET_KEYS."""
    settings = {**DEFAULTS, **(saved or {})}
    basic = settings["basic_auth"]
    return {
        **settings,
        "headers": [{**header, "value": secretbox.rotate(header["value"])} for header in settings["headers"]],
        "cookies": [{**cookie, "value": secretbox.rotate(cookie["value"])} for cookie in settings["cookies"]],
        "basic_auth": {**basic, "password": secretbox.rotate(basic["password"])} if basic else None,
    }


def rotate_saved_secrets() -> int:
    """Re-encrypt every heatmap's saved secrets under the first key of CAPTURE_SECRET_KEYS; how many changed.

    Raises secretbox.UnreadableSecret, writing nothing, if one cannot be decrypted with any of the keys.
    """
    heatmaps = [heatmap for heatmap in db.session.scalars(select(SavedHeatmap)) if heatmap.capture_settings]
    for heatmap in heatmaps:
        heatmap.capture_settings = rotated(heatmap.capture_settings)
    db.session.commit()
    return len(heatmaps)


# --- fields ---------------------------------------------------------------------------------------


def _list_of_objects(field: str, value: Any, limit: int) -> list[Mapping[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise CaptureSettingsError(field, f"{field.rsplit('.', 1)[-1]} must be a list of objects.")
    if len(value) > limit:
        raise CaptureSettingsError(field, f"Give at most {limit} {field.rsplit('.', 1)[-1]}.")
    return value


def _kept_or_new_secret(
    field: str, item: Mapping[str, Any], saved_token: str | None, check: re.Pattern[str] | None
) -> str:
    """The encrypted value: the new one given, else the one saved under the same name."""
    value = item.get("value")
    if value is None:
        if saved_token is None:
            raise CaptureSettingsError(field, "Give a value: none is saved under this name yet.")
        return saved_token
    if not isinstance(value, str):
        raise CaptureSettingsError(field, "The value must be a string.")
    if len(value) > MAX_VALUE_LENGTH:
        raise CaptureSettingsError(field, f"The value is longer than {MAX_VALUE_LENGTH} characters.")
    if check is not None and not check.fullmatch(value):
        raise CaptureSettingsError(field, "The value holds characters a cookie value may not (spaces, ; , \" or \\).")
    if check is None and (not value.isascii() or not value.isprintable() or value != value.strip()):
        raise CaptureSettingsError(field, "The value must be one line of printable ASCII characters.")
    return secretbox.encrypt(value)


def _clean_name(field: str, item: Mapping[str, Any]) -> str:
    name = item.get("name")
    if not isinstance(name, str) or not TOKEN.fullmatch(name) or len(name) > MAX_NAME_LENGTH:
        raise CaptureSettingsError(field, "The name must be a token: letters, digits and !#$%&'*+.^_`|~- only.")
    return name


def _clean_headers(value: Any, saved: list[dict[str, Any]]) -> list[dict[str, Any]]:
    items = _list_of_objects("capture_settings.headers", value, MAX_HEADERS)
    saved_by_name = {header["name"].lower(): header["value"] for header in saved}
    cleaned: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        field = f"capture_settings.headers[{index}]"
        name = _clean_name(f"{field}.name", item)
        lowered = name.lower()
        if lowered in FORBIDDEN_HEADERS or lowered.startswith(("sec-", "proxy-")):
            raise CaptureSettingsError(
                f"{field}.name", f"The header {name} cannot be set (cookies have a field of their own)."
            )
        if any(header["name"].lower() == lowered for header in cleaned):
            raise CaptureSettingsError(f"{field}.name", f"The header {name} is given twice.")
        token = _kept_or_new_secret(f"{field}.value", item, saved_by_name.get(lowered), None)
        cleaned.append({"name": name, "value": token})
    return cleaned


def _clean_cookies(value: Any, saved: list[dict[str, Any]]) -> list[dict[str, Any]]:
    items = _list_of_objects("capture_settings.cookies", value, MAX_COOKIES)
    saved_by_key = {(c["name"], c.get("domain"), c.get("path", "/")): c["value"] for c in saved}
    cleaned: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        field = f"capture_settings.cookies[{index}]"
        name = _clean_name(f"{field}.name", item)
        domain = item.get("domain") or None
        if domain is not None and (not isinstance(domain, str) or not HOST_NAME.fullmatch(domain)):
            raise CaptureSettingsError(f"{field}.domain", "The domain must be a host name, e.g. example.com.")
        path = item.get("path") or "/"
        if not isinstance(path, str) or not COOKIE_PATH.fullmatch(path):
            raise CaptureSettingsError(f"{field}.path", "The path must start with / and hold no ; or control characters.")
        domain = domain.lower() if domain else None
        key = (name, domain, path)
        if any((cookie["name"], cookie["domain"], cookie["path"]) == key for cookie in cleaned):
            raise CaptureSettingsError(
                f"{field}.name", f"The cookie {name} is given twice for the same domain and path."
            )
        token = _kept_or_new_secret(f"{field}.value", item, saved_by_key.get(key), COOKIE_VALUE)
        cleaned.append({"name": name, "value": token, "domain": domain, "path": path})
    return cleaned


def _clean_basic_auth(value: Any, saved: dict[str, Any] | None) -> dict[str, Any] | None:
    field = "capture_settings.basic_auth"
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise CaptureSettingsError(field, "basic_auth must be an object with username and password, or null.")
    username = value.get("username")
    if not isinstance(username, str) or not username or len(username) > MAX_NAME_LENGTH or ":" in username \
            or not username.isprintable():
        raise CaptureSettingsError(f"{field}.username", "The username must be one line without ':'.")
    password = value.get("password")
    if password is None:
        if saved is None:
            raise CaptureSettingsError(f"{field}.password", "Give a password: none is saved yet.")
        return {"username": username, "password": saved["password"]}
    if not isinstance(password, str) or len(password) > MAX_VALUE_LENGTH or not password.isprintable():
        raise CaptureSettingsError(f"{field}.password", "The password must be one line of printable characters.")
    return {"username": username, "password": secretbox.encrypt(password)}


def _clean_selector(name: str, value: Any) -> str | None:
    field = f"capture_settings.{name}"
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or len(value) > MAX_SELECTOR_LENGTH or not value.isprintable():
        raise CaptureSettingsError(field, f"A selector must be one line of at most {MAX_SELECTOR_LENGTH} characters.")
    if "{" in value or "}" in value:
        raise CaptureSettingsError(field, "A selector may not hold { or }.")
    return value.strip()


def _clean_delay(value: Any) -> float | int:
    field = "capture_settings.delay_seconds"
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise CaptureSettingsError(field, "delay_seconds must be a number of seconds.")
    if not 0 <= value <= MAX_WAIT_SECONDS:
        raise CaptureSettingsError(field, f"delay_seconds must be between 0 and {MAX_WAIT_SECONDS:g}.")
    return value


def _clean_hide_selectors(value: Any) -> list[str]:
    field = "capture_settings.hide_selectors"
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_HIDE_SELECTORS:
        raise CaptureSettingsError(field, f"hide_selectors must be a list of at most {MAX_HIDE_SELECTORS} selectors.")
    cleaned = [_clean_selector("hide_selectors", selector) for selector in value]
    return list(dict.fromkeys(selector for selector in cleaned if selector))


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True
