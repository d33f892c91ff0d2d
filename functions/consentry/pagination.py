"""Opaque cursors for paginated lists: DynamoDB's last evaluated key, base64url JSON."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from consentry.errors import InvalidInputError

T = TypeVar("T")

MAX_PAGE = 100


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    cursor: str | None
    """Pass back to read the next page; None on the last page."""


def encode_cursor(last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    raw = json.dumps(last_key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidInputError("cursor", "not a cursor this API gave out") from None
    if not isinstance(key, dict) or not all(
        isinstance(v, dict) and len(v) == 1 and next(iter(v)) in ("S", "N") for v in key.values()
    ):
        raise InvalidInputError("cursor", "not a cursor this API gave out")
    return key
