"""No Chrome or chromedriver outlives its capture, whichever way the capture ends."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from heatmap_app.capture import Browser, CaptureError, CaptureRequest, CaptureSettings, Shot, capture
from tests.capture.processes import LiveProcess, live_processes
from tests.support.site import Site

pytestmark = pytest.mark.browser

REPOSITORY = Path(__file__).resolve().parents[2]
# Starts a browser, says which, then waits to be killed, as an RQ work-horse might be.
BROWSER_OWNER_SCRIPT = """
import time
from heatmap_app.capture import Browser
browser = Browser()
print(browser.process_group_id, browser.user_data_dir, flush=True)
time.sleep(600)
"""


class BrowserProcessWatch:
    """Notes, while a capture runs, the process groups and profiles of the browsers this test started."""

    def __init__(self) -> None:
        self.process_group_ids: set[int] = set()
        self.user_data_dirs: set[str] = set()

    def note_running_browsers(self, *_: object) -> None:
        for process in live_processes():
            if process.parent_pid == os.getpid() and "chromedriver" in process.command_line:
                self.process_group_ids.add(process.process_group_id)
        for process in self.processes_left():
            self.user_data_dirs.update(
                part.removeprefix("--user-data-dir=")
                for part in process.command_line.split()
                if part.startswith("--user-data-dir=")
            )

    def processes_left(self) -> list[LiveProcess]:
        return [
            process
            for process in live_processes()
            if process.process_group_id in self.process_group_ids
            or any(directory in process.command_line for directory in self.user_data_dirs)
        ]


def wait_until_gone(watch: BrowserProcessWatch, seconds: float = 5) -> list[LiveProcess]:
    deadline = time.monotonic() + seconds
    while (left := watch.processes_left()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def test_twenty_captures_leave_no_chrome_or_chromedriver_behind(page_server: Site) -> None:
    watch = BrowserProcessWatch()
    shots: list[Shot] = []

    def on_shot(shot: Shot) -> None:
        watch.note_running_browsers()
        shots.append(shot)

    def capture_once(_: int) -> None:
        capture(CaptureRequest(page_server.url("hero-100vh.html"), [1024]), CaptureSettings(), on_shot=on_shot)

    # Two at a time, as two workers on this two-core machine would.
    with ThreadPoolExecutor(max_workers=2) as workers:
        list(workers.map(capture_once, range(20)))

    assert len(shots) == 20
    assert len(watch.process_group_ids) == 20
    assert len(watch.user_data_dirs) == 20
    assert watch.processes_left() == []
    assert not any(Path(directory).exists() for directory in watch.user_data_dirs)


@pytest.mark.parametrize("page", ["status/404", "hang/page.html"])
def test_a_failed_capture_leaves_no_process_behind(page_server: Site, page: str) -> None:
    watch = BrowserProcessWatch()

    def explain_and_note(url: str) -> None:
        watch.note_running_browsers()

    with pytest.raises(CaptureError):
        capture(
            CaptureRequest(page_server.url(page), [1024]),
            CaptureSettings(page_load_timeout=1),
            explain_navigation_failure=explain_and_note,
        )

    assert watch.process_group_ids, "the browser was watched while it ran"
    assert watch.processes_left() == []


def test_every_chrome_process_is_in_the_process_group_a_supervisor_can_kill(page_server: Site) -> None:
    browser = Browser(CaptureSettings())
    try:
        browser.capture(CaptureRequest(page_server.url("hero-100vh.html"), [1024]))
        profile = browser.user_data_dir
        chrome_processes = [p for p in live_processes() if profile in p.command_line]
        assert chrome_processes
        assert {p.process_group_id for p in chrome_processes} == {browser.process_group_id}

        os.killpg(browser.process_group_id, signal.SIGKILL)

        watch = BrowserProcessWatch()
        watch.process_group_ids.add(browser.process_group_id)
        watch.user_data_dirs.add(profile)
        assert wait_until_gone(watch) == []
    finally:
        browser.close()
    assert not Path(profile).exists()


def test_a_browser_whose_owner_is_killed_outright_is_ended_and_its_profile_removed_by_its_watchdog() -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", BROWSER_OWNER_SCRIPT],
        cwd=REPOSITORY,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        process_group_id, profile = owner.stdout.readline().split()
        watch = BrowserProcessWatch()
        watch.process_group_ids.add(int(process_group_id))
        watch.user_data_dirs.add(profile)
        assert watch.processes_left(), "the browser runs while its owner lives"

        owner.kill()  # SIGKILL: no close(), no finally, no atexit
        owner.wait()

        assert wait_until_gone(watch) == []
        deadline = time.monotonic() + 5
        while Path(profile).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not Path(profile).exists()
    finally:
        owner.kill()
        owner.wait()


def temporary_folders_of(processes: list[LiveProcess]) -> set[str | None]:
    """TMPDIR of each process still running."""
    found = set()
    for process in processes:
        try:
            entries = Path(f"/proc/{process.pid}/environ").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue  # a helper process that has just ended
        found.add(dict(entry.split("=", 1) for entry in entries if "=" in entry).get("TMPDIR"))
    return found


def test_chrome_and_chromedriver_keep_their_temporary_folders_in_the_profile(page_server: Site) -> None:
    with Browser(CaptureSettings()) as browser:
        browser.capture(CaptureRequest(page_server.url("hero-100vh.html"), [1024]))
        profile = Path(browser.user_data_dir)
        # chromedriver and Chrome's browser process: its helpers start with an emptied environment.
        in_group = [p for p in live_processes() if p.process_group_id == browser.process_group_id]
        [chromedriver] = [p for p in in_group if p.pid == browser.process_group_id]
        [chrome] = [
            p for p in in_group if f"--user-data-dir={profile}" in p.command_line and "--type" not in p.command_line
        ]
        assert temporary_folders_of([chromedriver, chrome]) == {str(profile / "tmp")}
        # Chrome's singleton socket folder, at least, is there rather than in the machine's temp folder.
        assert any(entry.name.startswith("org.chromium.") for entry in (profile / "tmp").iterdir())
    assert not profile.exists()


def test_profiles_whose_owner_is_gone_are_removed_when_the_next_browser_starts() -> None:
    # As a watchdog killed along with its worker (say, the container's whole process tree) leaves them.
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    own_start_time = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19]
    temp = Path(tempfile.gettempdir())
    dead_owners = [
        temp / f"heatmap-chrome-{ended.pid}-{own_start_time}-stale0001",
        temp / f"heatmap-chrome-{os.getpid()}-1-stale0002",  # this pid, but an earlier process's start time
    ]
    live_owner = temp / f"heatmap-chrome-{os.getpid()}-{own_start_time}-inuse0001"
    not_ours = temp / "heatmap-chrome-notanowner"
    for directory in [*dead_owners, live_owner, not_ours]:
        (directory / "Default").mkdir(parents=True)
    try:
        with Browser(CaptureSettings()) as browser:
            assert Path(browser.user_data_dir).exists()

        assert [directory.exists() for directory in dead_owners] == [False, False]
        assert live_owner.exists() and not_ours.exists()
    finally:
        for directory in [*dead_owners, live_owner, not_ours]:
            shutil.rmtree(directory, ignore_errors=True)
