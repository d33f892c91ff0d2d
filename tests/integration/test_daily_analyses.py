"""Delivery analyses count in the day they ended, through the analysis state machine."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from consentry.core.clock import utc_now
from consentry.core.settings import get_settings
from consentry.reporting import daily
from tests.conftest import REGION
from tests.integration.analysis_support import AnalysisStack, analysis_state_machine


@pytest.fixture
def stack(table_names: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[AnalysisStack]:
    with analysis_state_machine(monkeypatch) as started:
        yield started


def test_a_succeeded_and_a_failed_analysis_count_in_their_day(stack: AnalysisStack) -> None:
    # Given an analysis that succeeds and one whose audience is missing
    uri = stack.upload([{"profile_id": "p1", "address": "a@example.com"}])
    assert stack.run(stack.request("counted-ok", uri)).status == "SUCCEEDED"
    missing = stack.request("counted-failed", uri.replace("test.csv", "missing.csv"))
    assert stack.run(missing).status == "FAILED"

    # When the day's analyses are read
    analyses = daily.analyses(today=utc_now().date(), days=1)

    # Then each counts once, by how it ended
    assert analyses.lines == {"failed": (1,), "succeeded": (1,)}


def test_an_analysis_succeeds_even_when_it_cannot_be_counted(stack: AnalysisStack) -> None:
    boto3.client("dynamodb", region_name=REGION).delete_table(
        TableName=get_settings().daily_counts_table
    )
    uri = stack.upload([{"profile_id": "p1", "address": "a@example.com"}])

    execution = stack.run(stack.request("uncounted", uri))

    assert execution.status == "SUCCEEDED", execution.cause
