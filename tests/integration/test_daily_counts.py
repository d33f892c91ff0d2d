"""Daily counts, filled through the local stack's stream path and read back without scans.

Changes are made through the stores (with a backdated clock where the day matters),
the tables' streams are read by the local stack's `StreamPoller` into the publisher,
as `make run` does, and the counts are read with `consentry.reporting.daily`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from pynamodb.connection import Connection
from pynamodb.exceptions import CancellationReason, TransactWriteError

from consentry.addresses.decisions import put_status, release
from consentry.addresses.status import AddressStatus
from consentry.consent import profile_store
from consentry.consent.rules import ConsentChange, Scope
from consentry.core.clock import utc_now
from consentry.core.errors import StoreUnavailableError
from consentry.core.settings import get_settings
from consentry.core.types import Action, Address, Channel, ProfileId, Source
from consentry.events.records import read_record
from consentry.reporting import counter_store, counting, daily
from consentry.reporting.cells import Cell, Direction, Series, Tally
from infra.local import moto_dynamodb
from infra.local.lambdas import LocalFunction
from infra.local.resources import create_resources
from infra.local.streams import StreamPoller, StreamSource
from tests.conftest import REGION, TEMPLATE
from tests.integration.conftest import STACK_TEMPLATE, Configure, lambda_context
from tests.integration.events_support import BUS_NAME, STREAMED_TABLES, EventsPath
from tests.integration.quarantine_support import FakeSms, FeedbackPath, ses

TODAY = utc_now().date()
COUNTS_TABLE = get_settings().daily_counts_table
PUBLISHER = TEMPLATE["Resources"]["PublisherFunction"]["Properties"]


def noon(days_ago: int) -> datetime:
    return datetime.combine(TODAY - timedelta(days=days_ago), time(12), UTC)


def clock_at(at: datetime) -> Callable[[], datetime]:
    return lambda: at


@pytest.fixture
def events(configure: Configure, table_names: dict[str, str]) -> EventsPath:
    configure(event_bus_name=BUS_NAME)
    return EventsPath(table_names)


def publisher(_function: LocalFunction, event: Any) -> Any:
    from publisher.handler import lambda_handler

    return lambda_handler(event, lambda_context("publisher"))


@pytest.fixture
def pollers(events: EventsPath) -> list[StreamPoller]:
    """The local stack's event source mappings of the publisher, one per stream."""
    function = LocalFunction(
        logical_id="PublisherFunction",
        name="publisher",
        arn="arn:aws:lambda:eu-west-1:123456789012:function:publisher",
        handler=str(PUBLISHER["Handler"]),
        code_dir=Path("functions"),
        memory_mb=512,
        timeout_s=60,
    )
    return [
        StreamPoller(
            StreamSource(
                function=function,
                stream_arn=events.stream_arns[table],
                batch_size=100,
                report_batch_item_failures=True,
                maximum_retry_attempts=10,
                on_failure_queue_arn=None,
            ),
            region=REGION,
            invoke=publisher,
        )
        for table in STREAMED_TABLES
    ]


def drain(pollers: list[StreamPoller]) -> None:
    while sum(poller.poll_once() for poller in pollers):
        pass


def opt_out(profile: str, source: Source, *, at: datetime, channel: Channel | None = None) -> None:
    profile_store.record_change(
        ProfileId(profile),
        ConsentChange(
            scope=Scope.channel(channel) if channel else Scope.all(),
            action=Action.OPT_OUT,
            source=source,
            actor="recipient" if source is not Source.OPERATOR else "operator@example.com",
        ),
        clock=clock_at(at),
    )


