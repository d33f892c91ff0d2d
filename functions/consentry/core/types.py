"""One named type for each identifier and closed vocabulary of the domain."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, NewType

from pydantic import AwareDatetime, BeforeValidator, ConfigDict, Strict, StringConstraints
from pydantic.alias_generators import to_camel

ProfileId = NewType("ProfileId", str)
ServiceId = NewType("ServiceId", str)
DeliveryId = NewType("DeliveryId", str)
Address = NewType("Address", str)
"""A normalized address: a lower-cased email address or an E.164 phone number."""

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

IDENTIFIER_PATTERN = r"^[A-Za-z0-9._:@+\-]+$"
"""What a caller may send as an identifier (profile, service, delivery): printable, no
slash, no white space."""
IdentifierStr = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=IDENTIFIER_PATTERN)
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


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PHONE = "phone"
    DIRECT_MAIL = "direct_mail"
    PUSH = "push"


class MessageClass(StrEnum):
    MARKETING = "marketing"
    TRANSACTIONAL = "transactional"


class ScopeKind(StrEnum):
    ALL = "all"
    CHANNEL = "channel"
    SERVICE = "service"


class Action(StrEnum):
    OPT_IN = "opt_in"
    OPT_OUT = "opt_out"
    SUBSCRIBE = "subscribe"
    CONFIRM = "confirm"
    UNSUBSCRIBE = "unsubscribe"
    DENYLIST = "denylist"
    RELEASE = "release"
    ERASE = "erase"


class Source(StrEnum):
    LANDING = "landing"
    ONE_CLICK = "one_click"
    OPERATOR = "operator"
    API = "api"
    SMS_KEYWORD = "sms_keyword"
    FEEDBACK = "feedback"
    IMPORT = "import"


RECIPIENT_ACTOR = "recipient"
