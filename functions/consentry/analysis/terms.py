"""What every step of the analysis shares: its statuses and audience formats, the
errors that stop it, where a run's objects go, and the request as Plan checked it.

The contract's request is `contract.AnalysisRequest`, a pydantic model: the operator
API's start route validates its body with it, and docs/schemas/analysis-input.json is
generated from it. Plan, the first step, checks the state machine's input with
`check_request` instead: the same rules as msgspec constraints on `CheckedRequest`, so
that no step loads pydantic (docs/decisions.md, "Plan checks its input with msgspec").
A property test holds the two to the same verdicts and the same values
(tests/unit/test_analysis_request_check.py). Plan stores the request in the run's
plan; every other step reads it back from there as a `CheckedRequest`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import msgspec

from consentry.core.errors import ConflictError, InvalidInputError
from consentry.core.types import (
    IDENTIFIER_MAX_LENGTH,
    IDENTIFIER_PATTERN,
    Channel,
    MessageClass,
    ServiceId,
    is_text,
)


class AnalysisStatus(StrEnum):
    PENDING = "PENDING"
    """Started through the API; the execution has not claimed the record yet."""
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class AudienceFormat(StrEnum):
    CSV = "csv"
    """RFC 4180, comma-separated, UTF-8, with a header row naming the columns."""
    JSONL = "jsonl"
    """One JSON object per line, UTF-8."""


# The contract's constraints (consentry.analysis.contract), as msgspec states them. A
# pattern is matched with `re.search`, where `$` also matches before a final newline:
# `\Z` is the end of the text, as `$` is in pydantic's patterns.
Identifier = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=IDENTIFIER_MAX_LENGTH,
        pattern=IDENTIFIER_PATTERN.removesuffix("$") + r"\Z",
    ),
]
ColumnName = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
S3Uri = Annotated[str, msgspec.Meta(max_length=1100, pattern=r"^s3://[^/]+/.+\Z")]
Percent = Annotated[float, msgspec.Meta(ge=0.001, lt=100)]
TextSeed = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
NumberSeed = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


class Checked(
    msgspec.Struct, rename="camel", frozen=True, kw_only=True, forbid_unknown_fields=True
):
    """A part of the request Plan checked: camelCase, as the contract writes it, and no
    field the contract does not name."""


class CheckedAudience(Checked, frozen=True, kw_only=True):
    uri: S3Uri
    format: AudienceFormat = AudienceFormat.CSV
    profile_id_field: ColumnName = "profile_id"
    address_field: ColumnName = "address"

    @property
    def bucket(self) -> str:
        return self.uri.removeprefix("s3://").partition("/")[0]

    @property
    def key(self) -> str:
        return self.uri.removeprefix("s3://").partition("/")[2]


class CheckedControl(Checked, frozen=True, kw_only=True):
    percent: Percent
    seed: TextSeed | NumberSeed


class CheckedRequest(Checked, frozen=True, kw_only=True):
    """`contract.AnalysisRequest` once Plan has checked it."""

    delivery_id: Identifier
    channel: Channel
    message_class: MessageClass
    service_id: Identifier | None = None
    audience: CheckedAudience
    control_group: CheckedControl | None = None
    dry_run: bool = False
    force: bool = False

    @property
    def service(self) -> ServiceId | None:
        return ServiceId(self.service_id) if self.service_id else None

    @property
    def marketing(self) -> bool:
        return self.message_class is MessageClass.MARKETING

    def document(self) -> dict[str, Any]:
        """The request as the contract writes it: camelCase, absent values left out."""
        written: dict[str, Any] = msgspec.to_builtins(self)
        return {name: value for name, value in written.items() if value is not None}


def check_request(raw: object) -> CheckedRequest:
    """The state machine's input checked against the contract, or InvalidInputError
    naming the first field that is wrong (its camelCase path, e.g. `audience.uri`).

    Strict, as the contract is: JSON's own types, no text read as a number or a flag.
    One exception, also the contract's: a seed of 2.0 is the number 2, as JSON Schema
    counts numbers."""
    if not isinstance(raw, dict):
        raise InvalidInputError("request", "the input must be a JSON object")
    try:
        checked = msgspec.convert(_whole_seed(raw), CheckedRequest, strict=True)
    except msgspec.ValidationError as error:
        raise InvalidInputError(*_field_and_message(str(error))) from None
    for field, text in _texts(checked):
        if not is_text(text):  # msgspec takes a lone surrogate; pydantic does not
            raise InvalidInputError(field, "is not valid Unicode text")
    return checked


def _texts(request: CheckedRequest) -> list[tuple[str, str]]:
    """The request's free text, by field: what no pattern or enum keeps to ASCII."""
    audience, group = request.audience, request.control_group
    texts = [
        ("audience.uri", audience.uri),
        ("audience.profileIdField", audience.profile_id_field),
        ("audience.addressField", audience.address_field),
        ("controlGroup.seed", group.seed if group is not None else None),
    ]
    return [(field, text) for field, text in texts if isinstance(text, str)]


def _whole_seed(raw: dict[str, Any]) -> dict[str, Any]:
    group = raw.get("controlGroup")
    if not isinstance(group, dict):
        return raw
    seed = group.get("seed")
    if isinstance(seed, float) and seed.is_integer():
        return {**raw, "controlGroup": {**group, "seed": int(seed)}}
    return raw


_NAMED_FIELD = {
    "Object missing required field `": "required",
    "Object contains unknown field `": "unknown field",
}


def _field_and_message(error: str) -> tuple[str, str]:
    """msgspec's `<what> - at `$.a.b`` as (`a.b`, what); a missing or unknown field is
    named in the message, and becomes part of the path."""
    what, found, where = error.rpartition(" - at `$")  # the value may be in `what`
    if not found:
        what, where = error, ""
    path = [part for part in where.rstrip("`").split(".") if part]
    for opening, message in _NAMED_FIELD.items():
        if what.startswith(opening):
            return ".".join([*path, what.removeprefix(opening).rstrip("`")]), message
    return ".".join(path) or "request", what


class AudienceError(InvalidInputError):
    """The audience cannot be read as the request describes it (no retry helps)."""

    def __init__(self, message: str) -> None:
        super().__init__("audience", message)


def run_prefix(delivery_id: str, execution_arn: str) -> str:
    """`analyses/<deliveryId>/<execution name>/`; execution names are unique per machine."""
    return f"analyses/{delivery_id}/{execution_arn.rsplit(':', 1)[-1]}/"


CHANGED = "the audience was changed or deleted after the analysis started; start it again"
"""What an analysis says when the audience is no longer the version Plan saw."""


class AnalysisConflictError(ConflictError):
    """The delivery has an analysis that is done or running; `force` replaces it."""


class IncompleteAnalysisError(Exception):
    """The pieces of an analysis do not add up: a shard or part is missing or stale.

    Never expected; it stops the analysis rather than writing a result that might
    target a row without a verdict.
    """
