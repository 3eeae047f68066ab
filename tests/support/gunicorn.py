"""The app served by gunicorn as in production, on a free loopback port: for the tests and scripts that need real HTTP.

The listening socket is bound here (port 0) and handed to gunicorn as `fd://N`, so there is no race for a port.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
# High enough that a fuzz run measures the app, not the limits (the limits have tests of their own).
UNLIMITED = "1000000/minute"


def app_environment(*, database_url: str, redis_url: str, media_root: str | Path, secret_key: str) -> dict[str, str]:
    """The environment of a served app on the given database, Redis database and media folder, without limits."""
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "MEDIA_ROOT": str(media_root),
        "SECRET_KEY": secret_key,
        "HEATMAP_CREATE_RATE_LIMIT": UNLIMITED,
        "HEATMAP_REFUSED_URL_RATE_LIMIT": UNLIMITED,
        "LOGIN_RATE_LIMIT": UNLIMITED,
        "API_KEY_CACHE_SECONDS": "0",
    }


@dataclass(frozen=True)
class Served:
    base_url: str
    log: Path  # gunicorn's and the app's output: the traceback of any server error is there
    environment: Mapping[str, str]

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _wait_until_serving(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{base_url}/api/schema/", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not answer within {START_TIMEOUT:.0f} s:\n{log.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # its own process group: the workers go with the master
        process.wait()


@contextmanager
def serve_with_gunicorn(environment: Mapping[str, str], *, workers: int = 2) -> Iterator[Served]:
    """Run `gunicorn wsgi:app` with `environment` added to this process's until the block ends."""
    with socket.socket() as listener, tempfile.TemporaryDirectory(prefix="gunicorn-") as folder:
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        base_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        log = Path(folder) / "gunicorn.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--bind", f"fd://{listener.fileno()}", "--workers", str(workers),
                 "--graceful-timeout", "5", "--log-level", "warning", "wsgi:app"],
                cwd=PROJECT_ROOT, env={**os.environ, **environment}, pass_fds=(listener.fileno(),),
                stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
            )
        try:
            _wait_until_serving(base_url, process, log)
            yield Served(base_url, log, environment)
        finally:
            _stop(process)
