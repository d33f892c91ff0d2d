"""What one stream record of the event tables adds to the daily counts."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from consentry.addresses.reasons import FailureReason
from consentry.core.types import Channel, Source
from consentry.events.records import UnreadableStreamRecordError, read_record
from consentry.reporting.cells import (
    Cell,
    Series,
    Tally,
    UnreadableRecordError,
    analysis_tally,
    delivery_tally,
)
from consentry.reporting.counting import tally_of

AT = datetime(2026, 11, 20, 23, 59, 58, 123000, tzinfo=UTC)
DAY = date(2026, 11, 20)
_serializer = TypeSerializer()


def _stored(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f%z")


def _image(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in item.items()}


def consent_record(
    *,
    scope: str = "all",
    action: str = "opt_out",
    source: str = "landing",
    result: str | None = None,
    event_name: str = "INSERT",
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "profile_id": "p-1",
        "seq": 3,
        "at": _stored(AT),
        "scope": scope,
        "action": action,
        "source": source,
        "actor": "recipient",
        "hash": "ab" * 32,
        "prev_hash": "cd" * 32,
    }
    if result is not None:
        item["result"] = result
    return {
        "eventName": event_name,
        "dynamodb": {
            "Keys": _image({"profile_id": "p-1", "seq": 3}),
            "NewImage": _image(item),
            "SequenceNumber": "100",
        },
    }


def address_record(
    *,
    kind: str = "bounce",
    status: str = "quarantine",
    previous: str = "valid",
    reason: str | None = "user_unknown",
    error_type: str | None = "hard",
    address: str = "jane.doe@Example.COM",
    channel: str = "email",
    held: bool = False,
    event_name: str = "INSERT",
    old_status: str | None = None,
    version: int = 1,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    key = f"{channel}#{address}"
    item: dict[str, Any] = {
        "address_key": key,
        "event_id": f"{AT.isoformat()}#0123456789abcdef01234567",
        "at": _stored(AT),
        "kind": kind,
        "actor": "feedback",
        "detail": {
            "status": status,
            "previous_status": previous,
            "version": version,
            **(detail or {}),
        },
    }
    if reason is not None:
        item["reason"] = reason
    if error_type is not None:
        item["error_type"] = error_type
    if held:
        item["held_domain"] = "email#example.com"
    stream: dict[str, Any] = {
        "Keys": _image({"address_key": key, "event_id": item["event_id"]}),
        "NewImage": _image(item),
        "SequenceNumber": "200",
    }
    if old_status is not None:
        old = {**item, "detail": {"status": old_status, "version": version - 1}}
        old["held_domain"] = "email#example.com"
        stream["OldImage"] = _image(old)
    return {"eventName": event_name, "dynamodb": stream}


def tally(record: dict[str, Any]) -> Tally | None:
    return tally_of(read_record(record))


def cells(record: dict[str, Any]) -> set[tuple[Series, date, tuple[str, ...]]]:
    found = tally(record)
    assert found is not None
    return {(cell.series, cell.day, cell.dimensions) for cell in found.cells}


@pytest.mark.parametrize("source", [s.value for s in Source])
def test_an_opt_out_counts_by_its_source_and_for_all_channels(source: str) -> None:
    assert cells(consent_record(source=source)) == {
        (Series.CONSENT_BY_SOURCE, DAY, ("opt_out", source)),
        (Series.CONSENT_BY_CHANNEL, DAY, ("opt_out", "all")),
    }


@pytest.mark.parametrize("channel", [c.value for c in Channel])
def test_an_opt_in_of_one_channel_counts_by_that_channel(channel: str) -> None:
    record = consent_record(scope=f"channel:{channel}", action="opt_in", source="operator")

    assert cells(record) == {
        (Series.CONSENT_BY_SOURCE, DAY, ("opt_in", "operator")),
        (Series.CONSENT_BY_CHANNEL, DAY, ("opt_in", channel)),
    }


def test_the_day_is_the_events_own_utc_date_not_the_streams() -> None:
    (cell,) = [c for c in tally_cells(consent_record()) if c.series is Series.CONSENT_BY_SOURCE]

    assert cell.key == "2026-11-20#opt_out#landing"


def tally_cells(record: dict[str, Any]) -> tuple[Cell, ...]:
    found = tally(record)
    assert found is not None
    return found.cells


@pytest.mark.parametrize(
    ("action", "result", "state"),
    [
        ("subscribe", "pending", "pending"),
        ("confirm", None, "subscribed"),
        ("unsubscribe", "unsubscribed", "unsubscribed"),
    ],
)
def test_a_subscription_change_counts_by_the_state_it_led_to(
    action: str, result: str | None, state: str
) -> None:
    record = consent_record(scope="service:news#letter", action=action, result=result)

    assert cells(record) == {(Series.SUBSCRIPTIONS, DAY, (state, "news#letter"))}


@pytest.mark.parametrize("action", ["denylist", "release", "erase"])
def test_other_consent_actions_count_nothing(action: str) -> None:
    assert tally(consent_record(action=action)) is None


def test_a_consent_events_modification_counts_nothing() -> None:
    assert tally(consent_record(event_name="MODIFY")) is None


@pytest.mark.parametrize("reason", [r.value for r in FailureReason])
def test_a_quarantine_entry_counts_by_its_failure_reason(reason: str) -> None:
    record = address_record(reason=reason, error_type="soft")

    assert cells(record) == {(Series.QUARANTINE, DAY, ("entered", "quarantine", reason))}


def test_a_hard_bounce_counts_for_the_recipient_domain_and_as_an_entry() -> None:
    assert cells(address_record()) == {
        (Series.EMAIL_FEEDBACK, DAY, ("hard_bounce", "example.com")),
        (Series.QUARANTINE, DAY, ("entered", "quarantine", "user_unknown")),
    }


def test_a_complaint_counts_for_its_domain_and_as_a_denylist_entry() -> None:
    record = address_record(kind="complaint", status="denylisted", reason=None, error_type=None)

    assert cells(record) == {
        (Series.EMAIL_FEEDBACK, DAY, ("complaint", "example.com")),
        (Series.QUARANTINE, DAY, ("entered", "denylisted", "complaint")),
    }


def test_a_complaint_on_an_address_denylisted_already_still_counts_as_a_complaint() -> None:
    record = address_record(
        kind="complaint", status="denylisted", previous="denylisted", reason=None, error_type=None
    )

    assert cells(record) == {(Series.EMAIL_FEEDBACK, DAY, ("complaint", "example.com"))}


@pytest.mark.parametrize(
    ("kind", "previous"),
    [("release", "quarantine"), ("scheduled", "quarantine"), ("opt_in", "denylisted")],
)
def test_a_release_counts_by_what_released_it(kind: str, previous: str) -> None:
    record = address_record(kind=kind, status="valid", previous=previous, error_type=None)

    assert cells(record) == {(Series.QUARANTINE, DAY, ("released", previous, kind))}


def test_an_operators_free_text_reason_is_not_a_dimension() -> None:
    record = address_record(
        kind="operator", status="denylisted", reason="asked by phone, ticket 42", error_type=None
    )

    assert cells(record) == {(Series.QUARANTINE, DAY, ("entered", "denylisted", "operator"))}


def test_sms_keywords_count_as_entries_without_a_domain() -> None:
    record = address_record(
        kind="sms_keyword",
        status="denylisted",
        reason=None,
        error_type=None,
        channel="sms",
        address="+31612345678",
    )

    assert cells(record) == {(Series.QUARANTINE, DAY, ("entered", "denylisted", "sms_keyword"))}


def test_a_soft_bounce_that_changes_no_status_counts_nothing() -> None:
    record = address_record(status="erroneous", previous="erroneous", error_type="soft")

    assert tally(record) is None


def test_a_held_hard_bounce_counts_as_feedback_but_changes_nothing_yet() -> None:
    record = address_record(held=True, status="valid", previous="valid")

    assert cells(record) == {(Series.EMAIL_FEEDBACK, DAY, ("hard_bounce", "example.com"))}


def test_applying_held_feedback_counts_the_entry_once_more_under_its_own_marker() -> None:
    inserted = tally(address_record(held=True, status="valid", previous="valid"))
    applied = tally(address_record(event_name="MODIFY", old_status="valid", version=2))

    assert inserted is not None
    assert applied is not None
    assert {(c.series, c.dimensions) for c in applied.cells} == {
        (Series.QUARANTINE, ("entered", "quarantine", "user_unknown"))
    }
    assert applied.marker != inserted.marker


def test_a_modification_that_leaves_the_status_counts_nothing() -> None:
    record = address_record(event_name="MODIFY", old_status="quarantine", previous="quarantine")

    assert tally(record) is None


def test_a_redelivered_record_carries_the_same_marker_and_no_address() -> None:
    first, again = tally(address_record()), tally(address_record())

    assert first is not None
    assert again is not None
    assert first.marker == again.marker
    assert "jane" not in first.marker
    assert "example" not in first.marker
    assert len(first.marker) == 64


def test_deletions_count_nothing() -> None:
    record = address_record()
    record["eventName"] = "REMOVE"

    assert tally(record) is None


@pytest.mark.parametrize(
    "record",
    [{}, {"eventName": "INSERT"}, {"eventName": "INSERT", "dynamodb": None}],
    ids=["empty", "no-stream", "null-stream"],
)
def test_what_is_not_a_stream_record_cannot_be_read(record: dict[str, Any]) -> None:
    with pytest.raises(UnreadableStreamRecordError):
        read_record(record)


@pytest.mark.parametrize(
    "record",
    [
        {
            "eventName": "INSERT",
            "dynamodb": {"Keys": {"other": {"S": "x"}}, "NewImage": {}, "SequenceNumber": "1"},
        },
        consent_record(source="carrier pigeon"),
        consent_record(scope="channel:fax"),
        consent_record(scope="everything"),
        consent_record(scope="service:", action="subscribe"),
        address_record(kind="telepathy"),
        address_record(status="gone"),
        address_record(address="no-domain"),
    ],
    ids=[
        "other-table",
        "unknown-source",
        "unknown-channel",
        "unknown-scope",
        "service-without-id",
        "unknown-kind",
        "unknown-status",
        "address-without-domain",
    ],
)
def test_records_that_cannot_be_read_are_refused_as_such(record: dict[str, Any]) -> None:
    with pytest.raises(UnreadableRecordError):
        tally(record)


def test_a_record_whose_time_is_not_a_time_cannot_be_read() -> None:
    record = consent_record()
    record["dynamodb"]["NewImage"]["at"] = {"S": "yesterday"}

    with pytest.raises(UnreadableRecordError):
        tally(record)


def test_a_delivery_counts_for_its_recipient_and_sending_domains_on_its_own_day() -> None:
    tally = delivery_tally(
        "jane.doe@example.org", AT, "0123456789abcdef01234567", "Mail.Example.COM"
    )

    assert [(c.series, c.day, c.dimensions) for c in tally.cells] == [
        (Series.EMAIL_FEEDBACK, DAY, ("delivery", "example.org")),
        (Series.SENDING_FEEDBACK, DAY, ("delivery", "mail.example.com")),
    ]
    again = delivery_tally("x@example.org", AT, "0123456789abcdef01234567", None)
    assert tally.marker == again.marker
    assert "jane" not in tally.marker


@pytest.mark.parametrize("sender", [None, "", 42, "bad#domain"])
def test_a_sending_domain_that_is_not_one_is_left_out(sender: object) -> None:
    tally = delivery_tally("jane.doe@example.org", AT, "k", sender)

    assert [c.series for c in tally.cells] == [Series.EMAIL_FEEDBACK]


def test_a_complaint_counts_for_its_sending_domain_when_ses_named_it() -> None:
    record = address_record(
        kind="complaint",
        status="denylisted",
        reason=None,
        error_type=None,
        detail={"sender_domain": "mail.example.org"},
    )

    assert (Series.SENDING_FEEDBACK, DAY, ("complaint", "mail.example.org")) in cells(record)


def test_an_analysis_counts_once_per_execution_on_the_day_it_ended() -> None:
    first = analysis_tally("d-1", "arn:execution:1", AT, "succeeded")
    again = analysis_tally("d-1", "arn:execution:1", AT, "succeeded")
    rerun = analysis_tally("d-1", "arn:execution:2", AT, "succeeded")

    assert [(c.series, c.day, c.dimensions) for c in first.cells] == [
        (Series.ANALYSES, DAY, ("succeeded",))
    ]
    assert first.marker == again.marker
    assert rerun.marker != first.marker
