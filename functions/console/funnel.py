"""An analysis as a funnel: from the audience, each exclusion cause in the order the
rules apply takes its rows away, down to the target. The numbers are the record's;
the bars are drawn by the template as SVG (widths as attributes: the pages' CSP allows
no inline style)."""

from __future__ import annotations

from dataclasses import dataclass

from consentry.analysis.contract import AnalysisRecord
from consentry.analysis.exclusion import ExclusionCause

CAUSE_LABELS = {
    ExclusionCause.ADDRESS_MISSING: "No address",
    ExclusionCause.ADDRESS_INVALID: "Invalid address",
    ExclusionCause.ADDRESS_DENYLISTED: "Denylisted address",
    ExclusionCause.ADDRESS_QUARANTINED: "Quarantined address",
    ExclusionCause.PROFILE_OPTED_OUT: "Profile opted out",
    ExclusionCause.NOT_SUBSCRIBED: "Not subscribed to the service",
    ExclusionCause.DUPLICATE: "Duplicate address",
    ExclusionCause.CONTROL_GROUP: "Control group",
}
BAR_WIDTH = 600
"""The SVG width of a bar that stands for the whole audience."""


@dataclass(frozen=True)
class Step:
    label: str
    cause: str | None
    """The exclusion cause's code; None for the audience and the target."""
    rows: int
    """Rows this step takes away (a cause), or holds (the audience, the target)."""
    remaining: int
    """Rows left after this step."""
    width: int
    remaining_width: int
    percent: str


def _width(rows: int, audience: int) -> int:
    if audience <= 0 or rows <= 0:
        return 0
    return max(1, round(BAR_WIDTH * rows / audience))


def _percent(rows: int, audience: int) -> str:
    return f"{100 * rows / audience:.1f} %" if audience > 0 else "-"


def funnel(record: AnalysisRecord) -> list[Step]:
    """The audience, one step per cause, the target; empty until the record has counts."""
    if record.excluded is None or record.audience_size is None:
        return []
    audience = record.audience_size
    steps = [
        Step(
            "Audience",
            None,
            audience,
            audience,
            _width(audience, audience),
            _width(audience, audience),
            _percent(audience, audience),
        )
    ]
    remaining = audience
    for cause in ExclusionCause:
        rows = getattr(record.excluded, cause.value)
        remaining -= rows
        steps.append(
            Step(
                CAUSE_LABELS[cause],
                cause.value,
                rows,
                remaining,
                _width(rows, audience),
                _width(remaining, audience),
                _percent(rows, audience),
            )
        )
    target = record.target_size if record.target_size is not None else remaining
    steps.append(
        Step(
            "Target",
            None,
            target,
            target,
            _width(target, audience),
            _width(target, audience),
            _percent(target, audience),
        )
    )
    return steps