def test_changes_through_the_local_stream_path_land_in_their_days(
    pollers: list[StreamPoller],
) -> None:
    # Given opt-outs from each source on three days, made through the store
    sources = [Source.LANDING, Source.ONE_CLICK, Source.SMS_KEYWORD, Source.OPERATOR, Source.IMPORT]
    for number, source in enumerate(sources):
        opt_out(f"p-{number}", source, at=noon(number % 3))
    opt_out("p-sms", Source.LANDING, at=noon(0), channel=Channel.SMS)

    # When the local stack's pollers feed the streams to the publisher
    drain(pollers)

    # Then each opt-out counts on its own day, by source and by channel
    by_source = daily.consent_changes(Series.CONSENT_BY_SOURCE, today=TODAY, days=3)
    opt_outs = by_source["opt_out"]
    assert opt_outs.days == (TODAY - timedelta(days=2), TODAY - timedelta(days=1), TODAY)
    assert opt_outs.lines == {
        "import": (0, 1, 0),
        "landing": (0, 0, 2),
        "one_click": (0, 1, 0),
        "operator": (0, 0, 1),
        "sms_keyword": (1, 0, 0),
    }
    by_channel = daily.consent_changes(Series.CONSENT_BY_CHANNEL, today=TODAY, days=3)
    assert by_channel["opt_out"].lines == {"all": (1, 2, 2), "sms": (0, 0, 1)}
    assert by_source["opt_in"].lines == {}


def test_feedback_and_decisions_count_by_reason_and_domain(
    pollers: list[StreamPoller],
) -> None:
    # Given two hard bounces and a complaint from SES, and an operator's quarantine released
    feedback = FeedbackPath()
    yesterday = noon(1)
    feedback.publish(
        ses("bounce_hard", recipients=["a@example.com"], message_id="m-1", at=yesterday),
        ses("bounce_hard", recipients=["b@example.org"], message_id="m-2", at=yesterday),
        ses("complaint", recipients=["c@example.org"], message_id="m-3", at=yesterday),
    )
    feedback.drain(FakeSms())
    listed = put_status(
        Channel.EMAIL,
        Address("d@example.net"),
        AddressStatus.QUARANTINE,
        "mailbox_full",
        clock=clock_at(noon(2)),
    )
    assert listed is not None
    assert release(listed, "mailbox emptied", "operator@example.com", noon(1))

    # When the streams are read
    drain(pollers)

    # Then entries count by failure reason, releases by what released them
    changes = daily.quarantine_changes(today=TODAY, days=3)
    assert changes[Direction.ENTERED].lines == {
        "complaint": (0, 1, 0),
        "mailbox_full": (1, 0, 0),
        "user_unknown": (0, 2, 0),
    }
    assert changes[Direction.RELEASED].lines == {"release": (0, 1, 0)}
    # And complaints and hard bounces count per recipient domain, never per address
    rows = daily.feedback_by_domain(today=TODAY, days=3)
    assert [(r.domain, r.complaints, r.hard_bounces) for r in rows] == [
        ("example.org", 1, 1),
        ("example.com", 0, 1),
    ]
    assert rows[0].complaint_rate is None


def test_a_batch_delivered_again_counts_each_change_once(events: EventsPath) -> None:
    # Given 150 opt-outs on one day: more than one transaction holds
    for number in range(150):
        opt_out(f"p-{number}", Source.ONE_CLICK, at=noon(0))
    records = [read_record(record) for record in events.pending("ConsentEventsTable", 1000)]
    assert len(records) == 150

    # When the same records are counted three times (redeliveries, a retried batch)
    first = counting.count_records(records, utc_now())
    again = counting.count_records(records, utc_now())
    overlapping = counting.count_records(records[100:] + records[:10], utc_now())

    # Then each change counted once
    assert (first.counted, first.repeated) == (150, 0)
    assert (again.counted, again.repeated) == (0, 150)
    assert (overlapping.counted, overlapping.repeated) == (0, 60)
    lines = daily.consent_changes(Series.CONSENT_BY_SOURCE, today=TODAY, days=1)["opt_out"].lines
    assert lines == {"one_click": (150,)}


