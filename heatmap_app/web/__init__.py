"""The server-rendered web UI."""

from flask import Blueprint

web = Blueprint("web", __name__)

from heatmap_app.web import auth  # noqa: E402,F401  (registers its routes on the blueprint)
