"""Settings come from the environment, with the embedded defaults of a small install."""

from pathlib import Path

import pytest

from heatmap_app.config import ConfigurationError, config_from_environment
from heatmap_app.screenshots import capture_settings


def test_small_install_defaults_live_in_the_instance_folder(tmp_path: Path) -> None:
    config = config_from_environment(tmp_path, environ={})

    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'heatmaps.db'}"
    assert config["MEDIA_ROOT"] == str(tmp_path / "media")
    assert config["REDIS_URL"] == "redis://127.0.0.1:6379/0"


def test_a_generated_secret_key_is_persisted_and_reused(tmp_path: Path) -> None:
    first = config_from_environment(tmp_path, environ={})["SECRET_KEY"]
    second = config_from_environment(tmp_path, environ={})["SECRET_KEY"]

    assert len(first) >= 32
    assert first == second
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_postgres_urls_use_the_psycopg_driver(tmp_path: Path) -> None:
    for given in ("postgres://u@db/app", "postgresql://u@db/app"):
        config = config_from_environment(tmp_path, environ={"DATABASE_URL": given})
        assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db/app"


def test_production_refuses_to_start_without_a_real_secret_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        config_from_environment(tmp_path, environ={"APP_ENV": "production"})
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        config_from_environment(tmp_path, environ={"APP_ENV": "production", "SECRET_KEY": "short"})


def test_production_refuses_to_start_in_debug_mode(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="DEBUG"):
        config_from_environment(tmp_path, environ={"APP_ENV": "production", "SECRET_KEY": "x" * 40, "FLASK_DEBUG": "1"})


def test_production_with_a_real_key_uses_secure_cookies(tmp_path: Path) -> None:
    config = config_from_environment(tmp_path, environ={"APP_ENV": "production", "SECRET_KEY": "k" * 40})

    assert config["SECRET_KEY"] == "k" * 40
    assert config["SESSION_COOKIE_SECURE"] is True
    assert not (tmp_path / "secret_key").exists()


def test_browser_paths_come_from_the_environment_or_are_found_on_path(tmp_path: Path) -> None:
    explicit = capture_settings(
        config_from_environment(tmp_path, environ={"CHROME_BINARY": "/opt/chrome", "CHROMEDRIVER_PATH": "/opt/driver"})
    )
    found = capture_settings(config_from_environment(tmp_path, environ={}))

    assert (explicit.resolved_chrome_binary(), explicit.resolved_chromedriver_path()) == ("/opt/chrome", "/opt/driver")
    assert Path(found.resolved_chrome_binary()).name.startswith(("chromium", "google-chrome"))
    assert Path(found.resolved_chromedriver_path()).name == "chromedriver"


def test_a_malformed_allow_list_stops_the_app_at_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="CAPTURE_ALLOW_HOSTS"):
        config_from_environment(tmp_path, environ={"CAPTURE_ALLOW_HOSTS": "127.0.0.1"})  # no port

    allowed = config_from_environment(tmp_path, environ={"CAPTURE_ALLOW_HOSTS": "127.0.0.1:8000,localhost:5001"})
    assert allowed["CAPTURE_ALLOW_HOSTS"] == "127.0.0.1:8000,localhost:5001"


def test_the_guard_listens_on_loopback_unless_told_who_may_use_it(tmp_path: Path) -> None:
    default = config_from_environment(tmp_path, environ={})
    assert (default["CAPTURE_GUARD_BIND"], default["CAPTURE_GUARD_ADVERTISE"]) == ("127.0.0.1", "127.0.0.1")
    grid = config_from_environment(tmp_path, environ={
        "CAPTURE_GUARD_BIND": "0.0.0.0", "CAPTURE_GUARD_ADVERTISE": "10.0.0.5", "CAPTURE_GUARD_CLIENTS": "10.0.1.0/28",
    })
    assert (grid["CAPTURE_GUARD_BIND"], grid["CAPTURE_GUARD_ADVERTISE"]) == ("0.0.0.0", "10.0.0.5")
    assert grid["CAPTURE_GUARD_CLIENTS"] == "10.0.1.0/28"

    refused = {
        "beyond loopback needs": {"CAPTURE_GUARD_BIND": "0.0.0.0", "CAPTURE_GUARD_ADVERTISE": "10.0.0.5"},
        "must be IP addresses": {"CAPTURE_GUARD_ADVERTISE": "worker.example"},
        "reach this worker at": {"CAPTURE_GUARD_BIND": "0.0.0.0", "CAPTURE_GUARD_CLIENTS": "10.0.1.7"},
        "CAPTURE_GUARD_CLIENTS: ": {"CAPTURE_GUARD_CLIENTS": "10.0.1.7/24"},  # host bits set: a typo, not a network
    }
    for message, environ in refused.items():
        with pytest.raises(ConfigurationError, match=message):
            config_from_environment(tmp_path, environ=environ)


def test_rate_limits_and_the_proxy_count_have_defaults(tmp_path: Path) -> None:
    config = config_from_environment(tmp_path, environ={})

    assert config["HEATMAP_REFUSED_URL_RATE_LIMIT"] == "10/minute;50/day"
    assert config["LOGIN_RATE_LIMIT"] == "10/minute;100/hour"
    assert config["TRUSTED_PROXY_COUNT"] == 0
    assert config_from_environment(tmp_path, environ={"TRUSTED_PROXY_COUNT": "2"})["TRUSTED_PROXY_COUNT"] == 2


@pytest.mark.parametrize(
    ("name", "value"),
    [("HEATMAP_REFUSED_URL_RATE_LIMIT", "ten a minute"), ("LOGIN_RATE_LIMIT", "5/fortnight"),
     ("TRUSTED_PROXY_COUNT", "-1"), ("TRUSTED_PROXY_COUNT", "one")],
)
def test_a_malformed_limit_or_proxy_count_stops_the_app_at_start(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        config_from_environment(tmp_path, environ={name: value})


def test_the_media_store_is_a_local_folder_unless_s3_is_chosen(tmp_path: Path) -> None:
    local = config_from_environment(tmp_path, environ={})
    s3 = config_from_environment(tmp_path, environ={"MEDIA_STORE": "S3", "S3_BUCKET": "media", "S3_PREFIX": "/shots/",
                                                    "S3_ENDPOINT_URL": "http://minio:9000"})

    assert local["MEDIA_STORE"] == "local" and local["MEDIA_ACCEL_REDIRECT_PREFIX"] is None
    assert (s3["MEDIA_STORE"], s3["S3_BUCKET"], s3["S3_PREFIX"], s3["S3_ENDPOINT_URL"]) == (
        "s3", "media", "shots/", "http://minio:9000")
    assert s3["S3_PRESIGNED_REDIRECT"] is False and s3["S3_PRESIGNED_TTL"] == 300


@pytest.mark.parametrize(("environ", "named"), [
    ({"MEDIA_STORE": "nfs"}, "MEDIA_STORE"),
    ({"MEDIA_STORE": "s3"}, "S3_BUCKET"),
    ({"MEDIA_STORE": "s3", "S3_BUCKET": "b", "S3_PRESIGNED_TTL": "soon"}, "S3_PRESIGNED_TTL"),
    ({"MEDIA_ACCEL_REDIRECT_PREFIX": "_media"}, "MEDIA_ACCEL_REDIRECT_PREFIX"),
])
def test_a_media_store_that_cannot_work_stops_the_app_at_start(
    tmp_path: Path, environ: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigurationError, match=named):
        config_from_environment(tmp_path, environ=environ)
