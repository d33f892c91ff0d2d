"""What the analysis steps' handlers share: the plan they read, and the error they leave."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from analyze.outcome import record_step_error
from consentry.analysis import files
from consentry.analysis.run import RunPlan


def load_plan(ref: dict[str, Any]) -> RunPlan:
    """The plan `planRef` names (Plan wrote it to the data bucket)."""
    return RunPlan.model_validate_json(files.get_bytes(ref["bucket"], ref["key"]))


@contextmanager
def keeping_error(plan: RunPlan, step: str) -> Iterator[None]:
    """Run a map's step; if it fails, leave its error for RecordFailure, then fail.

    `step` names the error file: `1-partition-00003` (the number orders the steps, so
    the first file is the earliest step's error)."""
    try:
        yield
    except Exception as error:
        record_step_error(plan.bucket, plan.prefix, step, error)
        raise
