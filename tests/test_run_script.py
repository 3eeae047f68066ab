"""`make run` (scripts/run.sh): the web server and a capture worker, the worker started again when it dies."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

from flask import Flask

from tests.capture.processes import live_processes
from tests.conftest import TEST_REDIS_URL
from tests.support.redis_server import free_port
from tests.support.workers import wait_for

ROOT = Path(__file__).resolve().parents[1]


def answers(url: str) -> bool:
    try:
        with urlopen(url, timeout=5) as response:
            return response.status == 200
    except (URLError, OSError):
        return False


def worker_of(run: subprocess.Popen[bytes]) -> int | None:
    return next((process.pid for process in live_processes()
                 if process.parent_pid == run.pid and "wsgi worker" in process.command_line), None)


def test_a_worker_that_dies_is_started_again_while_the_web_server_keeps_serving(
    app: Flask, database_url: str, tmp_path: Path
) -> None:
    login = f"http://127.0.0.1:{free_port()}/login"
    environment = {**os.environ, "HOST": "127.0.0.1", "PORT": login.split(":")[2].split("/")[0],
                   "DATABASE_URL": database_url, "REDIS_URL": TEST_REDIS_URL, "MEDIA_ROOT": str(tmp_path / "media"),
                   "SECRET_KEY": app.config["SECRET_KEY"]}
    with (tmp_path / "run.log").open("wb") as log:
        run = subprocess.Popen([str(ROOT / "scripts" / "run.sh")], cwd=ROOT, env=environment, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: answers(login), timeout=120, what="the web server")
        first_worker = wait_for(lambda: worker_of(run), what="the worker")

        os.kill(first_worker, signal.SIGKILL)

        wait_for(lambda: worker_of(run) not in (None, first_worker), timeout=30, what="a new worker")
        assert run.poll() is None and answers(login)
    finally:
        os.killpg(run.pid, signal.SIGINT)  # Ctrl-C
        run.wait(timeout=30)
    wait_for(lambda: not [p for p in live_processes() if p.process_group_id == run.pid], timeout=15,
             what="everything run.sh started to stop")
