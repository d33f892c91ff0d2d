"""The field types the operator API's shapes share: reasons, addresses, flags."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, StringConstraints, WithJsonSchema

from consentry.core.wire import Flag


def _not_null(value: object) -> object:
    if value is None:
        raise ValueError("must be true or false; leave it out to keep it as it is")
    return value


Choice = Annotated[Flag | None, BeforeValidator(_not_null), WithJsonSchema({"type": "boolean"})]
"""A flag that may be left out (and then keeps what it was), but is never null."""


MAX_REASON = 500


Reason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_REASON)
]
"""Why a change is made: required of operators, kept in the history."""


Locale = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[A-Z]{2})?$")]


RawAddress = Annotated[str, StringConstraints(min_length=1, max_length=320)]


FailureReasonFilter = Annotated[str, StringConstraints(min_length=1, max_length=MAX_REASON)]


Domain = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_lower=True, min_length=1, max_length=253, pattern=r"^[^\s#@]+$"
    ),
]
