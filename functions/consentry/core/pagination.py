"""Opaque cursors for paginated lists: DynamoDB's last evaluated key, base64url JSON."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from consentry.core.errors import InvalidInputError

T = TypeVar("T")


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


def decode_cursor(
    cursor: str | None, shape: Mapping[str, str], fixed: Mapping[str, str] | None = None
) -> dict[str, Any] | None:
    """The start key a cursor names, refused unless it is a key of the list being read.

    `shape` gives each key attribute's DynamoDB type ("S" or "N"), `fixed` the values
    the list's partition pins. Without the check a cursor of another list (or a made-up
    one) reaches DynamoDB, which rejects it as a server error instead of as the
    caller's mistake.
    """
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidInputError("cursor", "not a cursor this API gave out") from None
    if not _fits(key, shape, fixed or {}):
        raise InvalidInputError("cursor", "not a cursor of this list")
    return dict(key)


def _fits(key: Any, shape: Mapping[str, str], fixed: Mapping[str, str]) -> bool:
    if not isinstance(key, dict) or set(key) != set(shape):
        return False
    for name, kind in shape.items():
        value = key[name]
        if not isinstance(value, dict) or set(value) != {kind}:
            return False
        text = value[kind]
        if not isinstance(text, str) or not text:
            return False
        if kind == "N" and not text.lstrip("-").isdigit():
            return False
        if name in fixed and text != fixed[name]:
            return False
    return True
