"""The capture worker: an RQ worker that leaves no browser behind, even when a work-horse is killed.

Each job runs in a forked work-horse, which starts chromedriver and Chrome in a process group of their
own and ends them itself on every path it controls. A horse killed outright (OOM killer, SIGKILL) cannot,
so the worker makes itself the "child subreaper" of its descendants: the browser processes of a dead horse
are re-parented to the worker, which kills their process groups and reaps them.
"""

from __future__ import annotations

import ctypes
import os
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from redis import Redis
from rq import Worker
from rq.job import Job

from jobs.capture import settle_abandoned

PR_SET_CHILD_SUBREAPER = 36
BROWSER_PROCESS_NAMES = ("chromedriver", "chromium", "chrome", "headless_shell")
HORSE_KILLED_REASON = "The capture worker stopped in the middle of this capture. Try regenerating it."


def become_child_subreaper() -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):  # not Linux
        return False


def _children_of(parent_pid: int) -> list[tuple[int, str]]:
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name sits in parentheses and may contain spaces: fields resume after the last ")".
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == parent_pid:
            children.append((int(entry.name), name))
    return children


def end_orphaned_browsers() -> list[int]:
    """Kill the process group of every browser process re-parented to this worker, and reap them."""
    own_group = os.getpgid(0)
    killed = []
    for pid, name in _children_of(os.getpid()):
        if not name.startswith(BROWSER_PROCESS_NAMES):
            continue
        try:
            group = os.getpgid(pid)
            if group != own_group:
                os.killpg(group, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        except ProcessLookupError:
            continue
    for pid, _ in _children_of(os.getpid()):
        if pid in killed or _is_zombie(pid):
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
    return killed


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2 :].startswith("Z")


def _on_work_horse_killed(job: Job, retpid: int, ret_val: int, rusage: Any) -> None:
    end_orphaned_browsers()
    settle_abandoned(job, HORSE_KILLED_REASON)


def make_worker(queue_names: Sequence[str], connection: Redis) -> Worker:
    become_child_subreaper()
    return Worker(list(queue_names), connection=connection, work_horse_killed_handler=_on_work_horse_killed)
