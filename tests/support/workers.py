"""Helpers of the tests that run the real `flask worker` (tests/jobs/conftest.py starts it)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from heatmap_app.extensions import db
from heatmap_app.models import SavedHeatmap
from tests.capture.processes import live_processes


class WorkerProcess(subprocess.Popen[bytes]):
    """A `flask worker` started by a test: its output goes to `log_path`; `marker` is in its (and its children's)
    environment."""

    marker: str
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_for(condition: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def reload(heatmap_id: str) -> SavedHeatmap:
    db.session.expire_all()
    return db.session.get_one(SavedHeatmap, heatmap_id)


def processes_started_by(worker: WorkerProcess) -> list[int]:
    """Live processes carrying the worker's marker in their environment: itself and all it started."""
    marker = f"HEATMAP_TEST_WORKER={worker.marker}".encode()
    found = []
    for process in live_processes():
        try:
            environment = Path(f"/proc/{process.pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker in environment:
            found.append(process.pid)
    return found


def finish(worker: WorkerProcess, *, stop: bool = False) -> str:
    """Wait for the worker to exit (after SIGTERM, a warm shutdown, with `stop`); its output. It must exit 0."""
    if stop:
        worker.send_signal(signal.SIGTERM)
    worker.wait(timeout=120)
    output = worker.output()
    assert worker.returncode == 0, output
    return output


def end_leftovers(worker: WorkerProcess) -> None:
    """Kill whatever the worker started that outlived it, so no test leaves a process behind for the next one."""
    for pid in processes_started_by(worker):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
