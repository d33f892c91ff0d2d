"""The outage guard: a burst of failures for one domain is held, not counted, until an
operator releases or applies it (/v1/outages)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from consentry.addresses import address_store, domain_windows, history_store
from consentry.addresses import look_back as retroactive
from consentry.addresses.counting import QuarantinePolicy
from consentry.addresses.decisions import current_state
from consentry.addresses.domain_windows import LookBack
from consentry.addresses.events import (
    FEEDBACK_ACTOR,
    PROCESSED_AT,
    AddressEvent,
    EventKind,
    event_id,
    held_key,
)
from consentry.addresses.feedback import AddressFeedback, FeedbackKind
from consentry.addresses.look_back import LookBackPass
from consentry.addresses.reasons import ErrorType
from consentry.addresses.status import AddressState, AddressStatus
from consentry.core.clock import utc_now
from consentry.core.errors import StoreUnavailableError
from consentry.core.observability import metrics
from consentry.core.types import Address, Channel
from tests.conftest import TEMPLATE
from tests.integration.conftest import ApiCall
from tests.integration.quarantine_support import FeedbackPath, address_states, metric_total, ses

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

NOW = datetime.now(UTC)
"""This test's instant: `fresh_now` takes it again before each test."""

pytestmark = pytest.mark.usefixtures("fresh_now")
OUTAGE = 200
"""Soft bounces for example.com within minutes: hundreds, a provider outage."""


@pytest.fixture(autouse=True)
def no_metrics_left() -> Iterator[None]:
    """A test that calls the guard outside a handler leaves its metrics unflushed: the
    next test's handler would print them as its own."""
    yield
    metrics.clear_metrics()


@pytest.fixture
def path() -> FeedbackPath:
    return FeedbackPath()


@pytest.fixture
def small_outages(monkeypatch: pytest.MonkeyPatch) -> int:
    """The guard trips at 20 failures: the defaults (50) are held by the first test."""
    from quarantine import handler

    monkeypatch.setattr(handler, "policy", QuarantinePolicy(outage_min_failures=20))
    return 20


def seed_one_error_from_quarantine(address: str) -> None:
    """An address with 4 counted soft errors, the last two days ago: its next counted
    soft error quarantines it."""
    erroneous = AddressState(
        channel=Channel.EMAIL,
        address=Address(address),
        error_status=AddressStatus.ERRONEOUS,
        reason="unreachable",
        error_count=4,
        last_counted_error_at=NOW - timedelta(days=2),
        updated_at=NOW - timedelta(days=2),
    )
    address_store.to_item(erroneous, version=1).save()


def soft_bounce(address: str, i: int, minutes: float) -> dict[str, Any]:
    return ses(
        "bounce_soft",
        recipients=[address],
        message_id=f"outage-{i}",
        at=NOW - timedelta(minutes=minutes),
    )


def quarantined() -> set[Address]:
    return {
        s.address for s in address_states().values() if s.error_status is AddressStatus.QUARANTINE
    }


def outage_of_example_com(path: FeedbackPath, count: int = OUTAGE) -> list[str]:
    addresses = [f"user{i:03}@example.com" for i in range(count)]
    for address in addresses:
        seed_one_error_from_quarantine(address)
    for i, address in enumerate(addresses):
        path.publish(soft_bounce(address, i, minutes=10 - i * 8 / count))
    path.drain()
    return addresses


def hold_looking_back(key: str, since: datetime) -> LookBack:
    """Start a hold of the domain whose pass holds the failures applied since `since`."""
    now = utc_now()
    look_back = LookBack(since=since, cursor=None, lease=now + timedelta(seconds=90))
    started = domain_windows.start_hold(
        key, now=now, until=now + timedelta(hours=4), failures=0, attempts=0, look_back=look_back
    )
    assert started
    return look_back


def failure_of(address: str, message_id: str) -> AddressFeedback:
    return AddressFeedback(
        kind=FeedbackKind.BOUNCE,
        channel=Channel.EMAIL,
        address=Address(address),
        at=NOW,
        message_id=message_id,
        error_type=ErrorType.SOFT,
    )


