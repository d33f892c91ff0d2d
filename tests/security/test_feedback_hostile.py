"""Feedback as a hostile (or broken) sender could make it: a notification whose
recipients mix addresses and garbage applies every address and loses nothing; only a
notification with nothing applicable is refused (and, after its receives, dead-lettered),
and then nothing is written."""

from __future__ import annotations

import json
from collections.abc import Callable
from copy import deepcopy
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consentry.addresses import address_store
from consentry.addresses.counting import QuarantinePolicy
from consentry.addresses.feedback import MalformedFeedbackError
from consentry.addresses.normalize import normalize_email
from consentry.addresses.status import AddressStatus
from consentry.core.types import Address, Channel
from quarantine.ingest import FeedbackIngest
from quarantine.sms import ReplyTexts, SmsKeywords
from tests.integration.quarantine_support import FakeSms

EVENTS = Path(__file__).resolve().parents[1] / "events"
BOUNCE: dict[str, Any] = json.loads((EVENTS / "ses_bounce_hard.json").read_text())
NOW = datetime(2026, 12, 1, tzinfo=UTC)
MESSAGES = count()

GARBAGE = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "@", "a@", "@b.com", "no at sign", "a@@b.com", "a b@c.com"]),
).filter(lambda text: normalize_email(text) is None)
RECIPIENTS = st.lists(
    st.one_of(st.builds(lambda n: f"user{n}@example.com", st.integers(0, 10**9)), GARBAGE),
    min_size=1,
    max_size=8,
)


def ingest() -> FeedbackIngest:
    keywords = SmsKeywords(
        FakeSms(), ReplyTexts("a", "b", "c"), origination_identity=None, clock=lambda: NOW
    )
    never_an_outage = QuarantinePolicy(outage_min_failures=10**9)
    return FeedbackIngest(never_an_outage, keywords, default_region="US", clock=lambda: NOW)


def bounce_to(recipients: list[str]) -> SQSRecord:
    document = deepcopy(BOUNCE)
    template = document["bounce"]["bouncedRecipients"][0]
    document["bounce"]["bouncedRecipients"] = [{**template, "emailAddress": r} for r in recipients]
    document["mail"]["messageId"] = f"hostile-{next(MESSAGES)}"
    return SQSRecord({"messageId": "m", "body": json.dumps(document), "attributes": {}})


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(RECIPIENTS)
def test_every_address_among_garbage_recipients_is_applied(
    stored_state: Callable[[], dict[str, list[str]]], recipients: list[str]
) -> None:
    addresses = {a for r in recipients if (a := normalize_email(r)) is not None}
    before = stored_state()

    if not addresses:
        with pytest.raises(MalformedFeedbackError):
            ingest().handle(bounce_to(recipients))
        assert stored_state() == before
        return
    ingest().handle(bounce_to(recipients))

    for address in addresses:
        found = address_store.find_address(Channel.EMAIL, Address(address))
        assert found is not None
        assert found.status is AddressStatus.QUARANTINE
