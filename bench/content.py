"""Benchmark of the content endpoint against a bare static-file route, side by side in one run.

    bash bench/setup.sh && .venv/bin/python bench/content.py [--seconds 10] [--connections 16]

Builds a throw-away install in a temp folder (SQLite, media, Redis db 14), stores one ~200 KB JPEG
as a snapshot, and starts on loopback: the real app under gunicorn (2 workers), a one-route Flask app
under gunicorn (2 workers) that sends the same file with the same conditional headers, and the real app
with MEDIA_ACCEL_REDIRECT_PREFIX behind Debian's nginx (which sends the file itself, as deploy/nginx does).
Runs wrk against each for a 200 and for a 304 revalidation and prints a Markdown table with the ratios to
the bare route. Everything it starts is stopped on exit.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import re
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WRK = "/usr/bin/wrk"
NGINX = "/usr/sbin/nginx"
ACCEL_PREFIX = "/_media/"
# The same internal location as deploy/nginx/heatmaps.conf, without TLS.
NGINX_CONF = """
user root;
worker_processes 2;
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {folder}/nginx-body;
    proxy_temp_path {folder}/nginx-proxy;
    fastcgi_temp_path {folder}/nginx-fastcgi;
    uwsgi_temp_path {folder}/nginx-uwsgi;
    scgi_temp_path {folder}/nginx-scgi;
    sendfile on;
    upstream heatmaps {{ server 127.0.0.1:{app_port}; keepalive 16; }}
    server {{
        listen 127.0.0.1:{port};
        location {accel} {{
            internal;
            alias {media}/;
            etag off;
            add_header ETag $upstream_http_etag;
            add_header X-Content-Type-Options nosniff;
        }}
        location / {{
            proxy_pass http://heatmaps;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
        }}
    }}
}}
"""
TARGET_BYTES = 200 * 1024
REDIS_URL = "redis://127.0.0.1:6379/14"
sys.path.insert(0, str(ROOT))  # run as a script from the repository root, like bench/capture.py

from bench.servers import free_port, listening  # noqa: E402


def jpeg_of_about(target_bytes: int) -> bytes:
    """A noisy page-like JPEG of roughly `target_bytes` (noise does not compress, so size tracks height)."""
    from PIL import Image

    rng = random.Random(7)
    height = 200
    while True:
        image = Image.frombytes("RGB", (1024, height), rng.randbytes(1024 * height * 3))
        output = io.BytesIO()
        image.save(output, format="JPEG", quality=70)
        if output.tell() >= target_bytes:
            return output.getvalue()
        height = int(height * target_bytes / output.tell()) + 8


def prepare_install(folder: Path) -> tuple[dict[str, str], str, str, Path, str]:
    """Migrate a fresh database, create a user, a key and a heatmap with one snapshot."""
    environment = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{folder / 'bench.db'}",
        "MEDIA_ROOT": str(folder / "media"),
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": "bench-secret-key-bench-secret-key-0000",
        "HEATMAP_CREATE_RATE_LIMIT": "1000/minute",
    }
    os.environ.update(environment)
    from flask_migrate import upgrade

    from heatmap_app import create_app, storage
    from heatmap_app.accounts import create_api_key, create_user
    from heatmap_app.extensions import db
    from heatmap_app.models import SavedHeatmap

    app = create_app()
    with app.app_context():
        upgrade()
        user = create_user("bench@example.com", "bench password 1")
        raw_key = create_api_key(user, "bench", ["heatmap:read"])[1]
        heatmap = SavedHeatmap(
            project=user.current_project, created_by=user, short_id="bench001", url="https://93.184.216.34/",
            target_widths=[1024], status="completed",
        )
        db.session.add(heatmap)
        db.session.commit()
        snapshot = storage.store_snapshot(heatmap, 1024, jpeg_of_about(TARGET_BYTES), page_height=2000)
        content_path = f"/api/projects/{user.current_project_id}/heatmap_screenshots/{heatmap.id}/content?width=1024"
        return environment, raw_key, content_path, storage.snapshot_file_path(snapshot), snapshot.content_hash


def static_app():  # type: ignore[no-untyped-def]
    """gunicorn 'bench.content:static_app()': the same file, sent the plainest way Flask can."""
    from flask import Flask, send_file

    app = Flask(__name__)
    path = os.environ["BENCH_STATIC_FILE"]
    etag = os.environ["BENCH_STATIC_ETAG"]

    @app.get("/static.jpg")
    def static_file():  # type: ignore[no-untyped-def]
        return send_file(path, mimetype="image/jpeg", etag=etag, conditional=True, max_age=60)

    return app


def start_gunicorn(stack: ExitStack, app_spec: str, environment: dict[str, str]) -> int:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
         app_spec],
        cwd=ROOT, env=environment, start_new_session=True,
    )
    return listening(stack, server, port, f"gunicorn {app_spec}")


def start_nginx(stack: ExitStack, folder: Path, app_port: int, media: Path) -> int:
    port = free_port()
    conf = folder / "nginx.conf"
    conf.write_text(NGINX_CONF.format(folder=folder, app_port=app_port, port=port, accel=ACCEL_PREFIX, media=media))
    server = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(folder)], start_new_session=True)
    return listening(stack, server, port, "nginx", lambda: f": {(folder / 'nginx-error.log').read_text()}")


def to_ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def run_wrk(url: str, headers: dict[str, str], seconds: int, connections: int) -> dict[str, float]:
    command = [WRK, "--latency", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--timeout", "5s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run(command + [url], capture_output=True, text=True, timeout=seconds + 30, check=True).stdout
    if "Non-2xx or 3xx responses" in output:
        raise RuntimeError(f"unexpected statuses from {url}:\n{output}")
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    try:
        return {
            "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
            # Anchored: "71.50%" in the thread stats must not read as the 50th percentile.
            "p50": to_ms(re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE).group(1)),  # type: ignore[union-attr]
            "p99": to_ms(re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE).group(1)),  # type: ignore[union-attr]
            "errors": sum(int(count) for count in socket_errors.groups()) if socket_errors else 0,
        }
    except (AttributeError, KeyError):
        raise RuntimeError(f"cannot read wrk's output:\n{output}") from None


def check_response(url: str, headers: dict[str, str], expected: int, body: bytes, etag: str) -> None:
    """The case answers what the API promises: the status, and for a 200 the very bytes with the snapshot's ETag."""
    from urllib.error import HTTPError
    from urllib.request import Request, urlopen

    try:
        with urlopen(Request(url, headers=headers), timeout=120) as response:
            status, data, served_etag = response.status, response.read(), response.headers.get("ETag")
    except HTTPError as error:
        status, data, served_etag = error.code, b"", error.headers.get("ETag")
    if status != expected or (status == 200 and (data != body or served_etag != f'"{etag}"')):
        raise RuntimeError(f"{url} answered {status} ({len(data)} bytes, ETag {served_etag}), expected {expected}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="duration of each wrk run (default 10)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections (default 16)")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-content-") as temp, ExitStack() as stack:
        folder = Path(temp)
        environment, raw_key, content_path, file_path, content_hash = prepare_install(folder)
        body = file_path.read_bytes()
        static_environment = {**environment, "BENCH_STATIC_FILE": str(file_path), "BENCH_STATIC_ETAG": content_hash}
        app_port = start_gunicorn(stack, "heatmap_app:create_app()", environment)
        static_port = start_gunicorn(stack, "bench.content:static_app()", static_environment)
        accel_app_port = start_gunicorn(stack, "heatmap_app:create_app()",
                                        {**environment, "MEDIA_ACCEL_REDIRECT_PREFIX": ACCEL_PREFIX})
        nginx_port = start_nginx(stack, folder, accel_app_port, Path(environment["MEDIA_ROOT"]).resolve())

        auth = {"Authorization": f"Bearer {raw_key}"}
        revalidate = {"If-None-Match": f'"{content_hash}"'}
        bare = f"http://127.0.0.1:{static_port}/static.jpg"
        content = f"http://127.0.0.1:{app_port}{content_path}"
        accel = f"http://127.0.0.1:{nginx_port}{content_path}"
        cases = [
            ("bare static route", bare, {}, 200),
            ("content endpoint", content, auth, 200),
            ("content endpoint, X-Accel-Redirect via nginx", accel, auth, 200),
            ("bare static route", bare, revalidate, 304),
            ("content endpoint", content, {**auth, **revalidate}, 304),
            ("content endpoint, X-Accel-Redirect via nginx", accel, {**auth, **revalidate}, 304),
        ]
        print(f"JPEG: {len(body)} bytes; gunicorn --workers 2 (sync) each, nginx 2 workers; wrk -t2 "
              f"-c{options.connections} -d{options.seconds}s; {os.cpu_count()} CPUs shared by servers and wrk\n")
        print("| case | status | requests/s | × bare route | p50 ms | p99 ms | socket errors |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        bare_rate: dict[int, float] = {}
        for label, url, headers, status in cases:
            check_response(url, headers, status, body, content_hash)
            result = run_wrk(url, headers, options.seconds, options.connections)
            bare_rate.setdefault(status, result["rps"])
            print(f"| {label} | {status} | {result['rps']:.0f} | {result['rps'] / bare_rate[status]:.2f} | "
                  f"{result['p50']:.2f} | {result['p99']:.2f} | {result['errors']} |", flush=True)


if __name__ == "__main__":
    main()