def test_when_the_counts_cannot_be_written_the_batch_comes_again_and_counts_once(
    events: EventsPath, pollers: list[StreamPoller]
) -> None:
    # Given an opt-out, and a counts table that is not there
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.delete_table(TableName=COUNTS_TABLE)
    opt_out("p-1", Source.LANDING, at=noon(0))

    # When the publisher gets its record
    consent_poller = pollers[STREAMED_TABLES.index("ConsentEventsTable")]
    assert consent_poller.poll_once() == 0  # the batch is reported for a retry

    # Then, once the table is back, the retry counts it once; the event went out twice
    create_resources(STACK_TEMPLATE, REGION, only=["DailyCountsTable"])
    assert consent_poller.poll_once() == 1
    assert consent_poller.poll_once() == 0
    lines = daily.consent_changes(Series.CONSENT_BY_SOURCE, today=TODAY, days=1)["opt_out"].lines
    assert lines == {"landing": (1,)}
    assert [event.detail["profileId"] for event in events.received()] == ["p-1", "p-1"]


def test_unreadable_records_are_skipped_and_the_rest_counted(events: EventsPath) -> None:
    opt_out("p-1", Source.IMPORT, at=noon(0))
    (record,) = events.pending("ConsentEventsTable", 10)
    broken = {**record, "dynamodb": {**record["dynamodb"], "NewImage": {"at": {"S": "never"}}}}

    counted = counting.count_records([read_record(broken), read_record(record)], utc_now())

    assert (counted.counted, counted.unreadable) == (1, 1)


def test_the_counts_read_fails_as_the_store_being_unavailable() -> None:
    boto3.client("dynamodb", region_name=REGION).delete_table(TableName=COUNTS_TABLE)

    with pytest.raises(StoreUnavailableError):
        daily.quarantine_changes(today=TODAY)


# ---------------------------------------------------------------- reads per page view


