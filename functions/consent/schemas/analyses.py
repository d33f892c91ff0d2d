"""The shapes of /v1/deliveries: starting an analysis, explaining a row's verdict."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from consent.commands import ApiModel
from consentry.analysis.exclusion import ExclusionCause
from consentry.analysis.terms import AnalysisStatus


class AnalysisStarted(ApiModel):
    delivery_id: str
    execution_arn: str
    status: AnalysisStatus


class ExplainedRow(ApiModel):
    row: int
    """The row's number in the audience: 1 is the first row after the header."""
    profile_id: str
    address: str
    verdict: Literal["targeted"] | ExclusionCause


class ExplainOut(ApiModel):
    delivery_id: str
    consent_as_of: datetime | None
    rows: list[ExplainedRow]
    """Every row of the audience with this address (and profile id, when given)."""
