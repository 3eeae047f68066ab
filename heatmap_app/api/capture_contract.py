"""Our extensions of PostHog's saved-heatmap object, kept apart so that they move with the contract.

`capture_settings` (ours: headers, cookies, basic credentials, waits, hidden elements, retina) and the
fields PostHog added to the object lately: `source` (`server` or `toolbar`) and `user_access_level`.
"""

from __future__ import annotations

from typing import Any

from heatmap_app.capture.request import DEVICE_SCALE_FACTORS, MAX_WAIT_SECONDS
from heatmap_app.capture_settings import (
    MAX_COOKIES,
    MAX_HEADERS,
    MAX_HIDE_SELECTORS,
    MAX_SELECTOR_LENGTH,
    MAX_VALUE_LENGTH,
    public_capture_settings,
)
from heatmap_app.heatmaps import MAX_NAME_LENGTH, MAX_URL_LENGTH, MAX_WIDTH, MAX_WIDTHS, MIN_WIDTH
from heatmap_app.models import HEATMAP_SOURCES, SavedHeatmap

# No per-object access control: every member of the project's organization may edit its heatmaps.
MEMBER_ACCESS_LEVEL = "editor"


def extension_fields(heatmap: SavedHeatmap) -> dict[str, Any]:
    return {
        "source": heatmap.source,
        "user_access_level": MEMBER_ACCESS_LEVEL,
        "capture_settings": public_capture_settings(heatmap.capture_settings),
    }


def _selector(description: str) -> dict[str, Any]:
    return {"type": "string", "maxLength": MAX_SELECTOR_LENGTH, "nullable": True, "description": description}


SECRET_NOTE = "Write-only: saved encrypted and never returned (read `value_set`). Omit it to keep the saved value."
SECRET = {"type": "string", "maxLength": MAX_VALUE_LENGTH, "writeOnly": True, "description": SECRET_NOTE}
DOMAIN = {
    "type": "string", "nullable": True,
    "description": "The page's host or a parent domain of it; omitted: a host-only cookie of the page's host.",
}
SETTINGS_COMMON = {
    "wait_for_selector": _selector(
        f"Before the first shot, wait until an element matches this CSS selector (at most {MAX_WAIT_SECONDS:g} s "
        "minus delay_seconds); the capture fails if none appears."
    ),
    "delay_seconds": {"type": "number", "minimum": 0, "maximum": MAX_WAIT_SECONDS, "default": 0,
                      "description": "Extra wait after the page loaded, before the first shot."},
    "hide_selectors": {
        "type": "array", "maxItems": MAX_HIDE_SELECTORS,
        "items": {"type": "string", "maxLength": MAX_SELECTOR_LENGTH},
        "description": "Elements (chat widgets, pop-ups) hidden before every width's shot.",
    },
    "device_scale_factor": {"type": "integer", "enum": list(DEVICE_SCALE_FACTORS), "default": 1,
                            "description": "2: retina screenshots, twice the pixels in each direction."},
}
SCHEMAS: dict[str, dict[str, Any]] = {
    "CaptureSettingsInput": {
        "type": "object",
        "description": "Our extension. Headers, cookies and basic credentials go only to the page's own origin, never "
                       "to third-party resources or after a redirect to another site. An update replaces each key "
                       "it names.",
        "properties": {
            "headers": {"type": "array", "maxItems": MAX_HEADERS, "items": {
                "type": "object", "required": ["name"],
                "properties": {"name": {"type": "string"}, "value": SECRET},
            }},
            "cookies": {"type": "array", "maxItems": MAX_COOKIES, "items": {
                "type": "object", "required": ["name"],
                "properties": {
                    "name": {"type": "string"},
                    "value": SECRET,
                    "domain": DOMAIN, "path": {"type": "string", "default": "/"},
                },
            }},
            "basic_auth": {"type": "object", "nullable": True, "required": ["username"], "properties": {
                "username": {"type": "string"},
                "password": {"type": "string", "writeOnly": True, "description": SECRET_NOTE},
            }, "description": "HTTP basic credentials, given apart from the URL (URLs with credentials are refused)."},
            **SETTINGS_COMMON,
        },
    },
    "CaptureSettings": {
        "type": "object",
        "description": "Our extension: the capture settings with every secret replaced by whether it is set.",
        "required": ["headers", "cookies", "basic_auth", *SETTINGS_COMMON],
        "properties": {
            "headers": {"type": "array", "items": {"type": "object", "required": ["name", "value_set"], "properties": {
                "name": {"type": "string"}, "value_set": {"type": "boolean"}}}},
            "cookies": {"type": "array", "items": {
                "type": "object", "required": ["name", "value_set", "domain", "path"],
                "properties": {"name": {"type": "string"}, "value_set": {"type": "boolean"}, "domain": DOMAIN,
                               "path": {"type": "string"}},
            }},
            "basic_auth": {"type": "object", "nullable": True, "required": ["username", "password_set"], "properties": {
                "username": {"type": "string"}, "password_set": {"type": "boolean"}}},
            **SETTINGS_COMMON,
        },
    },
}
WIDTH = {"type": "integer", "minimum": MIN_WIDTH, "maximum": MAX_WIDTH}
SCHEMAS.update({
    "SavedHeatmapCapture": {
        "type": "object",
        "required": ["url"],
        "description": "One `image` with its `width`, or `images` with `widths` in the same order. JPEG, PNG or "
                       "WebP, each at most 20 MB (60 MB in all), 4000 × 30000 px and 50 Mpx; re-encoded as JPEG, "
                       "metadata dropped.",
        "properties": {
            "url": {"type": "string", "maxLength": MAX_URL_LENGTH,
                    "description": "The page the screenshots show; no wildcards."},
            "name": {"type": "string", "maxLength": MAX_NAME_LENGTH, "description": "Defaults to the url."},
            "image": {"type": "string", "format": "binary"},
            "width": WIDTH,
            "images": {"type": "array", "maxItems": MAX_WIDTHS, "items": {"type": "string", "format": "binary"}},
            "widths": {"type": "array", "maxItems": MAX_WIDTHS, "items": WIDTH},
        },
    },
    "HeatmapPrewarm": {
        "type": "object",
        "required": ["url"],
        "properties": {"url": {"type": "string", "maxLength": MAX_URL_LENGTH},
                       "block_consent_modals": {"type": "boolean", "default": False}},
    },
    "HeatmapPreflight": {
        "type": "object", "required": ["url"], "properties": {"url": {"type": "string", "maxLength": MAX_URL_LENGTH}},
    },
    "HeatmapPreflightResult": {
        "type": "object",
        "required": ["framing", "blocked_by", "http_status", "body_excerpt"],
        "properties": {
            "framing": {"type": "string", "enum": ["allowed", "blocked", "unknown"]},
            "blocked_by": {"type": "string", "enum": ["x_frame_options", "frame_ancestors"], "nullable": True},
            "http_status": {"type": "integer", "nullable": True},
            "body_excerpt": {"type": "string", "nullable": True},
        },
    },
})
OBJECT_PROPERTIES: dict[str, dict[str, Any]] = {
    "source": {
        "type": "string", "enum": list(HEATMAP_SOURCES),
        "description": "server: captured by our workers; toolbar: screenshots uploaded from the user's browser.",
    },
    "user_access_level": {"type": "string", "enum": ["none", "viewer", "editor", "manager"]},
    "capture_settings": {"$ref": "#/components/schemas/CaptureSettings"},
}
INPUT_PROPERTIES: dict[str, dict[str, Any]] = {
    "capture_settings": {"$ref": "#/components/schemas/CaptureSettingsInput"},
}
