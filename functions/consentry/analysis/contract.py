"""The delivery analysis's contract: the state machine's input and its output (the
analysis record), as pydantic models: the source of docs/schemas/ and of the operator
API's start route and reads. Plan checks the input against the same rules with msgspec
(`terms.check_request`, held to `AnalysisRequest` by a property test); what the steps
share (statuses, formats, errors, the request once checked) is in `terms`.

docs/analysis-contract.md describes it for callers; docs/schemas/ holds the JSON schemas
generated from these models (a contract test fails when they drift).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self

import msgspec
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from consentry.analysis.exclusion import ExclusionCause
from consentry.analysis.terms import AnalysisStatus, AudienceFormat, CheckedRequest
from consentry.core.types import Channel, MessageClass
from consentry.core.wire import WIRE_CONFIG, Count, Flag, IdentifierStr, Number

ColumnName = Annotated[str, StringConstraints(min_length=1, max_length=128)]
S3Uri = Annotated[
    str,
    StringConstraints(pattern=r"^s3://[^/]+/.+$", max_length=1100),
]


class _Contract(BaseModel):
    """camelCase on the wire, unknown fields refused (a typo is an error, not a default)."""

    model_config = WIRE_CONFIG


class Audience(_Contract):
    uri: S3Uri = Field(description="`s3://bucket/key` of the audience, in the data bucket")
    format: AudienceFormat = AudienceFormat.CSV
    profile_id_field: ColumnName = "profile_id"
    address_field: ColumnName = "address"


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

    def checked(self) -> CheckedRequest:
        """The request as the steps after Plan read it from the run's plan."""
        return msgspec.convert(
            self.model_dump(mode="json", by_alias=True, exclude_none=True), CheckedRequest
        )


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
