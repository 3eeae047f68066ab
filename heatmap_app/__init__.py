"""The heatmap screenshots service: create_app() builds the Flask app."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from heatmap_app.config import config_from_environment

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_PATH = PROJECT_ROOT / "instance"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=str(INSTANCE_PATH),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.update(config if config is not None else config_from_environment(app.instance_path))
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["REDIS_URL"])
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "heatmap-limiter")
    # A Redis that stopped answering must not hold a request for long.
    app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"socket_connect_timeout": 2, "socket_timeout": 2})
    trust_forwarded_headers(app)

    register_extensions(app)
    register_blueprints(app)
    register_security_headers(app)

    from heatmap_app.cli import register_commands
    from heatmap_app.errors import register_error_handlers
    from heatmap_app.input_guard import register_input_guard

    register_input_guard(app)
    register_error_handlers(app)
    register_commands(app)
    return app


def trust_forwarded_headers(app: Flask) -> None:
    """Believe X-Forwarded-For/-Proto/-Host as set by the TRUSTED_PROXY_COUNT proxies in front, and only then.

    Without it every client behind a proxy has the proxy's address (one login bucket for everyone);
    with it unconditionally anyone could pick their own address.
    """
    proxies = app.config.get("TRUSTED_PROXY_COUNT", 0)
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)


def register_extensions(app: Flask) -> None:
    from heatmap_app import models  # noqa: F401  (the models must be known before migrations run)
    from heatmap_app.extensions import csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    login_manager.login_view = "web.login"
    csrf.init_app(app)
    limiter.init_app(app)

    from heatmap_app.accounts import user_for_session

    login_manager.user_loader(user_for_session)


def register_blueprints(app: Flask) -> None:
    from heatmap_app.api import api
    from heatmap_app.extensions import csrf
    from heatmap_app.metrics import count_requests
    from heatmap_app.ops import ops
    from heatmap_app.web import web

    csrf.exempt(api)  # the API authenticates with Bearer keys only, never cookies
    app.register_blueprint(api)
    app.register_blueprint(web)
    app.register_blueprint(ops)
    count_requests(app)


def register_security_headers(app: Flask) -> None:
    @app.after_request
    def add_security_headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'",
        )
        return response
