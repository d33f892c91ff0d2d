"""docs/events.md's schemas held to what the publisher sends, for records built from the
items the stores write (the same DynamoDB JSON the streams carry)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from consentry.addresses.events import AddressEvent
from consentry.addresses.history_store import lift_event_item, to_event_item
from consentry.consent.rules import ConsentChange, ConsentState, Scope, next_event
from consentry.consent.subscriptions import Subscription, SubscriptionStatus
from consentry.consent.tables import ConsentEventModel
from consentry.core.types import Action, Address, Channel, ProfileId, ServiceId, Source
from consentry.events.changes import DetailType, change_of
from consentry.events.publisher import StreamPublisher
from consentry.events.records import read_record
from tests.event_schemas import problems, schemas

AT = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)
PROFILE = ProfileId("p-1")


class Bus:
    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def put_events(self, *, Entries: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
        self.entries.extend(dict(entry) for entry in Entries)
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "e"} for _ in Entries]}


def record(item: Any, *, name: str = "INSERT", old: Any = None) -> dict[str, Any]:
    image = item.serialize()
    keys = {
        key: image[key] for key in ("profile_id", "seq", "address_key", "event_id") if key in image
    }
    stream: dict[str, Any] = {
        "Keys": keys,
        "NewImage": image,
        "SequenceNumber": "1",
        "ApproximateCreationDateTime": (AT + timedelta(seconds=1)).timestamp(),
    }
    if old is not None:
        stream["OldImage"] = old.serialize()
    return {"eventName": name, "dynamodb": stream}


def consent_item(scope: Scope, action: Action, subscription: Subscription | None = None) -> Any:
    change = ConsentChange(
        scope=scope, action=action, source=Source.LANDING, actor="recipient", requested_at=AT
    )
    event = next_event(ConsentState(profile_id=PROFILE), change, AT, subscription)
    return ConsentEventModel(
        **{name: value for name, value in asdict(event).items() if value is not None}
    )


def address_item(detail: dict[str, Any]) -> Any:
    return to_event_item(
        AddressEvent(
            channel=Channel.EMAIL,
            address=Address("jane.doe@example.com"),
            event_id=f"{AT.isoformat()}#abc",
            at=AT,
            kind="bounce",
            reason="user_unknown",
            actor="feedback",
            detail=detail,
        )
    )


SAMPLES = {
    "opt-out": consent_item(Scope.channel(Channel.EMAIL), Action.OPT_OUT),
    "erasure": consent_item(Scope.all(), Action.ERASE),
    "subscription": consent_item(
        Scope.service("news"),
        Action.SUBSCRIBE,
        Subscription(
            service_id=ServiceId("news"),
            profile_id=PROFILE,
            status=SubscriptionStatus.SUBSCRIBED,
            expires_at=AT + timedelta(days=90),
            updated_at=AT,
        ),
    ),
    "bounce": address_item({"status": "quarantine", "previous_status": "valid", "version": 1}),
    "lift": lift_event_item(
        Channel.EMAIL,
        f"e1:email:{'1' * 64}",
        at=AT,
        actor="operator-arn",
        reason="asked again in writing",
        cause="address_quarantined",
        masked="j***@example.com",
    ),
}


def key_of(channel: Channel, _address: Address) -> str:
    return f"e1:{channel.value}:{'0' * 64}"


def publish(*records: dict[str, Any]) -> list[dict[str, Any]]:
    bus = Bus()
    StreamPublisher(
        bus=bus,
        bus_name="bus",
        fingerprint=key_of,
        clock=lambda: AT,
    ).publish([read_record(record) for record in records])
    return bus.entries


def test_the_doc_has_one_schema_per_detail_type() -> None:
    assert set(schemas()) == {detail_type.value for detail_type in DetailType}


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_what_is_published_conforms_to_its_schema(sample: str) -> None:
    (entry,) = publish(record(SAMPLES[sample]))

    assert entry["Source"] == "consentry"
    assert problems(entry["DetailType"], json.loads(entry["Detail"])) == []


@pytest.mark.parametrize(
    "name", ["Consent Changed", "Subscription Changed", "Address Status Changed"]
)
def test_every_field_a_schema_names_is_one_the_publisher_can_send(name: str) -> None:
    sent: set[str] = set()
    for entry in publish(*(record(item) for item in SAMPLES.values())):
        if entry["DetailType"] == name:
            sent |= set(json.loads(entry["Detail"]))
    optional = set(schemas()[name]["properties"]) - set(schemas()[name]["required"])

    assert set(schemas()[name]["required"]) <= sent
    assert sent <= set(schemas()[name]["properties"])
    assert optional <= sent


def test_feedback_that_left_the_status_as_it_was_publishes_nothing() -> None:
    unchanged = address_item({"status": "erroneous", "previous_status": "erroneous", "version": 2})

    assert change_of(read_record(record(unchanged)), key_of) is None


def test_an_applied_held_error_publishes_the_status_it_changed() -> None:
    held = address_item({"status": "valid", "version": 1})
    held.held_domain = "email#example.com"
    applied = address_item(
        {"status": "quarantine", "previous_status": "valid", "version": 2, "decision": "applied"}
    )

    change = change_of(read_record(record(applied, name="MODIFY", old=held)), key_of)

    assert change is not None
    assert (change.detail["previousState"], change.detail["newState"]) == ("valid", "quarantine")
