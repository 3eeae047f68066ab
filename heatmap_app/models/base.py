"""Column types and id parsing shared by the models."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


MAX_INTEGER = 2**31 - 1  # ids and offsets beyond a 32-bit INTEGER cannot match a row (nor bind on PostgreSQL)


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_id(text: str) -> int | None:
    """A row id written in a URL, a form or a session, or None: ASCII digits only ('²' is a digit to
    str.isdigit) and within a 32-bit INTEGER, so no lookup fails on the database instead of finding nothing."""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_INTEGER)):
        return None
    number = int(text)
    return number if 1 <= number <= MAX_INTEGER else None


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every database, SQLite included (which drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
