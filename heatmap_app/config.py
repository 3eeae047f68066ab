"""Every setting the app reads from the environment, read here and nowhere else."""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from limits import parse_many

from heatmap_app.urlsafety import parse_allow_hosts, parse_guard_clients

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


def _guard_settings(env: Mapping[str, str]) -> dict[str, str]:
    """Where the URL guard listens, the address the browser is told, and which clients may use it."""
    bind = env.get("CAPTURE_GUARD_BIND", "").strip() or "127.0.0.1"
    advertise = env.get("CAPTURE_GUARD_ADVERTISE", "").strip() or bind
    clients = env.get("CAPTURE_GUARD_CLIENTS", "").strip()
    try:
        bind_ip, advertise_ip = ipaddress.ip_address(bind), ipaddress.ip_address(advertise)
    except ValueError:
        # An address, not a name: the browser resolves no name, its proxy's included (capture/chrome.py).
        raise ConfigurationError("CAPTURE_GUARD_BIND and CAPTURE_GUARD_ADVERTISE must be IP addresses.") from None
    if advertise_ip.is_unspecified:
        raise ConfigurationError("CAPTURE_GUARD_ADVERTISE: set the address the Grid nodes reach this worker at.")
    if not bind_ip.is_loopback and not clients:
        raise ConfigurationError("CAPTURE_GUARD_CLIENTS: a guard listening beyond loopback needs the addresses "
                                 "of the Grid nodes that may use it.")
    try:
        parse_guard_clients(clients)
    except ValueError as error:
        raise ConfigurationError(f"CAPTURE_GUARD_CLIENTS: {error}") from error
    return {"CAPTURE_GUARD_BIND": bind, "CAPTURE_GUARD_ADVERTISE": advertise, "CAPTURE_GUARD_CLIENTS": clients}


def _media_store_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """MEDIA_STORE=local (MEDIA_ROOT, the default) or s3 (S3_BUCKET, S3_PREFIX, S3_ENDPOINT_URL for MinIO, R2 and
    other S3-compatible servers). Credentials: S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY, else boto3's own chain."""
    store = environ.get("MEDIA_STORE", "").strip().lower() or "local"
    if store not in {"local", "s3"}:
        raise ConfigurationError(f"MEDIA_STORE: {store!r} is neither 'local' nor 's3'.")
    bucket = environ.get("S3_BUCKET", "").strip()
    if store == "s3" and not bucket:
        raise ConfigurationError("MEDIA_STORE=s3 needs S3_BUCKET.")
    prefix = environ.get("S3_PREFIX", "").strip().strip("/")
    ttl = environ.get("S3_PRESIGNED_TTL", "").strip() or "300"
    if not (ttl.isascii() and ttl.isdigit() and int(ttl) >= 2):
        raise ConfigurationError(f"S3_PRESIGNED_TTL: {ttl!r} is not a number of seconds (2 or more).")
    accel = environ.get("MEDIA_ACCEL_REDIRECT_PREFIX", "").strip()
    if accel and not (accel.startswith("/") and accel.endswith("/")):
        raise ConfigurationError(f"MEDIA_ACCEL_REDIRECT_PREFIX: {accel!r} must start and end with '/'.")
    return {
        "MEDIA_STORE": store,
        "S3_BUCKET": bucket,
        "S3_PREFIX": f"{prefix}/" if prefix else "",
        "S3_ENDPOINT_URL": environ.get("S3_ENDPOINT_URL", "").strip() or None,
        "S3_REGION": environ.get("S3_REGION", "").strip() or "us-east-1",
        "S3_ACCESS_KEY_ID": environ.get("S3_ACCESS_KEY_ID") or None,
        "S3_SECRET_ACCESS_KEY": environ.get("S3_SECRET_ACCESS_KEY") or None,
        # Answer images with a redirect to a presigned URL of this many seconds instead of streaming them.
        "S3_PRESIGNED_REDIRECT": _flag(environ, "S3_PRESIGNED_REDIRECT", False),
        "S3_PRESIGNED_TTL": int(ttl),
        # Behind nginx: answer local images with an X-Accel-Redirect to this internal location (deploy/nginx).
        "MEDIA_ACCEL_REDIRECT_PREFIX": accel or None,
    }


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
        **_media_store_settings(env),
        # Unset: the capture engine finds chromium and chromedriver on PATH.
        "CHROME_BINARY": env.get("CHROME_BINARY") or None,
        "CHROMEDRIVER_PATH": env.get("CHROMEDRIVER_PATH") or None,
        "SELENIUM_REMOTE_URL": env.get("SELENIUM_REMOTE_URL") or None,
        # prometheus_client reads this variable itself when it is imported; here so /metrics knows to add up the
        # counts every process of the machine left in the folder (heatmap_app.metrics).
        "PROMETHEUS_MULTIPROC_DIR": env.get("PROMETHEUS_MULTIPROC_DIR") or None,
        "CAPTURE_ALLOW_HOSTS": allow_hosts,
        **_guard_settings(env),
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
        # Seconds a process reuses an API key's resolved identity (key, user, memberships) before asking the
        # database again: a revoked key or a deactivated user is refused at most this late. 0: ask every time.
        "API_KEY_CACHE_SECONDS": float(env.get("API_KEY_CACHE_SECONDS", "5")),
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
        # Invitations: a link works once, for this many hours; it is mailed too when SMTP_HOST is set.
        "INVITE_VALIDITY_HOURS": int(env.get("INVITE_VALIDITY_HOURS", "72")),
        "SMTP_HOST": env.get("SMTP_HOST") or None,
        "SMTP_PORT": int(env.get("SMTP_PORT", "587")),
        "SMTP_USERNAME": env.get("SMTP_USERNAME") or None,
        "SMTP_PASSWORD": env.get("SMTP_PASSWORD") or None,
        "SMTP_STARTTLS": _flag(env, "SMTP_STARTTLS", True),
        "SMTP_FROM": env.get("SMTP_FROM") or "heatmaps@localhost",
        # Capture history: the runs kept per heatmap (older ones go with their screenshots), the share of a page
        # that must differ from the run before for the heatmap to count as changed, and the seconds before each
        # new try of a "page changed" webhook whose receiver failed.
        "HEATMAP_RUNS_KEPT": max(1, int(env.get("HEATMAP_RUNS_KEPT", "10"))),
        "HEATMAP_CHANGE_THRESHOLD": float(env.get("HEATMAP_CHANGE_THRESHOLD", "0.02")),
        "CHANGE_WEBHOOK_RETRY_DELAYS": [
            int(part) for part in env.get("CHANGE_WEBHOOK_RETRY_DELAYS", "30,300,1800").split(",") if part.strip()
        ],
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
        "API_KEY_CACHE_SECONDS": "0",  # a revoked key is refused at once; tests/api/test_key_cache.py sets a bound
        **{name: os.environ[name] for name in ("CHROME_BINARY", "CHROMEDRIVER_PATH") if os.environ.get(name)},
    }
    config = config_from_environment(instance, environ=environ)
    config.update(TESTING=True)
    config.update(overrides)
    return config
