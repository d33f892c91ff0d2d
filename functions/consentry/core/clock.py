"""Time is passed in: rules take a clock so counting windows are testable without sleeping."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_text(at: datetime) -> str:
    """`at` in ISO 8601 as the JSON we write holds a time (pydantic's form): `Z` for a
    zero offset, microseconds only when there are any. The same as pydantic's for any
    offset of whole minutes (pydantic drops an offset's seconds; our times are UTC)."""
    text = at.isoformat()
    if at.utcoffset() == timedelta(0):
        return text.removesuffix("+00:00") + "Z"
    return text