@pytest.fixture
def dynamodb_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of every DynamoDB operation pynamodb sends, in order."""
    calls: list[str] = []
    dispatch = Connection.dispatch

    def counted(self: Connection, operation_name: str, operation_kwargs: Any) -> Any:
        calls.append(operation_name)
        return dispatch(self, operation_name, operation_kwargs)

    monkeypatch.setattr(Connection, "dispatch", counted)
    return calls


def dashboard_reads(calls: list[str]) -> list[str]:
    calls.clear()
    daily.dashboard(today=TODAY)
    daily.subscription_changes(today=TODAY)
    return list(calls)


def seed_changes(count: int) -> None:
    """`count` opt-outs over 30 days, from every source, of all channels or one, as the
    publisher counts them (tallies of distinct changes, added in batches)."""
    sources = [s.value for s in Source if s not in (Source.API, Source.FEEDBACK)]
    channels = ["all", Channel.EMAIL.value, Channel.SMS.value]
    tallies = [
        Tally(
            f"change-{number}",
            (
                Cell(Series.CONSENT_BY_SOURCE, day, ("opt_out", sources[number % len(sources)])),
                Cell(Series.CONSENT_BY_CHANNEL, day, ("opt_out", channels[number % 3])),
            ),
        )
        for number in range(count)
        for day in [TODAY - timedelta(days=number % 30)]
    ]
    for start in range(0, count, 100):
        counter_store.add(tallies[start : start + 100], utc_now())


@pytest.fixture
def lean_transactions() -> Iterator[None]:
    """moto's transactions without their copy of every table (as the local stack runs
    them): seeding a thousand changes takes seconds, not a minute."""
    undo = moto_dynamodb.install()
    yield
    undo()


@pytest.mark.parametrize("changes", [10, 1_000])
@pytest.mark.usefixtures("lean_transactions")
def test_the_dashboards_reads_do_not_grow_with_the_changes(
    dynamodb_calls: list[str], changes: int
) -> None:
    # Given `changes` opt-outs over 30 days, counted
    seed_changes(changes)

    # When the dashboard's series are read
    calls = dashboard_reads(dynamodb_calls)

    # Then it is one Query per series, with 10 changes as with 1,000
    assert calls == ["Query"] * 7
    opt_outs = daily.dashboard(today=TODAY).opt_outs_by_source
    assert sum(opt_outs.total(label) for label in opt_outs.labels) == changes


def test_a_day_range_beyond_a_year_is_refused() -> None:
    with pytest.raises(Exception, match="days"):
        daily.day_range(date(2026, 12, 2), 400)


def test_deliveries_count_per_domain_once_and_give_the_rates(
    pollers: list[StreamPoller],
) -> None:
    # Given SES deliveries to two domains, one notification delivered twice, and a complaint
    feedback = FeedbackPath()
    yesterday = noon(1)
    delivery = ses(
        "delivery",
        recipients=[f"r{n}@example.org" for n in range(8)] + ["s@example.com"],
        message_id="m-d1",
        at=yesterday,
    )
    feedback.publish(
        delivery,
        delivery,
        ses(
            "delivery",
            recipients=["r0@example.org", "r1@example.org"],
            message_id="m-d2",
            at=yesterday,
        ),
        ses("complaint", recipients=["r3@example.org"], message_id="m-c1", at=yesterday),
    )

    # When the feedback function applies them, and the publisher reads the streams
    feedback.drain(FakeSms())
    drain(pollers)

    # Then each delivery counts once for its domain, and the rates follow
    rows = {row.domain: row for row in daily.feedback_by_domain(today=TODAY, days=2)}
    assert rows["example.org"].deliveries == 10
    assert rows["example.com"].deliveries == 1
    assert rows["example.org"].complaints == 1
    assert rows["example.org"].complaint_rate == pytest.approx(0.1)
    assert rows["example.com"].complaint_rate == 0
    assert daily.feedback_by_domain(today=TODAY, days=2)[0].domain == "example.org"
    # And by the sending domain SES named (the fixtures' source: news@mail.example.org)
    (sending,) = daily.feedback_by_domain(today=TODAY, days=2, sending=True)
    assert (sending.domain, sending.deliveries, sending.complaints) == ("mail.example.org", 11, 1)


def test_a_delivery_that_cannot_be_counted_comes_again_and_counts_once() -> None:
    feedback = FeedbackPath()
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.delete_table(TableName=COUNTS_TABLE)
    feedback.publish(ses("delivery", recipients=["r@example.org"], message_id="m-d", at=noon(0)))

    response = feedback.invoke(feedback.sqs_event(feedback.receive()), FakeSms())
    assert len(response["batchItemFailures"]) == 1

    create_resources(STACK_TEMPLATE, REGION, only=["DailyCountsTable"])
    feedback.sqs.purge_queue(QueueUrl=feedback.queue_url)
    feedback.publish(ses("delivery", recipients=["r@example.org"], message_id="m-d", at=noon(0)))
    feedback.drain(FakeSms())
    (row,) = daily.feedback_by_domain(today=TODAY, days=1)
    assert row.deliveries == 1


class _Conflict(TransactWriteError):
    """A transaction DynamoDB cancelled for a concurrent one on the same item."""

    @property
    def cancellation_reasons(self) -> list[CancellationReason | None]:
        return [None, CancellationReason(code="TransactionConflict")]


def conflicting(monkeypatch: pytest.MonkeyPatch, times: int) -> None:
    """Make the next `times` transactions of the counts collide with another."""
    real = counter_store._transaction
    left = [times]

    def transaction(tallies: list[Tally], now: datetime) -> None:
        if left[0] > 0:
            left[0] -= 1
            raise _Conflict("cancelled")
        real(tallies, now)

    monkeypatch.setattr(counter_store, "_transaction", transaction)


def one_opt_out() -> Tally:
    return Tally("m-1", (Cell(Series.CONSENT_BY_SOURCE, TODAY, ("opt_out", "landing")),))


def test_a_transaction_that_collides_is_tried_again_and_counts_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conflicting(monkeypatch, times=3)

    added = counter_store.add([one_opt_out()], utc_now())

    assert (added.counted, added.repeated) == (1, 0)
    by_source = daily.consent_changes(Series.CONSENT_BY_SOURCE, today=TODAY, days=1)
    assert by_source["opt_out"].lines == {"landing": (1,)}


def test_a_transaction_that_keeps_colliding_is_the_store_being_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conflicting(monkeypatch, times=1_000)

    with pytest.raises(StoreUnavailableError):
        counter_store.add([one_opt_out()], utc_now())