def test_the_control_a_few_soft_bounces_quarantine_addresses_one_error_away(
    path: FeedbackPath,
) -> None:
    addresses = outage_of_example_com(path, count=10)

    assert quarantined() == set(addresses)


def test_an_outage_quarantines_nobody_until_an_operator_applies_the_held_errors(
    path: FeedbackPath, api: ApiCall
) -> None:
    addresses = outage_of_example_com(path)

    assert quarantined() == set()
    outages = api("GET", "/v1/outages")["json"]["items"]
    assert [(o["channel"], o["domain"], o["holding"], o["heldErrors"]) for o in outages] == [
        ("email", "example.com", True, OUTAGE)
    ]

    applied = api(
        "POST",
        "/v1/outages/email/example.com/apply",
        json_body={"reason": "provider confirmed the bounces are real", "limit": 1000},
    )

    assert applied["statusCode"] == 200
    assert (applied["json"]["decided"], applied["json"]["remaining"]) == (OUTAGE, 0)
    assert quarantined() == set(addresses)
    assert api("GET", "/v1/outages")["json"]["items"] == []


def test_released_held_errors_never_count_and_the_domain_is_counted_again(
    path: FeedbackPath, api: ApiCall, small_outages: int
) -> None:
    addresses = outage_of_example_com(path, count=30)

    released = api(
        "POST",
        "/v1/outages/email/example.com/release",
        json_body={"reason": "provider outage 2026-11-30, see incident 42"},
    )

    assert (released["statusCode"], released["json"]["decided"]) == (200, 30)
    assert {s.error_count for s in address_states().values()} == {4}
    history = api("GET", f"/v1/addresses/email/{addresses[0]}")["json"]["history"]
    # The first failures were applied before the guard tripped, then held again.
    assert [event["kind"] for event in history] == ["outage_hold", "bounce"]
    assert history[1]["detail"]["decision"] == "released"
    assert history[1]["held"] is False
    path.publish(soft_bounce(addresses[0], 999, minutes=0))
    path.drain()
    assert quarantined() == {addresses[0]}


def test_failures_processed_hours_late_are_held_with_the_outage_they_belong_to(
    path: FeedbackPath, api: ApiCall, small_outages: int
) -> None:
    """A backlog: the bounces happened three hours ago and are processed now. The window
    counts them as they are processed, so they trip it now; those applied before the
    trip are found by when they were applied, and held with the rest."""
    addresses = [f"user{i:03}@example.com" for i in range(30)]
    for address in addresses:
        seed_one_error_from_quarantine(address)
    for i, address in enumerate(addresses):
        path.publish(soft_bounce(address, i, minutes=180 - i * 0.1))
    path.drain()

    assert quarantined() == set()
    outage = api("GET", "/v1/outages/email/example.com")["json"]
    assert (outage["holding"], outage["heldErrors"]) == (True, 30)


def test_a_bounce_held_before_the_hold_looks_back_does_not_hide_the_applied_one(
    path: FeedbackPath,
) -> None:
    """Another container holds a second bounce of the address before the retroactive
    pass reaches it: held feedback changed nothing, so the applied bounce is held too."""
    from quarantine import handler

    seed_one_error_from_quarantine("x@example.com")
    path.publish(soft_bounce("x@example.com", 1, minutes=5))
    path.drain()
    assert quarantined() == {"x@example.com"}
    key = held_key(Channel.EMAIL, "example.com")
    history_store.add_held(
        current_state(Channel.EMAIL, Address("x@example.com")),
        AddressEvent(
            channel=Channel.EMAIL,
            address=Address("x@example.com"),
            event_id=event_id(NOW, "held-meanwhile"),
            at=NOW,
            kind=EventKind.BOUNCE,
            actor=FEEDBACK_ACTOR,
            detail={PROCESSED_AT: utc_now()},
            held_domain=key,
        ),
    )

    the_pass = LookBackPass(handler.policy, utc_now, pages=5)
    assert (
        the_pass.hold_applied(key, hold_looking_back(key, NOW - timedelta(hours=1)), utc_now()) == 1
    )
    assert quarantined() == set()


