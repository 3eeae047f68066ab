"""Every setting the app reads from the environment, read here and nowhere else."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from limits import parse_many

from heatmap_app.urlsafety import parse_allow_hosts

RATE_LIMIT_SETTINGS = {
    "HEATMAP_CREATE_RATE_LIMIT": "10/minute;40/day",
    "HEATMAP_REFUSED_URL_RATE_LIMIT": "10/minute;50/day",
    "LOGIN_RATE_LIMIT": "10/minute;100/hour",
    # Each preflight fetches a page from this server: a project-wide budget, whatever key asks.
    "HEATMAP_PREFLIGHT_RATE_LIMIT": "10/minute;100/hour",
}


class ConfigurationError(RuntimeError):
    """The environment describes an app that must not start."""


def _flag(environ: Mapping[str, str], name: str, default: bool) -> bool:
    value = environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _persisted_secret_key(instance_path: Path) -> str:
    """A generated key kept in the instance folder, so sessions survive restarts of a small install."""
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


def _rate_limit(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name) or RATE_LIMIT_SETTINGS[name]
    try:
        parse_many(value)
    except ValueError:
        raise ConfigurationError(f"{name}: {value!r} is not a rate limit such as '10/minute;100/day'.") from None
    return value


def _proxy_count(environ: Mapping[str, str]) -> int:
    value = environ.get("TRUSTED_PROXY_COUNT", "").strip() or "0"
    if not (value.isascii() and value.isdigit()):
        raise ConfigurationError(f"TRUSTED_PROXY_COUNT: {value!r} is not a number of proxies (0, 1, 2, ...).")
    return int(value)


def _capture_secret_keys(environ: Mapping[str, str], secret_key: str) -> list[str]:
    """Fernet keys for the capture secrets saved with heatmaps, newest first (the first encrypts, all decrypt).

    Unset: one key derived from SECRET_KEY — changing SECRET_KEY then makes the saved secrets unreadable.
    """
    value = environ.get("CAPTURE_SECRET_KEYS", "").strip()
    if not value:
        derived = hashlib.sha256(b"heatmap capture secrets\0" + secret_key.encode()).digest()
        return [base64.urlsafe_b64encode(derived).decode()]
    keys = [part.strip() for part in value.split(",") if part.strip()]
    for key in keys:
        try:
            valid = len(base64.urlsafe_b64decode(key.encode("ascii"))) == 32
        except (binascii.Error, UnicodeEncodeError, ValueError):
            valid = False
        if not valid:
            raise ConfigurationError(
                "CAPTURE_SECRET_KEYS: every key must be a Fernet key (32 url-safe base64-encoded bytes), "
                'e.g. from python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())".'
            )
    return keys


def _normalise_database_url(url: str) -> str:
    # Heroku-style URLs say postgres:// and psycopg 3 needs its own driver name.
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def config_from_environment(instance_path: str | Path, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Build the app's settings from environment variables, with the embedded defaults of a small install."""
    env = os.environ if environ is None else environ
    instance = Path(instance_path)
    production = env.get("APP_ENV", "development").strip().lower() == "production"
    debug = _flag(env, "FLASK_DEBUG", False)

    secret_key = env.get("SECRET_KEY", "").strip()
    if production and debug:
        raise ConfigurationError("APP_ENV=production refuses to start with FLASK_DEBUG on.")
    if production and len(secret_key) < 32:
        raise ConfigurationError("APP_ENV=production needs SECRET_KEY set to a random value of at least 32 characters.")
    if not secret_key:
        secret_key = _persisted_secret_key(instance)

    allow_hosts = env.get("CAPTURE_ALLOW_HOSTS", "")
    try:
        parse_allow_hosts(allow_hosts)
    except ValueError as error:
        raise ConfigurationError(f"CAPTURE_ALLOW_HOSTS: {error}") from error

    return {
        "APP_ENV": "production" if production else "development",
        "SECRET_KEY": secret_key,
        "SQLALCHEMY_DATABASE_URI": _normalise_database_url(
            env.get("DATABASE_URL") or f"sqlite:///{instance / 'heatmaps.db'}"
        ),
        "REDIS_URL": env.get("REDIS_URL") or "redis://127.0.0.1:6379/0",
        "MEDIA_ROOT": env.get("MEDIA_ROOT") or str(instance / "media"),
        # Unset: the capture engine finds chromium and chromedriver on PATH.
        "CHROME_BINARY": env.get("CHROME_BINARY") or None,
        "CHROMEDRIVER_PATH": env.get("CHROMEDRIVER_PATH") or None,
        "SELENIUM_REMOTE_URL": env.get("SELENIUM_REMOTE_URL") or None,
        "CAPTURE_ALLOW_HOSTS": allow_hosts,
        "CAPTURE_SECRET_KEYS": _capture_secret_keys(env, secret_key),
        "CAPTURE_JPEG_QUALITY": int(env.get("CAPTURE_JPEG_QUALITY", "70")),
        "CAPTURE_MAX_HEIGHT": int(env.get("CAPTURE_MAX_HEIGHT", "16000")),
        "CAPTURE_JOB_TIMEOUT": int(env.get("CAPTURE_JOB_TIMEOUT", "600")),
        "CAPTURE_BROWSER_RECYCLE_AFTER": int(env.get("CAPTURE_BROWSER_RECYCLE_AFTER", "20")),
        # Seconds before the 2nd and the 3rd try of a capture that failed for a passing reason.
        "CAPTURE_RETRY_DELAYS": [int(part) for part in env.get("CAPTURE_RETRY_DELAYS", "10,60").split(",") if part.strip()],
        **{name: _rate_limit(env, name) for name in RATE_LIMIT_SETTINGS},
        # The reverse proxies in front of the app: only then are their X-Forwarded-For/-Proto/-Host believed,
        # so each client keeps a login bucket of its own without anyone being able to forge one.
        "TRUSTED_PROXY_COUNT": _proxy_count(env),
        "SIGNUP_ENABLED": _flag(env, "SIGNUP_ENABLED", True),
        "SESSION_COOKIE_SECURE": _flag(env, "SESSION_COOKIE_SECURE", production),
        "REMEMBER_COOKIE_SECURE": _flag(env, "SESSION_COOKIE_SECURE", production),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "JSON_SORT_KEYS": False,
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        # Seconds between two sweeps of the workers for heatmaps stuck in processing without a live job.
        "CAPTURE_REAPER_INTERVAL": int(env.get("CAPTURE_REAPER_INTERVAL", "60")),
        # Heatmap data from live sites (heatmap_app.interactions): daily counts behind heatmaps/ are kept this
        # many days, the raw points behind heatmaps/events/ this many, and posthog-js batches per project token
        # are limited to this rate.
        "HEATMAP_DATA_RETENTION_DAYS": int(env.get("HEATMAP_DATA_RETENTION_DAYS", "90")),
        "HEATMAP_POINTS_RETENTION_DAYS": int(env.get("HEATMAP_POINTS_RETENTION_DAYS", "30")),
        "HEATMAP_INGEST_RATE_LIMIT": env.get("HEATMAP_INGEST_RATE_LIMIT", "200/second"),
    }


def testing_config(
    instance_path: str | Path, *, database_url: str, redis_url: str, **overrides: Any
) -> dict[str, Any]:
    """The settings a test app starts from: its own database, Redis database and media folder.

    The browser is found as in production (CHROME_BINARY / CHROMEDRIVER_PATH, else on PATH).
    """
    instance = Path(instance_path)
    environ = {
        "SECRET_KEY": "test-secret-key-not-for-production-use-000000",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "MEDIA_ROOT": str(instance / "media"),
        **{name: os.environ[name] for name in ("CHROME_BINARY", "CHROMEDRIVER_PATH") if os.environ.get(name)},
    }
    config = config_from_environment(instance, environ=environ)
    config.update(TESTING=True)
    config.update(overrides)
    return config
