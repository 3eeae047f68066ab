"""Personal API key authentication for the JSON API: Bearer keys, scopes and project reach."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import g, request

from heatmap_app.accounts import (
    API_KEY_PREFIX,
    current_project,
    find_api_key,
    hash_api_key,
    key_has_scope,
    record_api_key_use,
    user_can_reach_project,
)
from heatmap_app.api import recent
from heatmap_app.errors import APIError
from heatmap_app.extensions import db
from heatmap_app.models import PersonalAPIKey, Project, User
from heatmap_app.models.base import parse_id

View = TypeVar("View", bound=Callable[..., Any])

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="api"'}
QUERY_KEY_PARAMETERS = ("personal_api_key", "api_key", "token", "key")


def _unauthenticated(detail: str, code: str) -> APIError:
    return APIError(401, detail, code=code, headers=CHALLENGE)


def bearer_key() -> str:
    """The raw key of the request's `Authorization: Bearer` header (401 when there is none, or one in the URL)."""
    if any(name in request.args for name in QUERY_KEY_PARAMETERS) or any(
        value.startswith(API_KEY_PREFIX) for value in request.args.values()
    ):
        raise _unauthenticated(
            "API keys are not accepted in the query string; send them as 'Authorization: Bearer <key>'.",
            "authentication_failed",
        )
    scheme, _, raw_key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not raw_key.strip():
        raise _unauthenticated("Authentication credentials were not provided.", "not_authenticated")
    return raw_key.strip()


def _authenticate_request() -> PersonalAPIKey:
    key = _cached_key(bearer_key())
    if key is None:
        raise _unauthenticated("The personal API key in the Authorization header is invalid.", "authentication_failed")
    return key


def _cached_key(raw_key: str) -> PersonalAPIKey | None:
    """The live key for `raw_key`, with its user and memberships, as resolved at most API_KEY_CACHE_SECONDS ago
    by this process: a revoked key, a deactivated user or a lost membership is refused within that bound.

    The cache holds detached copies; a hit attaches one to this request's session without a query. Unknown keys
    are never cached, so a key created a moment ago works at once.
    """
    g.api_key_digest = digest = hash_api_key(raw_key)
    cached = recent.recall("key", digest)
    if cached is not None:
        return db.session.merge(cached, load=False)
    key = find_api_key(raw_key)
    if key is None:
        recent.forget("key", digest)
        return None
    if recent.enabled():
        db.session.expunge(key)  # the user and memberships go with it (cascade)
        recent.remember("key", digest, key)
        key = db.session.merge(key, load=False)
    record_api_key_use(key)  # its commit expires only the attached copy
    return key


def require_api_key(scope: str | None) -> Callable[[View], View]:
    """Require a valid Bearer key holding `scope` (None: any valid key).

    A view with a `project_id` URL argument receives the resolved `project` instead.
    """

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            key = _authenticate_request()
            if scope is not None and not key_has_scope(key, scope):
                raise APIError(
                    403, f"This action requires the '{scope}' scope, which this API key does not have.",
                    code="permission_denied", attr="scope",
                )
            g.api_key = key
            g.api_user = key.user
            if "project_id" in kwargs:
                kwargs["project"] = _cached_project(kwargs.pop("project_id"), key)
            return view(*args, **kwargs)

        return cast(View, wrapped)

    return decorator


def _cached_project(project_id: str, key: PersonalAPIKey) -> Project:
    """resolve_project for this key, as resolved at most API_KEY_CACHE_SECONDS ago."""
    cache_key = (g.api_key_digest, project_id)
    cached = recent.recall("project", cache_key)
    if cached is not None:
        return db.session.merge(cached, load=False)
    project = resolve_project(project_id, key.user, key)
    if recent.enabled():
        db.session.expunge(project)
        recent.remember("project", cache_key, project)
        project = db.session.merge(project, load=False)
    return project


def resolve_project(project_id: str, user: User, key: PersonalAPIKey | None = None) -> Project:
    """The project named in the URL (`@current` for the user's current one), or 404 if the caller cannot reach it."""
    project: Project | None
    if project_id == "@current":
        project = current_project(user, key)
    else:
        number = parse_id(project_id)
        project = db.session.get(Project, number) if number is not None else None
    if project is None or not user_can_reach_project(user, project, key):
        raise APIError(404, "Project not found.", code="not_found")
    return project


def current_api_user() -> User:
    return cast(User, g.api_user)