def test_feedback_folded_into_the_base_stays_applied_when_the_hold_looks_back(
    path: FeedbackPath, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hard bounce two days old, processed after a delivery of a minute ago, goes into
    the base health (a reorder window of one day): it cannot be taken out again, so the
    retroactive hold leaves it applied, and does not mark it held."""
    from quarantine import handler

    policy = QuarantinePolicy(reorder_window=timedelta(days=1))
    monkeypatch.setattr(handler, "policy", policy)
    path.publish(ses("delivery", recipients=["z@example.com"], message_id="d", at=NOW))
    path.drain()
    hard = ses(
        "bounce_hard", recipients=["z@example.com"], message_id="h", at=NOW - timedelta(days=2)
    )
    path.publish(hard)
    path.drain()
    assert quarantined() == {"z@example.com"}

    key = held_key(Channel.EMAIL, "example.com")
    the_pass = LookBackPass(policy, utc_now, pages=5)
    assert (
        the_pass.hold_applied(key, hold_looking_back(key, NOW - timedelta(hours=1)), utc_now()) == 0
    )
    assert quarantined() == {"z@example.com"}
    assert history_store.count_held(key) == 0


def test_a_look_back_reads_a_page_per_invocation_and_the_next_invocations_go_on(
    path: FeedbackPath, api: ApiCall, small_outages: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One page of ten addresses per invocation: the rest of the trip's batch takes no
    more, the next invocations with a failure of the domain go on from where the last
    one stopped, until every applied failure is held."""
    from quarantine import outage

    monkeypatch.setattr(retroactive, "PAGE", 10)
    monkeypatch.setattr(outage, "PAGES_PER_INVOCATION", 1)
    pages = []
    read = address_store.addresses_with_status

    def counted(*args: Any, **kwargs: Any) -> Any:
        pages.append(1)
        return read(*args, **kwargs)

    monkeypatch.setattr(address_store, "addresses_with_status", counted)
    key = held_key(Channel.EMAIL, "example.com")

    outage_of_example_com(path, count=40)  # four batches of ten: the trip in the second

    assert len(pages) == 3
    unfinished = domain_windows.find_hold(key)
    assert unfinished is not None
    assert unfinished.look_back is not None
    assert quarantined() != set()
    shown = api("GET", "/v1/outages/email/example.com")["json"]
    assert shown["holding"]
    assert shown["lookBackSince"] == unfinished.look_back.since.isoformat().replace("+00:00", "Z")
    late = 0
    while (hold := domain_windows.find_hold(key)) is not None and hold.look_back is not None:
        assert late < 10, "the look back did not end"
        late += 1
        path.publish(soft_bounce(f"late{late}@example.com", 1000 + late, minutes=0))
        path.drain()
    assert len(pages) == 3 + late
    assert quarantined() == set()
    done = api("GET", "/v1/outages/email/example.com")["json"]
    assert (done["heldErrors"], done["lookBackSince"]) == (40 + late, None)


@pytest.fixture
def unfinished_search(
    path: FeedbackPath, small_outages: int, monkeypatch: pytest.MonkeyPatch
) -> set[Address]:
    """An outage of 40 addresses whose pass, a page of ten per invocation, is unfinished:
    the addresses it has not reached are still quarantined (returned)."""
    from quarantine import outage

    monkeypatch.setattr(retroactive, "PAGE", 10)
    monkeypatch.setattr(outage, "PAGES_PER_INVOCATION", 1)
    outage_of_example_com(path, count=40)
    hold = domain_windows.find_hold(held_key(Channel.EMAIL, "example.com"))
    assert hold is not None
    assert hold.look_back is not None
    still_counting = quarantined()
    assert still_counting
    return still_counting


def test_a_release_finishes_the_search_and_releases_what_it_finds(
    unfinished_search: set[Address],
    path: FeedbackPath,
    api: ApiCall,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each call goes on with the search a page, and the hold holds until it ends: every
    failure of the outage is released, those applied before the hold too."""
    from consent.logic import addresses

    monkeypatch.setattr(addresses, "RELEASE_PAGES", 1)
    key = held_key(Channel.EMAIL, "example.com")
    calls: list[dict[str, Any]] = []
    while True:
        assert len(calls) < 10, "the search did not end"
        decided = api(
            "POST", "/v1/outages/email/example.com/release", json_body={"reason": "incident 42"}
        )
        assert decided["statusCode"] == 200
        calls.append(decided["json"])
        if decided["json"]["lookBackSince"] is None and not decided["json"]["remaining"]:
            break
        if decided["json"]["lookBackSince"] is not None:
            hold = domain_windows.find_hold(key)
            assert hold is not None
            assert hold.held  # while the release goes on with the search

    assert len(calls) > 1
    assert quarantined() == set()
    assert {s.error_count for s in address_states().values()} == {4}
    assert sum(call["decided"] for call in calls) == 40
    assert api("GET", "/v1/outages")["json"]["items"] == []
    path.publish(soft_bounce("user000@example.com", 999, minutes=0))
    path.drain()
    assert quarantined() == {"user000@example.com"}  # counted again


def look_back_failures(output: str) -> float:
    """Failed passes counted where OutageLookBackFailedAlarm looks."""
    alarm = TEMPLATE["Resources"]["OutageLookBackFailedAlarm"]["Properties"]
    return metric_total(output, alarm["Namespace"], alarm["MetricName"], alarm["Dimensions"])


def test_a_release_whose_search_fails_releases_what_is_held_and_raises_the_alarm(
    unfinished_search: set[Address],
    api: ApiCall,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The operator API's failure is counted as the quarantine's, which the alarm
    watches; the release decides the held errors and says to call again."""
    key = held_key(Channel.EMAIL, "example.com")
    held = api("GET", "/v1/outages/email/example.com")["json"]["heldErrors"]
    capsys.readouterr()

    def unavailable(*args: Any, **kwargs: Any) -> Any:
        raise StoreUnavailableError("the addresses")

    monkeypatch.setattr(address_store, "addresses_with_status", unavailable)
    decided = api("POST", "/v1/outages/email/example.com/release", json_body={"reason": "r"})

    assert decided["statusCode"] == 200
    assert decided["json"]["decided"] == held
    assert decided["json"]["lookBackSince"] is not None
    assert quarantined() == unfinished_search  # not reached: still applied
    assert look_back_failures(capsys.readouterr().out) == 1
    hold = domain_windows.find_hold(key)
    assert hold is not None
    assert hold.look_back is not None  # where it stood, for the next call


def test_a_release_leaves_a_search_another_function_runs_to_it(
    unfinished_search: set[Address], api: ApiCall
) -> None:
    key = held_key(Channel.EMAIL, "example.com")
    hold = domain_windows.find_hold(key)
    assert hold is not None
    assert hold.look_back is not None
    running = hold.look_back.lease + timedelta(minutes=1)
    assert domain_windows.lease_look_back(key, hold.look_back, until=running)

    decided = api("POST", "/v1/outages/email/example.com/release", json_body={"reason": "r"})

    assert decided["statusCode"] == 200
    assert decided["json"]["lookBackSince"] is not None
    assert quarantined() == unfinished_search  # not its pass to go on with
    after = domain_windows.find_hold(key)
    assert after is not None
    assert after.held
    assert after.look_back is not None
    assert after.look_back.lease == running


def test_an_application_ends_the_search_and_leaves_what_it_did_not_reach_applied(
    unfinished_search: set[Address], path: FeedbackPath, api: ApiCall
) -> None:
    decided = api(
        "POST",
        "/v1/outages/email/example.com/apply",
        json_body={"reason": "real bounces", "limit": 1},
    )
    assert decided["statusCode"] == 200
    assert decided["json"]["lookBackSince"] is None
    assert decided["json"]["remaining"] > 0
    shown = api("GET", "/v1/outages/email/example.com")["json"]
    assert (shown["holding"], shown["lookBackSince"]) == (False, None)
    path.publish(soft_bounce("late@example.com", 1000, minutes=0))
    path.drain()  # counted, not held, and the search does not go on
    after = api("GET", "/v1/outages/email/example.com")["json"]
    assert after["heldErrors"] == decided["json"]["remaining"]
    assert after["lookBackSince"] is None
    assert unfinished_search <= quarantined()  # those it had not reached stay applied

    rest = api("POST", "/v1/outages/email/example.com/apply", json_body={"reason": "real"})
    assert (rest["statusCode"], rest["json"]["remaining"]) == (200, 0)
    assert quarantined() == {f"user{i:03}@example.com" for i in range(40)}
    assert api("GET", "/v1/outages")["json"]["items"] == []


@pytest.mark.parametrize("decision", ["release", "apply"])
def test_a_search_an_earlier_decision_stopped_is_listed_until_released_or_applied(
    api: ApiCall, decision: str
) -> None:
    """A hold stopped with its search unfinished, by a decision made before releases went
    on with the search: listed, not holding, with where the search stopped, even with no
    held error left; a release holds again and goes on with it, an application ends it."""
    key = held_key(Channel.EMAIL, "stopped.example")
    look_back = hold_looking_back(key, utc_now() - timedelta(hours=1))
    assert domain_windows.lease_look_back(key, look_back, until=utc_now())  # nobody runs it
    domain_windows.stop_holding(key)
    shown = api("GET", "/v1/outages/email/stopped.example")
    assert shown["statusCode"] == 200
    assert (shown["json"]["heldErrors"], shown["json"]["holding"]) == (0, False)
    assert shown["json"]["lookBackSince"] is not None
    assert [o["domain"] for o in api("GET", "/v1/outages")["json"]["items"]] == ["stopped.example"]

    decided = api(
        "POST", f"/v1/outages/email/stopped.example/{decision}", json_body={"reason": "r"}
    )

    assert (decided["statusCode"], decided["json"]["decided"]) == (200, 0)
    assert decided["json"]["lookBackSince"] is None  # no address to go through: done
    assert api("GET", "/v1/outages")["json"]["items"] == []


def test_a_pass_no_longer_its_runners_holds_nothing(
    path: FeedbackPath, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An operator applies the outage (or another function takes the pass over) while a
    function is in the middle of a page: each address's transaction checks the lease,
    so the addresses it had not reached when the pass stopped stay applied."""
    addresses = outage_of_example_com(path, count=30)  # under the defaults: all applied
    key = held_key(Channel.EMAIL, "example.com")
    look_back = hold_looking_back(key, NOW - timedelta(hours=1))
    at_quarantined = replace(look_back, cursor=f"{AddressStatus.QUARANTINE.value} ")
    read = history_store.events_since

    def applied_meanwhile(*args: Any, **kwargs: Any) -> Any:
        domain_windows.drop_look_back(key)
        return read(*args, **kwargs)

    monkeypatch.setattr(history_store, "events_since", applied_meanwhile)
    the_pass = LookBackPass(QuarantinePolicy(), utc_now, pages=5)

    assert the_pass.hold_applied(key, at_quarantined, utc_now()) == 0
    assert quarantined() == set(addresses)
    assert history_store.count_held(key) == 0


def test_a_decided_outage_whose_search_ended_is_forgotten(
    path: FeedbackPath, api: ApiCall, small_outages: int
) -> None:
    outage_of_example_com(path, count=30)
    hold = domain_windows.find_hold(held_key(Channel.EMAIL, "example.com"))
    assert hold is not None
    assert hold.look_back is None

    decided = api("POST", "/v1/outages/email/example.com/apply", json_body={"reason": "real"})

    assert (decided["statusCode"], decided["json"]["remaining"]) == (200, 0)
    assert api("GET", "/v1/outages")["json"]["items"] == []
    assert api("GET", "/v1/outages/email/example.com")["statusCode"] == 404


class FunctionEnded(BaseException):
    """The function's end at its timeout: nothing in it runs on (not an Exception)."""


def test_a_look_back_ended_midway_is_taken_over_once_its_lease_is_over(
    path: FeedbackPath, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The function running the pass ends midway (its timeout): the failures that come
    while its lease lasts leave the pass alone, the first one after it goes on."""
    from quarantine import outage

    addresses = outage_of_example_com(path, count=30)  # under the defaults: all applied
    assert quarantined() == set(addresses)
    policy = QuarantinePolicy(outage_min_failures=20)
    real = history_store.hold_retroactively
    calls = []

    def ended_at_the_third(*args: Any, **kwargs: Any) -> bool:
        calls.append(1)
        if len(calls) == 3:
            raise FunctionEnded
        return real(*args, **kwargs)

    monkeypatch.setattr(history_store, "hold_retroactively", ended_at_the_third)
    with pytest.raises(FunctionEnded):
        outage.OutageGuard(policy, utc_now).hold_key(failure_of("a@example.com", "m-1"))
    key = held_key(Channel.EMAIL, "example.com")
    assert len(quarantined()) == 28
    started = domain_windows.find_hold(key)
    assert started is not None
    assert started.look_back is not None

    within = outage.OutageGuard(policy, lambda: utc_now() + timedelta(seconds=30))
    assert within.hold_key(failure_of("b@example.com", "m-2")) == key
    assert len(quarantined()) == 28

    after = outage.OutageGuard(policy, lambda: utc_now() + retroactive.LOOK_BACK_LEASE)
    assert after.hold_key(failure_of("c@example.com", "m-3")) == key
    assert quarantined() == set()
    ended = domain_windows.find_hold(key)
    assert ended is not None
    assert ended.look_back is None


def test_a_look_back_that_fails_holds_the_failure_and_is_taken_over_later(
    path: FeedbackPath, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The store fails the pass: the failure that ran it is held all the same (the pass
    is the outage's, not the message's), and the pass is taken over after its lease."""
    from quarantine import outage

    outage_of_example_com(path, count=30)  # under the defaults: all applied
    policy = QuarantinePolicy(outage_min_failures=20)
    read = address_store.addresses_with_status

    def unavailable(*args: Any, **kwargs: Any) -> Any:
        raise StoreUnavailableError("the addresses")

    monkeypatch.setattr(address_store, "addresses_with_status", unavailable)
    key = held_key(Channel.EMAIL, "example.com")

    assert outage.OutageGuard(policy, utc_now).hold_key(failure_of("a@example.com", "m-1")) == key
    assert len(quarantined()) == 30
    metrics.flush_metrics()  # as the handler does when its invocation ends
    assert look_back_failures(capsys.readouterr().out) == 1

    monkeypatch.setattr(address_store, "addresses_with_status", read)
    after = outage.OutageGuard(policy, lambda: utc_now() + retroactive.LOOK_BACK_LEASE)
    assert after.hold_key(failure_of("b@example.com", "m-2")) == key
    assert quarantined() == set()


def test_one_function_at_a_time_has_a_look_back() -> None:
    key = held_key(Channel.EMAIL, "lease.example")
    since = NOW - timedelta(hours=1)
    lease = NOW + timedelta(seconds=90)
    started = domain_windows.start_hold(
        key,
        now=NOW,
        until=NOW + timedelta(hours=4),
        failures=20,
        attempts=20,
        look_back=LookBack(since=since, cursor=None, lease=lease),
    )
    assert started
    hold = domain_windows.find_hold(key)
    assert hold is not None
    assert hold.look_back == LookBack(since=since, cursor=None, lease=lease)

    later = lease + timedelta(seconds=90)
    assert domain_windows.lease_look_back(key, hold.look_back, until=later)
    assert not domain_windows.lease_look_back(key, hold.look_back, until=later)  # taken
    assert not domain_windows.save_look_back(key, lease, hold.look_back)  # no longer its

    moved = LookBack(since=since, cursor="quarantine abc", lease=later + timedelta(seconds=1))
    assert domain_windows.save_look_back(key, later, moved)
    saved = domain_windows.find_hold(key)
    assert saved is not None
    assert saved.look_back == moved
    assert domain_windows.end_look_back(key, moved.lease)
    ended = domain_windows.find_hold(key)
    assert ended is not None
    assert (ended.look_back, ended.held) == (None, True)


def test_a_look_back_stops_when_an_operator_has_decided() -> None:
    key = held_key(Channel.EMAIL, "decided.example")
    lease = NOW + timedelta(seconds=90)
    look_back = LookBack(since=NOW - timedelta(hours=1), cursor=None, lease=lease)
    domain_windows.start_hold(
        key, now=NOW, until=NOW + timedelta(hours=4), failures=20, attempts=20, look_back=look_back
    )

    domain_windows.stop_holding(key)

    assert not domain_windows.save_look_back(key, lease, look_back)
    assert not domain_windows.end_look_back(key, lease)


@pytest.mark.parametrize("function", ["QuarantineFunction", "ConsentFunction", "ConsoleFunction"])
def test_a_look_back_lease_outlasts_the_functions_that_run_it(function: str) -> None:
    """The feedback function, and the operator API's and the console's, whose releases
    go on with it."""
    properties = TEMPLATE["Resources"][function]["Properties"]
    timeout = properties.get("Timeout", TEMPLATE["Globals"]["Function"]["Timeout"])

    assert timedelta(seconds=timeout) < retroactive.LOOK_BACK_LEASE


def test_other_domains_are_counted_during_an_outage(path: FeedbackPath, small_outages: int) -> None:
    outage_of_example_com(path, count=30)
    seed_one_error_from_quarantine("kim@example.org")

    path.publish(soft_bounce("kim@example.org", 1000, minutes=0))
    path.drain()

    assert quarantined() == {"kim@example.org"}


def test_a_held_bounce_redelivered_is_held_once(
    path: FeedbackPath, api: ApiCall, small_outages: int
) -> None:
    outage_of_example_com(path, count=30)
    path.publish(soft_bounce("late@example.com", 2000, minutes=0))
    [event] = path.drain()

    path.invoke(json.loads(json.dumps(event)))

    assert api("GET", "/v1/outages/email/example.com")["json"]["heldErrors"] == 31


def test_the_held_metric_is_the_one_the_alarm_watches(
    path: FeedbackPath, capsys: pytest.CaptureFixture[str], small_outages: int
) -> None:
    outage_of_example_com(path, count=30)

    alarm = TEMPLATE["Resources"]["OutageHeldAlarm"]["Properties"]
    assert metric_total(capsys.readouterr().out, alarm["Namespace"], alarm["MetricName"]) == 30
    variables = TEMPLATE["Resources"]["QuarantineFunction"]["Properties"]["Environment"]
    service = variables["Variables"]["POWERTOOLS_SERVICE_NAME"]
    assert alarm["Dimensions"] == [{"Name": "service", "Value": service}]


def test_a_domain_whose_failures_are_a_small_share_of_its_attempts_is_not_held() -> None:
    from quarantine.ingest import FeedbackIngest
    from quarantine.sms import ReplyTexts, SmsKeywords
    from tests.integration.quarantine_support import FakeSms

    policy = QuarantinePolicy(outage_min_failures=5, outage_min_failure_ratio=0.3)
    ingest = FeedbackIngest(
        policy,
        SmsKeywords(FakeSms(), ReplyTexts("a", "b", "c"), origination_identity=None, clock=_now),
        default_region="US",
        clock=_now,
    )
    deliveries = [
        ses("delivery", recipients=[f"ok{i}@example.net"], message_id=f"d{i}") for i in range(30)
    ]
    bounces = [
        ses("bounce_soft", recipients=[f"bad{i}@example.net"], message_id=f"b{i}") for i in range(8)
    ]
    for body in deliveries + bounces:
        ingest.handle(_record(body))

    counted = {s.address: s.error_count for s in address_states().values() if s.error_count}
    assert counted == {f"bad{i}@example.net": 1 for i in range(8)}


def _now() -> datetime:
    return NOW


def _record(body: dict[str, Any]) -> SQSRecord:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    return SQSRecord({"messageId": "m", "body": json.dumps(body), "attributes": {}})
