"""SQLite connections in WAL mode: readers and the one writer stop blocking each other, and a commit no longer
waits for fsync (synchronous=NORMAL: a power cut may lose the last commits, never corrupt the file).

Heatmap data is written on every posthog-js batch by every web worker; in the default rollback-journal
mode each of those commits fsyncs several times and blocks the pages being read meanwhile.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine


@event.listens_for(Engine, "connect")
def _write_ahead_log(connection: Any, _record: Any) -> None:
    if isinstance(connection, sqlite3.Connection):
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
