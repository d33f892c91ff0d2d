"""The delivery analysis's contract: the state machine's input, its output (the analysis
record), and the errors that stop an analysis.

docs/analysis-contract.md describes it for callers; docs/schemas/ holds the JSON schemas
generated from these models (a contract test fails when they drift).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from consentry.analysis.exclusion import ExclusionCause
from consentry.core.errors import ConflictError, InvalidInputError
from consentry.core.types import Channel, DeliveryId, MessageClass, ServiceId
from consentry.core.wire import WIRE_CONFIG, Count, Flag, IdentifierStr, Number

ColumnName = Annotated[str, StringConstraints(min_length=1, max_length=128)]
S3Uri = Annotated[
    str,
    StringConstraints(pattern=r"^s3://[^/]+/.+$", max_length=1100),
]


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


class _Contract(BaseModel):
    """camelCase on the wire, unknown fields refused (a typo is an error, not a default)."""

    model_config = WIRE_CONFIG


class Audience(_Contract):
    uri: S3Uri = Field(description="`s3://bucket/key` of the audience, in the data bucket")
    format: AudienceFormat = AudienceFormat.CSV
    profile_id_field: ColumnName = "profile_id"
    address_field: ColumnName = "address"

    @property
    def bucket(self) -> str:
        return self.uri.removeprefix("s3://").partition("/")[0]

    @property
    def key(self) -> str:
        return self.uri.removeprefix("s3://").partition("/")[2]


class ControlGroup(_Contract):
    percent: Number = Field(
        ge=0.001, lt=100, description="Share of the target held back, in % (at least 0.001)"
    )
    seed: (
        Annotated[str, StringConstraints(min_length=1, max_length=128)]
        | Annotated[Count, Field(ge=-(2**63), le=2**63 - 1)]
    ) = Field(description="The same seed draws the same sample (text, or a 64-bit integer)")


class AnalysisOptions(_Contract):
    """What to analyze, for a delivery named elsewhere (the API's path names it)."""

    channel: Channel
    message_class: MessageClass
    service_id: IdentifierStr | None = Field(
        default=None, description="The delivery goes to this service's subscribers only"
    )
    audience: Audience
    control_group: ControlGroup | None = None
    dry_run: Flag = Field(default=False, description="Count only: no target is written")
    force: Flag = Field(
        default=False, description="Replace the result of a delivery analyzed before"
    )


class AnalysisRequest(AnalysisOptions):
    """The state machine's input."""

    delivery_id: IdentifierStr

    @property
    def delivery(self) -> DeliveryId:
        return DeliveryId(self.delivery_id)

    @property
    def service(self) -> ServiceId | None:
        return ServiceId(self.service_id) if self.service_id else None

    @property
    def marketing(self) -> bool:
        return self.message_class is MessageClass.MARKETING


class ExclusionCounts(BaseModel):
    """Rows excluded by each cause of domain.md section 6, zeros included."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    address_missing: int = Field(ge=0)
    address_invalid: int = Field(ge=0)
    address_denylisted: int = Field(ge=0)
    address_quarantined: int = Field(ge=0)
    profile_opted_out: int = Field(ge=0)
    not_subscribed: int = Field(ge=0)
    duplicate: int = Field(ge=0)
    control_group: int = Field(ge=0)

    @classmethod
    def of(cls, counts: dict[ExclusionCause, int]) -> Self:
        return cls.model_validate({cause.value: counts.get(cause, 0) for cause in ExclusionCause})

    @property
    def total(self) -> int:
        return sum(getattr(self, cause.value) for cause in ExclusionCause)


class TargetRef(_Contract):
    uri: str = Field(description="Prefix of the target's parts; read them in name order")
    parts: int = Field(ge=0)


class LogRef(_Contract):
    uri: str = Field(description="Prefix of the exclusion log's parts (CSV: row,profile_id,...)")


class AnalysisError(_Contract):
    type: str = Field(description="The error's name, e.g. AudienceError, StoreUnavailableError")
    message: str


class AnalysisRecord(_Contract):
    """The state machine's output, and the record `GET .../analysis` answers."""

    delivery_id: str
    status: AnalysisStatus
    execution_arn: str | None = None
    dry_run: bool = False
    consent_as_of: datetime | None = Field(
        default=None, description="When the consent and address data were read"
    )
    audience_size: int | None = Field(default=None, ge=0)
    target_size: int | None = Field(default=None, ge=0)
    excluded: ExclusionCounts | None = None
    target: TargetRef | None = Field(
        default=None, description="None while running, on failure and in a dry run"
    )
    exclusion_log: LogRef | None = None
    error: AnalysisError | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


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
