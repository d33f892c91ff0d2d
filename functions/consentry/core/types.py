"""One named type for each identifier and closed vocabulary of the domain.

Plain values, no pydantic: every function imports this module at init. What callers
send is validated with the strict types of consentry.core.wire."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import NewType

ProfileId = NewType("ProfileId", str)
ServiceId = NewType("ServiceId", str)
DeliveryId = NewType("DeliveryId", str)
Address = NewType("Address", str)
"""A normalized address: a lower-cased email address or an E.164 phone number."""

IDENTIFIER_PATTERN = r"^[A-Za-z0-9._:@+\-]+$"
"""What a caller may send as an identifier (profile, service, delivery): printable, no
slash, no white space."""
IDENTIFIER_MAX_LENGTH = 128
MAX_PAGE = 100
"""The most items one page of a list holds (the stores read lists through
consentry.core.pagination)."""
_IDENTIFIER = re.compile(IDENTIFIER_PATTERN.removeprefix("^").removesuffix("$"))


def is_identifier(value: object) -> bool:
    """Whether `value` is an identifier as `consentry.core.wire.IdentifierStr` takes one,
    checked without pydantic (by a function that reads one from a state it did not
    validate)."""
    return (
        isinstance(value, str)
        and len(value) <= IDENTIFIER_MAX_LENGTH
        and _IDENTIFIER.fullmatch(value) is not None
    )


def is_text(value: str) -> bool:
    """Whether `value` is valid Unicode text. JSON may escape half of a UTF-16 pair, which
    Python decodes to a lone surrogate: no store or encoder can hold one."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
