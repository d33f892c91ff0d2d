"""The strict types and the model configuration of what callers send and are sent: the
operator API's bodies and answers, the analysis contract.

Kept apart from consentry.core.types, which every function imports at init, so that a
function that validates nothing from a caller does not load pydantic for them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BeforeValidator, ConfigDict, Strict, StringConstraints
from pydantic.alias_generators import to_camel

from consentry.core.types import IDENTIFIER_MAX_LENGTH, IDENTIFIER_PATTERN

WIRE_CONFIG = ConfigDict(
    alias_generator=to_camel,
    populate_by_name=True,
    frozen=True,
    extra="forbid",
    defer_build=True,
)
"""The configuration of a model read from or written to callers (the operator API, the
analysis contract): camelCase on the wire, unknown fields refused (a typo is an error,
not a default), built at first use (a request or a step uses a few shapes, not all)."""

IdentifierStr = Annotated[
    str,
    StringConstraints(min_length=1, max_length=IDENTIFIER_MAX_LENGTH, pattern=IDENTIFIER_PATTERN),
]


def _iso_text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date and time, such as 2026-01-01T00:00:00Z")
    return value


# What a caller may send for a flag, a number or a time: JSON's own types, no coercion
# (a "yes" is not a true, a 0 is not a date).
def _whole_number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a whole number")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("must be a whole number")
        return int(value)
    return value


Flag = Annotated[bool, Strict()]
Count = Annotated[int, BeforeValidator(_whole_number)]
"""A JSON integer (2 and 2.0 alike, as JSON Schema counts them), never text or a flag."""
Number = Annotated[float, Strict()]
Moment = Annotated[AwareDatetime, BeforeValidator(_iso_text)]
"""A time with its UTC offset, sent as ISO 8601 text."""
