"""The operator's endpoints: /healthz (the process answers), /readyz (its database, Redis and media store answer)
and /metrics (Prometheus). No login: keep them off the public side of the proxy (deploy/nginx)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from heatmap_app.extensions import db
from heatmap_app.mediastores import STORE_ERRORS
from heatmap_app.metrics import metrics_response
from heatmap_app.queue import redis_connection
from heatmap_app.storage import media_store

ops = Blueprint("ops", __name__)


@ops.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _check_database() -> None:
    db.session.execute(text("SELECT 1"))
    db.session.rollback()


def _check_redis() -> None:
    redis_connection().ping()


CHECKS = {"database": (_check_database, SQLAlchemyError), "redis": (_check_redis, RedisError),
          "media_store": (lambda: media_store().check(), STORE_ERRORS)}


@ops.get("/readyz")
def readyz() -> tuple[dict[str, Any], int]:
    results: dict[str, str] = {}
    for name, (check, errors) in CHECKS.items():
        try:
            check()
        except errors as error:  # type: ignore[misc]
            results[name] = f"unavailable: {type(error).__name__}"
        else:
            results[name] = "ok"
    ready = all(result == "ok" for result in results.values())
    return {"status": "ready" if ready else "unavailable", "checks": results}, 200 if ready else 503


@ops.get("/metrics")
def metrics() -> Response:
    return metrics_response()
