"""The local stack publishes every change on its bus, and `.local/events.jsonl` holds
what a system listening on the bus receives."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import ROOT
from tests.event_schemas import problems
from tests.stack import Stack, running_stack

pytestmark = pytest.mark.stack

ONE_CLICK = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def table_names() -> None:
    """Overrides the package's autouse moto setup: these tests talk to the stack's own moto."""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("stack")) as started:
        yield started


def logged(stack: Stack, wanted: Any, timeout_s: float = 30) -> list[dict[str, Any]]:
    """The events in the stack's events log that `wanted` picks, once there are some."""
    path = Path(stack.state["events"])
    deadline = time.monotonic() + timeout_s
    while True:
        text = path.read_text()
        complete = text[: text.rfind("\n") + 1]  # not a line the stack is still writing
        events = [json.loads(line) for line in complete.splitlines() if line]
        found = [event for event in events if wanted(event)]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_a_one_click_opt_out_reaches_the_events_log_with_every_field(stack: Stack) -> None:
    profile = stack.state["profiles"][1]

    requests.post(
        profile["one_click_url"], data="List-Unsubscribe=One-Click", headers=ONE_CLICK, timeout=10
    )

    (event,) = logged(
        stack,
        lambda e: (
            e["detail-type"] == "Consent Changed"
            and e["detail"]["profileId"] == profile["profile_id"]
            and e["detail"]["source"] == "one_click"
        ),
    )
    assert event["source"] == "consentry"
    assert problems("Consent Changed", event["detail"]) == []


def test_a_hard_bounce_reaches_the_events_log_without_the_address(stack: Stack) -> None:
    bounce = json.loads((ROOT / "tests" / "events" / "ses_bounce_hard.json").read_text())
    address = "local-events-bounce@example.com"
    bounce["bounce"]["bouncedRecipients"][0]["emailAddress"] = address
    bounce["mail"]["destination"] = [address]

    stack.client("sns").publish(
        TopicArn=stack.state["feedback_topic_arn"], Message=json.dumps(bounce)
    )

    (event,) = logged(
        stack,
        lambda e: (
            e["detail-type"] == "Address Status Changed"
            and e["detail"]["maskedAddress"] == "l***@example.com"
        ),
    )
    assert event["detail"]["newState"] == "quarantine"
    assert address not in json.dumps(event)
    assert problems("Address Status Changed", event["detail"]) == []


def test_a_hard_bounce_puts_the_address_on_ses_suppression_list_in_the_outbox(
    stack: Stack,
) -> None:
    bounce = json.loads((ROOT / "tests" / "events" / "ses_bounce_hard.json").read_text())
    address = "local-ses-bounce@example.com"
    bounce["bounce"]["bouncedRecipients"][0]["emailAddress"] = address
    bounce["mail"]["destination"] = [address]

    stack.client("sns").publish(
        TopicArn=stack.state["feedback_topic_arn"], Message=json.dumps(bounce)
    )

    outbox = Path(stack.state["outbox"])
    deadline = time.monotonic() + 30
    expected = {
        "service": "sesv2",
        "operation": "PutSuppressedDestination",
        "EmailAddress": address,
        "Reason": "BOUNCE",
    }
    while expected not in (calls := [json.loads(x) for x in outbox.read_text().splitlines() if x]):
        assert time.monotonic() < deadline, calls
        time.sleep(0.2)
