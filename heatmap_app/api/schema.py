"""GET /api/schema/: the OpenAPI document, public like PostHog's."""

from __future__ import annotations

from typing import Any

from heatmap_app.api import api
from heatmap_app.api.openapi import build_openapi


@api.get("/schema/", strict_slashes=False)
def openapi_schema() -> dict[str, Any]:
    return build_openapi()
