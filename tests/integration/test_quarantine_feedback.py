"""SES notifications through SNS -> SQS -> the quarantine function, on moto."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from consentry.addresses import address_store, decisions, history_store
from consentry.addresses.events import AddressEvent
from consentry.addresses.status import COMPLAINT_ORIGIN, AddressState, AddressStatus
from consentry.analysis.exclusion import address_cause
from consentry.core.types import Address, Channel
from tests.integration.helpers import present
from tests.integration.quarantine_support import (
    FeedbackPath,
    address_events,
    address_states,
    metric_total,
    ses,
    snapshot,
)

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(params=[False, True], ids=["sns-envelope", "raw-delivery"])
def path(request: pytest.FixtureRequest) -> FeedbackPath:
    return FeedbackPath(raw=request.param)


@pytest.fixture
def envelope_path() -> FeedbackPath:
    return FeedbackPath()


def state(address: str, channel: Channel = Channel.EMAIL) -> AddressState:
    return present(address_store.find_address(channel, Address(address)))


@pytest.mark.parametrize(
    ("name", "address"),
    [("bounce_hard", "jane.roe@example.com"), ("event_bounce_hard", "old.account@example.com")],
)
def test_a_hard_bounce_quarantines_the_address_at_once(
    path: FeedbackPath, name: str, address: str
) -> None:
    path.publish(ses(name))

    path.drain()

    quarantined = state(address)
    assert quarantined.status is AddressStatus.QUARANTINE
    assert quarantined.reason == "user_unknown"
    assert quarantined.release_at is None
    [event] = address_events()
    assert (event.kind, event.error_type, event.detail["status"]) == (
        "bounce",
        "hard",
        "quarantine",
    )


def test_a_soft_bounce_makes_the_address_erroneous(path: FeedbackPath) -> None:
    path.publish(ses("bounce_soft"))

    path.drain()

    erroneous = state("sam.poe@example.net")
    assert (erroneous.status, erroneous.error_count, erroneous.reason) == (
        AddressStatus.ERRONEOUS,
        1,
        "unreachable",
    )


def test_the_fifth_mailbox_full_a_day_apart_quarantines_until_thirty_days_later(
    envelope_path: FeedbackPath,
) -> None:
    for day in range(5):
        envelope_path.publish(
            ses("event_bounce_mailbox_full", message_id=f"m-{day}", at=T0 + timedelta(days=day))
        )

    envelope_path.drain()

    quarantined = state("ann.lee@example.org")
    assert (quarantined.status, quarantined.error_count) == (AddressStatus.QUARANTINE, 5)
    assert quarantined.release_at == T0 + timedelta(days=4 + 30)


def test_soft_bounces_arriving_newest_first_count_as_in_order(
    envelope_path: FeedbackPath,
) -> None:
    for day in (8, 6, 4, 2, 0):  # two days apart, newest first, one batch each
        envelope_path.publish(
            ses("bounce_soft", message_id=f"m-{day}", at=T0 + timedelta(days=day))
        )
        envelope_path.drain()

    quarantined = state("sam.poe@example.net")
    assert (quarantined.status, quarantined.error_count) == (AddressStatus.QUARANTINE, 5)


def test_a_late_delivery_dated_between_soft_bounces_resets_the_count_it_interrupts(
    envelope_path: FeedbackPath,
) -> None:
    for day in (0, 2, 4, 6, 8):
        envelope_path.publish(
            ses("bounce_soft", message_id=f"m-{day}", at=T0 + timedelta(days=day))
        )
    envelope_path.drain()
    assert state("sam.poe@example.net").status is AddressStatus.QUARANTINE

    envelope_path.publish(
        ses("delivery", message_id="d-5", at=T0 + timedelta(days=5)),
        ses("delivery", message_id="d-5", at=T0 + timedelta(days=5)),
    )
    envelope_path.drain()

    counted = state("sam.poe@example.net")
    assert (counted.status, counted.error_count) == (AddressStatus.ERRONEOUS, 2)


def test_soft_bounces_within_a_day_count_once(envelope_path: FeedbackPath) -> None:
    for minutes in (0, 30, 600):
        envelope_path.publish(
            ses("bounce_soft", message_id=f"m-{minutes}", at=T0 + timedelta(minutes=minutes))
        )

    envelope_path.drain()

    assert state("sam.poe@example.net").error_count == 1
    assert len(address_events()) == 3  # each bounce is history, counted or not


@pytest.mark.parametrize(
    ("name", "address"),
    [("complaint", "kim.doe@example.com"), ("event_complaint", "lou.ray@example.com")],
)
def test_a_complaint_denylists_with_the_complaint_origin(
    path: FeedbackPath, name: str, address: str
) -> None:
    path.publish(ses(name))

    path.drain()

    denylisted = state(address)
    assert denylisted.status is AddressStatus.DENYLISTED
    assert denylisted.denylist_origins == frozenset({COMPLAINT_ORIGIN})


def test_a_not_spam_complaint_changes_nothing(envelope_path: FeedbackPath) -> None:
    notification = ses("complaint")
    notification["complaint"]["complaintFeedbackType"] = "not-spam"
    envelope_path.publish(notification)

    envelope_path.drain()

    assert address_states() == {}


@pytest.mark.parametrize("name", ["delivery", "event_delivery"])
def test_a_delivery_resets_the_counter(path: FeedbackPath, name: str) -> None:
    path.publish(ses("bounce_soft", at=T0))
    path.drain()

    path.publish(ses(name, at=T0 + timedelta(hours=1)))
    path.drain()

    healthy = state("sam.poe@example.net")
    assert (healthy.status, healthy.error_count, healthy.last_counted_error_at) == (
        AddressStatus.VALID,
        0,
        None,
    )
    assert [e.kind for e in address_events()] == ["bounce", "delivery"]


def test_a_delivery_to_a_healthy_address_is_kept_for_the_counting_and_in_no_history(
    envelope_path: FeedbackPath,
) -> None:
    envelope_path.publish(ses("delivery"), ses("event_delivery"), ses("delivery"))

    envelope_path.drain()

    states = list(address_states().values())
    assert {(s.address, s.status) for s in states} == {("sam.poe@example.net", AddressStatus.VALID)}
    assert [o.outcome.value for o in states[0].occurrences] == ["success", "success"]
    assert address_events() == []


def test_events_without_feedback_are_acknowledged_and_change_nothing(
    envelope_path: FeedbackPath,
) -> None:
    envelope_path.publish(ses("event_open"))

    envelope_path.drain()

    assert envelope_path.responses == [{"batchItemFailures": []}]
    assert address_events() == []


def test_an_ignored_bounce_never_counts(envelope_path: FeedbackPath) -> None:
    notification = ses("bounce_soft")
    notification["bounce"]["bounceSubType"] = "MessageTooLarge"
    envelope_path.publish(notification)

    envelope_path.drain()

    assert address_states() == {}


def test_unknown_fields_are_ignored(envelope_path: FeedbackPath) -> None:
    notification = ses("bounce_hard", newTopLevel={"x": 1})
    notification["bounce"]["someNewField"] = [1, 2]
    notification["bounce"]["bouncedRecipients"][0]["newRecipientField"] = "y"
    notification["mail"]["brandNew"] = None
    envelope_path.publish(notification)

    envelope_path.drain()

    assert state("jane.roe@example.com").status is AddressStatus.QUARANTINE


def test_every_recipient_of_a_notification_is_applied(envelope_path: FeedbackPath) -> None:
    recipients = ["a@example.com", "B@Example.com", "c@example.org"]
    envelope_path.publish(ses("bounce_hard", recipients=recipients))

    envelope_path.drain()

    assert set(address_states()) == {
        ("email", "a@example.com"),
        ("email", "b@example.com"),
        ("email", "c@example.org"),
    }


def test_an_allowlisted_address_stays_targeted_after_a_hard_bounce(
    envelope_path: FeedbackPath,
) -> None:
    decisions.put_status(
        Channel.EMAIL, Address("jane.roe@example.com"), AddressStatus.ALLOWLISTED, "seed address"
    )
    envelope_path.publish(ses("bounce_hard"))

    envelope_path.drain()

    seed = state("jane.roe@example.com")
    assert seed.status is AddressStatus.ALLOWLISTED
    assert seed.error_status is AddressStatus.QUARANTINE
    assert address_cause(seed) is None


def test_a_redelivered_batch_changes_nothing(envelope_path: FeedbackPath) -> None:
    envelope_path.publish(
        ses("bounce_soft", at=T0),
        ses("bounce_hard"),
        ses("complaint"),
        ses("event_bounce_mailbox_full"),
        ses("delivery", recipients=["sam.poe@example.net"], at=T0 + timedelta(hours=2)),
    )
    [event] = envelope_path.drain()
    before = snapshot()

    response = envelope_path.invoke(json.loads(json.dumps(event)))

    assert response == {"batchItemFailures": []}
    assert snapshot() == before


def test_a_redelivered_soft_bounce_does_not_count_after_a_reset(
    envelope_path: FeedbackPath,
) -> None:
    envelope_path.publish(ses("bounce_soft", message_id="m-1", at=T0))
    envelope_path.publish(ses("bounce_soft", message_id="m-2", at=T0 + timedelta(hours=1)))
    envelope_path.drain()
    envelope_path.publish(ses("delivery", at=T0 + timedelta(hours=2)))
    envelope_path.drain()

    envelope_path.publish(ses("bounce_soft", message_id="m-2", at=T0 + timedelta(hours=1)))
    envelope_path.drain()

    assert state("sam.poe@example.net").error_count == 0


def test_a_poison_message_lands_in_the_dead_letter_queue_while_its_batch_is_applied(
    envelope_path: FeedbackPath,
) -> None:
    good = [ses("bounce_hard", recipients=[f"user{i}@example.com"]) for i in range(4)]
    broken = ses("bounce_hard")
    del broken["bounce"]["bouncedRecipients"]
    envelope_path.publish(good[0], good[1], "not json at all", good[2], broken, good[3])

    batches = envelope_path.drain()

    assert len(batches[0]["Records"]) == 6  # one batch held the poison and the good
    assert {s.address for s in address_states().values()} == {
        f"user{i}@example.com" for i in range(4)
    }
    dead = envelope_path.dead_letters()
    assert len(dead) == 2
    assert sorted(json.loads(body)["Message"][:8] for body in dead) == ["not json", '{"notifi']


def test_a_recipient_that_is_not_an_address_is_poison(envelope_path: FeedbackPath) -> None:
    envelope_path.publish(ses("bounce_hard", recipients=["not-an-address"]))

    envelope_path.drain()

    assert len(envelope_path.dead_letters()) == 1
    assert address_states() == {}


def test_a_bounce_applies_its_valid_recipient_and_records_the_malformed_one(
    envelope_path: FeedbackPath,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    envelope_path.publish(
        ses("bounce_hard", recipients=["Jane.Roe@example.com", "broken.recipient at example"])
    )

    envelope_path.drain()

    assert envelope_path.dead_letters() == []
    assert state("jane.roe@example.com").status is AddressStatus.QUARANTINE
    assert metric_total(capsys.readouterr().out, "Consentry", "FeedbackRecipientsMalformed") == 1
    (skipped,) = [r for r in caplog.records if "not addresses were skipped" in r.getMessage()]
    assert "broken.recipient" not in str(skipped.__dict__)


def test_a_quarantined_address_from_before_is_not_changed_by_a_soft_bounce(
    envelope_path: FeedbackPath,
) -> None:
    history_store.record(
        AddressState(channel=Channel.EMAIL, address=Address("sam.poe@example.net")),
        AddressState(
            channel=Channel.EMAIL,
            address=Address("sam.poe@example.net"),
            error_status=AddressStatus.QUARANTINE,
            reason="user_unknown",
            error_count=1,
        ),
        _seed_event("sam.poe@example.net"),
    )
    envelope_path.publish(ses("bounce_soft"))

    envelope_path.drain()

    assert (state("sam.poe@example.net").reason, state("sam.poe@example.net").error_count) == (
        "user_unknown",
        1,
    )


def _seed_event(address: str) -> AddressEvent:
    from consentry.addresses.events import AddressEvent

    return AddressEvent(
        channel=Channel.EMAIL,
        address=Address(address),
        event_id="2026-01-01T00:00:00+00:00#seed",
        at=datetime(2026, 1, 1, tzinfo=UTC),
        kind="operator",
        actor="test",
    )
