"""What every step of the analysis shares and none has to validate: its statuses and
audience formats, the errors that stop it, where a run's objects go, and the request
as Plan checked it.

Plan checks the state machine's input against the contract (`contract.AnalysisRequest`,
pydantic: it comes from the caller) and stores it in the run's plan; every other step
reads it back from there as a `CheckedRequest`, a msgspec struct: the same fields and
the same JSON, decoded without loading pydantic (docs/decisions.md, "The steps pass
msgspec structs").
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

from consentry.core.errors import ConflictError, InvalidInputError
from consentry.core.types import Channel, MessageClass, ServiceId


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


class Checked(msgspec.Struct, rename="camel", frozen=True, kw_only=True):
    """A part of the request Plan checked: camelCase, as the contract writes it."""


class CheckedAudience(Checked, frozen=True, kw_only=True):
    uri: str
    format: AudienceFormat = AudienceFormat.CSV
    profile_id_field: str = "profile_id"
    address_field: str = "address"

    @property
    def bucket(self) -> str:
        return self.uri.removeprefix("s3://").partition("/")[0]

    @property
    def key(self) -> str:
        return self.uri.removeprefix("s3://").partition("/")[2]


class CheckedControl(Checked, frozen=True, kw_only=True):
    percent: float
    seed: str | int


class CheckedRequest(Checked, frozen=True, kw_only=True):
    """`contract.AnalysisRequest` once Plan has checked it."""

    delivery_id: str
    channel: Channel
    message_class: MessageClass
    service_id: str | None = None
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
