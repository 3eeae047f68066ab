"""The JSON API, PostHog-compatible, authenticated by personal API keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint

api = Blueprint("api", __name__, url_prefix="/api")

PROJECT_PREFIXES = ("/projects/<project_id>", "/environments/<project_id>")


def project_route(rule: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a view under both /api/projects/<id>/ and /api/environments/<id>/, trailing slash optional."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        for prefix in PROJECT_PREFIXES:
            api.add_url_rule(prefix + rule, view_func=view, strict_slashes=False, **options)
        return view

    return decorator


# Each module registers its routes on the blueprint.
from heatmap_app.api import (  # noqa: E402,F401
    content, history, interactions, saved, schema, teams, toolbar, users,
)
