"""The proof-of-consent chain's hash input is a stored format: the hashes of events
written by every earlier version must keep verifying. These hashes were computed when
the format was pinned; a change to how an event's fields are written out (times, time
zones, enums, text beyond ASCII, absent values) breaks them here first."""

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from consentry.consent.rules import (
    FORM_1_FIELDS,
    GENESIS_HASH,
    ConsentChange,
    ConsentEvent,
    ConsentState,
    Scope,
    advance,
    first_broken_link,
    next_event,
)
from consentry.consent.subscriptions import Subscription, SubscriptionStatus
from consentry.core.types import Action, ProfileId, ServiceId, Source

PLUS_TWO = timezone(timedelta(hours=2))
MINUS_FIVE_THIRTY = timezone(-timedelta(hours=5, minutes=30))
SUBSCRIPTION = Subscription(
    service_id=ServiceId("news"),
    profile_id=ProfileId("p-1"),
    status=SubscriptionStatus.SUBSCRIBED,
    expires_at=datetime(2026, 9, 1, 8, 0, tzinfo=UTC),
    updated_at=datetime(2026, 3, 1, tzinfo=UTC),
)
PINNED = {
    "form-2-channel": "d165f915d0ebd58da349faafd73c1e006fd0e19974fb0bd0f7e23a9310c14cec",
    "form-2-service": "fed5e97e635a7d770843f70d88d000047efd3de2dca3316572e5487abdcf3008",
    "form-1": "2875f536b7fc98f896e5895ada3abe3cc3b6c31a093485e9bf12142e87438a5f",
}


def salts() -> Callable[[], str]:
    values = iter(["00" * 16, "ab" * 16])
    return lambda: next(values)


def cases() -> Iterator[tuple[str, ConsentEvent]]:
    state = ConsentState(profile_id=ProfileId("p-1"), head_seq=4, head_hash="f" * 64)
    yield (
        "form-2-channel",
        next_event(
            state,
            ConsentChange(
                scope=Scope.parse("channel:email"),
                action=Action.OPT_OUT,
                source=Source.LANDING,
                actor="recipient",
                requested_at=datetime(2026, 3, 1, 9, 59, 58, 250000, tzinfo=UTC),
                reason="Zu viele Mails: ça suffit ✉",
                ip="203.0.113.7",
                user_agent="Mozilla/5.0 (iPhone)",
                delivery_id="d-1",
                wording_version="v2",
            ),
            datetime(2026, 3, 1, 10, 0, tzinfo=UTC),
            salt=salts(),
        ),
    )
    yield (
        "form-2-service",
        next_event(
            state,
            ConsentChange(
                scope=Scope.service("news"), action=Action.SUBSCRIBE, source=Source.API, actor="crm"
            ),
            datetime(2026, 3, 1, 12, 30, 0, 1, tzinfo=PLUS_TWO),
            subscription=SUBSCRIPTION,
            salt=salts(),
        ),
    )
    yield (
        "form-1",
        ConsentEvent(
            profile_id=ProfileId("p-2"),
            seq=1,
            at=datetime(2025, 12, 31, 23, 59, 59, 999999, tzinfo=MINUS_FIVE_THIRTY),
            scope="all",
            action=Action.OPT_IN,
            source=Source.ONE_CLICK,
            actor="recipient",
            ip="198.51.100.1",
            user_agent="curl",
            expires_at=datetime(2027, 1, 1, tzinfo=UTC),
            prev_hash=GENESIS_HASH,
            hash="",
        ),
    )


@pytest.mark.parametrize(("name", "event"), list(cases()), ids=lambda value: str(value)[:14])
def test_the_hash_of_an_event_is_the_pinned_one(name: str, event: ConsentEvent) -> None:
    assert event.computed_hash() == PINNED[name]
    if event.form == 2:
        assert event.hash == PINNED[name]


def test_a_pinned_form_1_event_verifies_as_the_head_of_its_chain() -> None:
    """An event of form 1 as it was stored, its hash over every field in clear."""
    (_, _, (_, legacy)) = cases()
    signed = replace(legacy, hash=PINNED["form-1"])
    _, second = next_chained(signed)

    assert first_broken_link([signed, second]) is None
    assert first_broken_link([replace(signed, ip="192.0.2.1"), second]) == 1
    erased = signed.erased(datetime(2026, 6, 1, tzinfo=UTC))
    assert first_broken_link([erased, second]) is None  # its link still holds
    assert first_broken_link([replace(erased, prev_hash="f" * 64), second]) == 1


def next_chained(head: ConsentEvent) -> tuple[ConsentState, ConsentEvent]:
    """The state after one more change, chained after `head`."""
    state = ConsentState(profile_id=head.profile_id, head_seq=head.seq, head_hash=head.hash)
    change = ConsentChange(
        scope=Scope.all(), action=Action.OPT_OUT, source=Source.LANDING, actor="recipient"
    )
    step = advance(state, change, datetime(2026, 3, 2, tzinfo=UTC))
    assert step is not None
    return step


MINUTES = st.integers(-(24 * 60 - 1), 24 * 60 - 1)
OFFSETS = st.one_of(st.just(UTC), MINUTES.map(lambda m: timezone(timedelta(minutes=m))))
TIMES = st.datetimes(timezones=OFFSETS)


@given(at=TIMES, expires_at=st.none() | TIMES, reason=st.none() | st.text())
def test_any_value_enters_the_hash_as_pydantic_wrote_it(
    at: datetime, expires_at: datetime | None, reason: str | None
) -> None:
    """Until the events were dataclasses, pydantic's JSON form of the fields was the hash
    input: it stays the oracle for any time, whole-minute offset (pydantic drops an
    offset's seconds; our times are UTC) and text."""
    event = ConsentEvent(
        profile_id=ProfileId("p-1"),
        seq=7,
        at=at,
        scope="channel:sms",
        action=Action.OPT_OUT,
        source=Source.SMS_KEYWORD,
        actor="recipient",
        reason=reason,
        result=SubscriptionStatus.PENDING,
        expires_at=expires_at,
        prev_hash=GENESIS_HASH,
        hash="",
    )
    written = TypeAdapter(dict[str, Any]).dump_python(
        {name: getattr(event, name) for name in FORM_1_FIELDS}, mode="json"
    )
    canonical = json.dumps(written, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    assert event.computed_hash() == hashlib.sha256(canonical.encode()).hexdigest()
