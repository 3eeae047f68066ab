"""The endpoints posthog-js calls on `api_host`, so a site pointed at us sends its heatmap data here.

What posthog-js 1.449.2 requests (read from its source):
- `/static/array.js` (the standard snippet), and on demand `/static/dead-clicks-autocapture.js` (heatmaps'
  dead-click detector; first as `/static/<version>/…`, then the unversioned path);
- `/array/<token>/config.js`, then `/array/<token>/config` (JSON) if the script did not set the config:
  we answer heatmaps on, every other product off, gzip supported, events to `/i/v0/e/`;
- `/flags/?v=2` only when the config says the project has feature flags (ours never does), and the older
  `/decide/`: both answered with no flags;
- event batches on `/i/v0/e/` (and `/e/`, `/batch/`, `/capture/`, `/track/` for other clients).

Public (the token is not a secret), with CORS for any site. Nothing here reads the session cookie.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, current_app, request, send_from_directory
from limits import RateLimitItem, parse_many
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from heatmap_app.errors import api_error_response
from heatmap_app.extensions import csrf, db, limiter
from heatmap_app.interactions.ingest import (
    IngestError,
    batch_points,
    decode_payload,
    events_and_token,
    retention_cutoffs,
    store_points,
)
from heatmap_app.interactions.retention import queue_purge_hourly
from heatmap_app.models import Project
from heatmap_app.queue import redis_connection

POSTHOG_JS_VERSION = "1.449.2"
BUNDLE_FOLDER = Path(__file__).resolve().parents[2] / "static" / "vendor" / "posthog-js"
DEAD_CLICKS_BUNDLE = "dead-clicks-autocapture.js"  # the one bundle heatmaps load on demand
EVENT_PATHS = ("/i/v0/e/", "/e/", "/batch/", "/capture/", "/track/")
ANALYTICS_ENDPOINT = "/i/v0/e/"
BUNDLE_MAX_AGE = 60 * 60  # the unversioned paths change when we update the pinned library
VERSIONED_BUNDLE_MAX_AGE = 365 * 24 * 60 * 60
CONFIG_MAX_AGE = 5 * 60
LAST_CONTACT_KEY = "heatmap-ingest:last-contact:{project_id}"
LAST_CONTACT_TTL = 400 * 24 * 60 * 60
RATE_LIMIT_SCOPE = "heatmap-ingest"
# A project's token is fixed for its life; a deleted project's is still accepted this long by a process that saw it.
TOKEN_CACHE_SECONDS = 60.0

collect = Blueprint("collect", __name__)
csrf.exempt(collect)  # the library posts from other sites, with a public token and no cookies


# --- CORS and errors ------------------------------------------------------------------------------


@collect.after_request
def allow_any_site(response: Response) -> Response:
    origin = request.headers.get("Origin")
    if origin:
        # Echoed with credentials allowed, as PostHog does: beacons are sent with credentials. No cookie
        # is read on these endpoints, so this grants nothing.
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.vary.add("Origin")
    else:
        response.headers["Access-Control-Allow-Origin"] = "*"
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = request.headers.get(
            "Access-Control-Request-Headers", "Content-Type")
        response.headers["Access-Control-Max-Age"] = "86400"
    response.headers["Access-Control-Expose-Headers"] = "Retry-After"
    return response


@collect.errorhandler(IngestError)
def refused(error: IngestError) -> Response:
    return api_error_response(error.status, error.detail, code=error.code, headers=error.headers)


@collect.errorhandler(HTTPException)
def http_error(error: HTTPException) -> Response:
    status = error.code or 500
    code = "payload_too_large" if status == 413 else (error.name or "error").lower().replace(" ", "_")
    return api_error_response(status, error.description or error.name, code=code)


# --- the library itself ---------------------------------------------------------------------------


def _bundle(name: str, max_age: int) -> Response:
    response = send_from_directory(BUNDLE_FOLDER, name, mimetype="text/javascript", max_age=max_age)
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    return response


@collect.get("/static/array.js")
def array_bundle() -> Response:
    return _bundle("array.js", BUNDLE_MAX_AGE)


@collect.get(f"/static/{DEAD_CLICKS_BUNDLE}")
def dead_clicks_bundle() -> Response:
    return _bundle(DEAD_CLICKS_BUNDLE, BUNDLE_MAX_AGE)


@collect.get(f"/static/<version>/{DEAD_CLICKS_BUNDLE}")
def versioned_dead_clicks_bundle(version: str) -> Response:
    if version != POSTHOG_JS_VERSION:
        abort(404, f"Only posthog-js {POSTHOG_JS_VERSION} is served here.")
    return _bundle(DEAD_CLICKS_BUNDLE, VERSIONED_BUNDLE_MAX_AGE)


# --- remote config and flags ----------------------------------------------------------------------


def project_for_token(token: str | None) -> Project | None:
    if not token or len(token) > 64:
        return None
    return db.session.scalar(select(Project).where(Project.api_token == token, Project.deleted.is_(False)))


def project_id_for_token(token: str | None) -> int | None:
    """The id of the token's project, remembered per process for TOKEN_CACHE_SECONDS (a batch needs no query)."""
    cache: dict[str, tuple[int, float]] = current_app.extensions.setdefault("interaction_tokens", {})
    cached = cache.get(token or "")
    if cached is not None and time.monotonic() - cached[1] < TOKEN_CACHE_SECONDS:
        return cached[0]
    project = project_for_token(token)
    if project is None:
        return None
    if len(cache) > 10_000:
        cache.clear()
    cache[project.api_token] = (project.id, time.monotonic())
    return project.id


