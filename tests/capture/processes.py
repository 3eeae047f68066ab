"""What runs on the machine, read from /proc."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LiveProcess:
    pid: int
    parent_pid: int
    process_group_id: int
    command_line: str


def live_processes() -> list[LiveProcess]:
    """Every process on the machine that has not exited (zombies left out)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command_line = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        # The command name in parentheses may itself hold spaces and parentheses.
        state, parent_pid, process_group_id = stat[stat.rindex(")") + 2 :].split()[:3]
        if state != "Z":
            found.append(LiveProcess(int(entry.name), int(parent_pid), int(process_group_id), command_line))
    return found
