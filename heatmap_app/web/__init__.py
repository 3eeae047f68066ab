"""The server-rendered web UI: pages for people, on the same service functions the JSON API calls."""

from flask import Blueprint

web = Blueprint("web", __name__)

# Each module registers its routes on the blueprint.
from heatmap_app.web import (  # noqa: E402,F401
    admin, auth, filters, heatmaps, history, interactions, projects, settings, teams,
)

# posthog-js's endpoints on the site root (/static/array.js, /array/<token>/config, /i/v0/e/ …): public, with CORS.
from heatmap_app.interactions.collect import collect  # noqa: E402

web.register_blueprint(collect)