def _record_contact(project: Project) -> None:
    """When the library last asked for its config: shown on the install page, even before any data."""
    try:
        redis_connection().set(LAST_CONTACT_KEY.format(project_id=project.id), datetime.now(UTC).isoformat(),
                               ex=LAST_CONTACT_TTL)
    except OSError:
        current_app.logger.warning("Could not record the library's contact for project %s", project.id)


def last_contact(project: Project) -> datetime | None:
    raw = redis_connection().get(LAST_CONTACT_KEY.format(project_id=project.id))
    return datetime.fromisoformat(raw.decode()) if raw else None


def remote_config(project: Project) -> dict[str, Any]:
    """PostHog's remote config, with heatmaps on and every product we do not serve off."""
    return {
        "token": project.api_token,
        "supportedCompression": ["gzip", "gzip-js"],
        "hasFeatureFlags": False,
        "heatmaps": True,
        "captureDeadClicks": False,
        "capturePerformance": False,
        "autocapture_opt_out": True,  # we keep nothing of $autocapture events: spare the site the traffic
        "autocaptureExceptions": False,
        "errorTracking": {"autocaptureExceptions": False, "suppressionRules": []},
        "analytics": {"endpoint": ANALYTICS_ENDPOINT},
        "elementsChainAsString": True,
        "sessionRecording": False,
        # No "surveys" key: with any value posthog-js loads its surveys bundle, which we do not serve.
        "productTours": False,
        "conversations": False,
        "logs": False,
        "defaultIdentifiedOnly": True,
        "siteApps": [],
    }


def _known_project(token: str) -> Project:
    project = project_for_token(token)
    if project is None:
        abort(404, "No project has this token.")
    _record_contact(project)
    return project


@collect.get("/array/<token>/config")
def config_json(token: str) -> Response:
    response = current_app.json.response(remote_config(_known_project(token)))
    response.headers["Cache-Control"] = f"public, max-age={CONFIG_MAX_AGE}"
    return response


@collect.get("/array/<token>/config.js")
def config_script(token: str) -> Response:
    config = json.dumps({"config": remote_config(_known_project(token)), "siteApps": []})
    script = (
        "(function(){window._POSTHOG_REMOTE_CONFIG=window._POSTHOG_REMOTE_CONFIG||{};"
        f"window._POSTHOG_REMOTE_CONFIG[{json.dumps(token)}]={config};}})();"
    )
    return Response(script, mimetype="text/javascript", headers={"Cache-Control": f"public, max-age={CONFIG_MAX_AGE}"})


def _payload() -> Any:
    return decode_payload(
        request.get_data(cache=False),
        content_type=request.content_type or "",
        compression=request.args.get("compression"),
        content_encoding=request.headers.get("Content-Encoding"),
    )


def _unknown_token() -> IngestError:
    return IngestError(401, "Project API key invalid. You can find your project API key in your project settings.",
                       code="invalid_api_key")


@collect.route("/flags/", methods=["GET", "POST"], strict_slashes=False)
@collect.route("/decide/", methods=["GET", "POST"], strict_slashes=False)
def flags() -> Response:
    payload = _payload() if request.method == "POST" else {}
    body = payload if isinstance(payload, dict) else {}
    project = project_for_token(body.get("token") or body.get("api_key") or request.args.get("token"))
    if project is None:
        raise _unknown_token()
    _record_contact(project)
    return current_app.json.response({
        "flags": {},
        "featureFlags": {},
        "featureFlagPayloads": {},
        "errorsWhileComputingFlags": False,
        "quotaLimited": [],
        "requestId": str(uuid.uuid4()),
        **remote_config(project),
    })


# --- event batches --------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _rate_limits(rule: str) -> list[RateLimitItem]:
    return parse_many(rule)


def check_ingest_rate_limit(token: str) -> None:
    """Count one batch against HEATMAP_INGEST_RATE_LIMIT for this token (shared by every process via Redis)."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return
    strategy = limiter.limiter
    for item in _rate_limits(current_app.config["HEATMAP_INGEST_RATE_LIMIT"]):
        if not strategy.hit(item, RATE_LIMIT_SCOPE, token):
            reset_at = strategy.get_window_stats(item, RATE_LIMIT_SCOPE, token).reset_time
            retry_after = str(max(1, math.ceil(reset_at - time.time())))
            raise IngestError(429, f"Too many requests for this project. Retry in {retry_after} seconds.",
                              code="rate_limited", headers={"Retry-After": retry_after})


def capture() -> Response:
    payload = _payload()
    events, token = events_and_token(payload)
    project_id = project_id_for_token(token)
    if project_id is None or token is None:
        raise _unknown_token()
    check_ingest_rate_limit(token)
    now = datetime.now(UTC)
    oldest, keep_raw_after = retention_cutoffs(current_app.config, now)
    sent_at = payload.get("sent_at") if isinstance(payload, dict) else None
    try:
        store_points(project_id, batch_points(events, sent_at, now, oldest), keep_points_after=keep_raw_after)
    except OperationalError:
        db.session.rollback()
        current_app.logger.exception("Could not store a heatmap batch for project %s", project_id)
        raise IngestError(503, "The server is busy; retry shortly.", code="unavailable",
                          headers={"Retry-After": "2"}) from None
    queue_purge_hourly()
    return current_app.json.response({"status": 1})


for _path in EVENT_PATHS:
    collect.add_url_rule(_path, endpoint="capture" + _path.replace("/", "_"), view_func=capture,
                         methods=["POST"], strict_slashes=False)
