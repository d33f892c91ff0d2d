"""Every change reaches the event bus: each source yields one event with every field,
through the tables' streams and the publisher, on moto."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from consentry.consent import profile_store
from consentry.consent.rules import ConsentChange, Scope
from consentry.consent.tokens import LinkClaims, LinkSigner
from consentry.core.types import Action, Channel, ProfileId, Source
from consentry.events.latency import BOUNDS_MS
from tests.event_schemas import problems
from tests.integration.conftest import ApiCall, Configure, LandingCall
from tests.integration.events_support import BUS_NAME, EventsPath, FunctionStopped, Received
from tests.integration.landing_client import Client
from tests.integration.quarantine_support import FakeSms, FeedbackPath, ses, sms
from tests.integration.test_imports_api import (  # noqa: F401 (lambda_client: a fixture)
    PROFILES_HEADER,
    FakeLambda,
    imported,
    lambda_client,
    lines,
)
from tests.integration.test_quarantine_outage import (  # noqa: F401 (small_outages: a fixture)
    outage_of_example_com,
    small_outages,
)

PROFILE = ProfileId("p-events")
EMAIL = "jane.doe@example.com"
PHONE = "+31612345678"


@pytest.fixture
def events(configure: Configure, table_names: dict[str, str]) -> EventsPath:
    configure(event_bus_name=BUS_NAME)
    return EventsPath(table_names)


@pytest.fixture
def feedback() -> FeedbackPath:
    return FeedbackPath()


def published(events: EventsPath) -> list[Received]:
    events.drain()
    received = events.received()
    for event in received:
        assert event.source == "consentry"
        assert problems(event.detail_type, event.detail) == []
    return received


def only(received: Sequence[Received], detail_type: str) -> Received:
    assert [event.detail_type for event in received] == [detail_type]
    return received[0]


def assert_no_clear_address(detail: Mapping[str, Any], *addresses: str) -> None:
    text = repr(detail)
    for address in addresses:
        assert address not in text


def quarantined_by(feedback: FeedbackPath, *notifications: dict[str, Any]) -> None:
    feedback.publish(*notifications)
    while feedback.deliver(FakeSms()) is not None:
        pass


# ---------------------------------------------------------------- consent sources


def test_a_landing_page_opt_out_is_one_consent_changed_event(
    events: EventsPath, signer: LinkSigner
) -> None:
    profile_store.register_profile(PROFILE, {}, "en")
    token = signer.sign(LinkClaims(profile_id=PROFILE, scope=Scope.channel(Channel.SMS)))
    client = Client()

    client.submit(client.get(f"/p/{token}/unsubscribe").form("/unsubscribe"))

    event = only(published(events), "Consent Changed")
    assert {k: event.detail[k] for k in ("profileId", "sequence", "scope", "newState")} == {
        "profileId": PROFILE,
        "sequence": 1,
        "scope": "channel:sms",
        "newState": "opted_out",
    }
    assert (event.detail["source"], event.detail["actor"]) == ("landing", "recipient")
    assert event.detail["requestedAt"] <= event.detail["effectiveAt"] <= event.detail["publishedAt"]


def test_a_one_click_unsubscribe_is_one_consent_changed_event(
    events: EventsPath, signer: LinkSigner, landing: LandingCall
) -> None:
    token = signer.sign(LinkClaims(profile_id=PROFILE, scope=Scope.all()))

    landing("one_click_post", token=token)

    event = only(published(events), "Consent Changed")
    assert (event.detail["scope"], event.detail["newState"], event.detail["source"]) == (
        "all",
        "opted_out",
        "one_click",
    )


def test_an_operator_change_is_one_consent_changed_event(events: EventsPath, api: ApiCall) -> None:
    api("PUT", f"/v1/profiles/{PROFILE}", json_body={"addresses": {}, "locale": "en"})

    api(
        "PATCH",
        f"/v1/profiles/{PROFILE}/consent",
        json_body={"noLongerContact": {"email": True}, "reason": "asked by phone"},
        caller="arn:aws:iam::123456789012:user/ops",
    )

    event = only(published(events), "Consent Changed")
    assert (event.detail["scope"], event.detail["source"], event.detail["actor"]) == (
        "channel:email",
        "operator",
        "arn:aws:iam::123456789012:user/ops",
    )


def test_an_import_row_is_one_consent_changed_event(
    events: EventsPath,
    lambda_client: FakeLambda,  # noqa: F811 (the fixture, imported)
    api: ApiCall,
) -> None:
    imported(api, "uploads/optouts.csv", lines(PROFILES_HEADER, f"{PROFILE},,,,true,,"))

    event = only(published(events), "Consent Changed")
    assert (event.detail["profileId"], event.detail["source"], event.detail["newState"]) == (
        PROFILE,
        "import",
        "opted_out",
    )


# ---------------------------------------------------------------- address sources


def test_a_hard_bounce_is_one_address_status_changed_event(
    events: EventsPath, feedback: FeedbackPath
) -> None:
    quarantined_by(feedback, ses("bounce_hard", recipients=[EMAIL]))

    event = only(published(events), "Address Status Changed")
    assert (event.detail["previousState"], event.detail["newState"]) == ("valid", "quarantine")
    assert (event.detail["source"], event.detail["channel"]) == ("bounce", "email")
    assert event.detail["maskedAddress"] == "j***@example.com"
    assert_no_clear_address(event.detail, EMAIL)


def test_a_complaint_is_one_address_status_changed_event(
    events: EventsPath, feedback: FeedbackPath
) -> None:
    quarantined_by(feedback, ses("complaint", recipients=[EMAIL]))

    event = only(published(events), "Address Status Changed")
    assert (event.detail["newState"], event.detail["source"]) == ("denylisted", "complaint")
    assert_no_clear_address(event.detail, EMAIL)


def test_an_sms_stop_is_one_address_status_changed_event(
    events: EventsPath, feedback: FeedbackPath
) -> None:
    quarantined_by(feedback, sms("stop", originationNumber=PHONE))

    event = only(published(events), "Address Status Changed")
    assert (event.detail["channel"], event.detail["newState"], event.detail["source"]) == (
        "sms",
        "denylisted",
        "sms_keyword",
    )
    assert_no_clear_address(event.detail, PHONE)


def test_a_release_is_one_address_status_changed_event_after_the_bounce(
    events: EventsPath, feedback: FeedbackPath, api: ApiCall
) -> None:
    quarantined_by(feedback, ses("bounce_hard", recipients=[EMAIL]))
    bounce = only(published(events), "Address Status Changed")

    api(
        "PUT",
        f"/v1/addresses/email/{EMAIL}",
        json_body={"status": "valid", "reason": "the mailbox exists again"},
    )

    release = only(published(events), "Address Status Changed")
    assert (release.detail["previousState"], release.detail["newState"]) == (
        "quarantine",
        "valid",
    )
    assert (release.detail["source"], release.detail["addressKey"]) == (
        "operator",
        bounce.detail["addressKey"],
    )
    assert release.detail["sequence"] > bounce.detail["sequence"]


def test_an_erasure_is_one_consent_changed_event(events: EventsPath, api: ApiCall) -> None:
    api("PUT", f"/v1/profiles/{PROFILE}", json_body={"addresses": {}, "locale": "en"})

    response = api("DELETE", f"/v1/profiles/{PROFILE}", json_body={"reason": "art. 17 request"})

    assert response["statusCode"] < 300, response["body"]
    event = only(published(events), "Consent Changed")
    assert (event.detail["action"], event.detail["newState"]) == ("erase", "erased")


@pytest.mark.usefixtures("small_outages")
def test_feedback_the_outage_guard_holds_again_is_published_with_its_undoing(
    events: EventsPath,
) -> None:
    outage_of_example_com(FeedbackPath(), count=30)

    changes = Counter(
        (event.detail["source"], event.detail["previousState"], event.detail["newState"])
        for event in published(events)
    )
    applied = changes[("bounce", "erroneous", "quarantine")]
    assert applied > 0
    assert changes == {
        ("bounce", "erroneous", "quarantine"): applied,
        ("outage_hold", "quarantine", "erroneous"): applied,
    }


def test_a_lift_of_an_erased_address_is_one_address_status_changed_event(
    events: EventsPath, feedback: FeedbackPath, api: ApiCall
) -> None:
    api("PUT", f"/v1/profiles/{PROFILE}", json_body={"addresses": {"email": EMAIL}})
    quarantined_by(feedback, ses("bounce_hard", recipients=[EMAIL]))
    bounce = only(published(events), "Address Status Changed")
    api("DELETE", f"/v1/profiles/{PROFILE}", json_body={"reason": "art. 17 request"})
    only(published(events), "Consent Changed")

    lift = {"channel": "email", "address": EMAIL.upper(), "reason": "asked again in writing"}
    assert api("POST", "/v1/erased-addresses/lift", json_body=lift)["statusCode"] == 200

    event = only(published(events), "Address Status Changed")
    assert (event.detail["previousState"], event.detail["newState"]) == ("erased", "valid")
    assert (event.detail["source"], event.detail["reason"]) == ("lift", lift["reason"])
    assert event.detail["addressKey"] == bounce.detail["addressKey"]
    assert event.detail["maskedAddress"] == bounce.detail["maskedAddress"]
    assert_no_clear_address(event.detail, EMAIL, EMAIL.upper())


# ---------------------------------------------------------------- delivery that loses nothing


class DyingBus:
    """The bus, until the publisher's execution environment dies during its `calls`-th
    PutEvents, after the call took effect (the worst moment: published, not recorded)."""

    def __init__(self, real: Any, calls: int) -> None:
        self.real, self.calls_left = real, calls

    def put_events(self, **kwargs: Any) -> Any:
        answer = self.real.put_events(**kwargs)
        self.calls_left -= 1
        if self.calls_left == 0:
            raise FunctionStopped
        return answer


def test_a_publisher_killed_between_batches_loses_nothing_and_repeats_with_the_same_ids(
    events: EventsPath,
) -> None:
    for number in range(15):
        profile_id = ProfileId(f"p-{number:02}")
        for channel in (Channel.EMAIL, Channel.SMS):
            _opt_out(profile_id, channel)
    assert len(events.pending("ConsentEventsTable", 100)) == 30

    events.deliver(bus=DyingBus(events.events, calls=2))
    events.drain()

    received = events.received()
    ids = Counter(event.detail["eventId"] for event in received)
    assert len(ids) == 30  # nothing lost
    assert sorted(ids.values()) == [1] * 10 + [2] * 20  # the two batches before the kill
    first_seen: dict[str, list[int]] = {}
    for event in received:
        seen = first_seen.setdefault(event.detail["profileId"], [])
        if event.detail["sequence"] not in seen:
            seen.append(event.detail["sequence"])
    assert all(sequence == [1, 2] for sequence in first_seen.values())


def test_an_entry_the_bus_refuses_is_published_again_with_what_follows_it(
    events: EventsPath,
) -> None:
    for number in range(12):
        _opt_out(ProfileId(f"p-{number:02}"), Channel.EMAIL)

    events.deliver(bus=RefusingBus(events.events, refuse_index=3))
    events.drain()

    received = events.received()
    ids = Counter(event.detail["eventId"] for event in received)
    assert len(ids) == 12
    # the 6 entries after the refused one in its call went out, and go out again
    assert sorted(ids.values()) == [1] * 6 + [2] * 6


def test_a_record_that_cannot_be_read_stops_the_shard_after_what_came_before_it(
    events: EventsPath,
) -> None:
    for number in range(3):
        _opt_out(ProfileId(f"p-{number:02}"), Channel.EMAIL)
    first, second, third = events.pending("ConsentEventsTable", 10)
    broken = {**second, "dynamodb": {**second["dynamodb"], "NewImage": {"at": {"X": "?"}}}}

    response = events.invoke([first, broken, third])

    assert response["batchItemFailures"] == [
        {"itemIdentifier": second["dynamodb"]["SequenceNumber"]}
    ]
    assert [event.detail["profileId"] for event in events.received()] == ["p-00"]


class RefusingBus:
    """PutEvents that publishes every entry but the one at `refuse_index`, once."""

    def __init__(self, real: Any, refuse_index: int) -> None:
        self.real, self.refuse_index = real, refuse_index

    def put_events(self, *, Entries: Sequence[dict[str, Any]]) -> dict[str, Any]:
        if self.refuse_index < 0:
            return dict(self.real.put_events(Entries=Entries))
        kept = [e for i, e in enumerate(Entries) if i != self.refuse_index]
        answer = self.real.put_events(Entries=kept)["Entries"]
        answer.insert(self.refuse_index, {"ErrorCode": "InternalFailure", "ErrorMessage": "x"})
        self.refuse_index = -1
        return {"FailedEntryCount": 1, "Entries": answer}


def _opt_out(profile_id: ProfileId, channel: Channel) -> None:
    profile_store.record_change(
        profile_id,
        ConsentChange(
            scope=Scope.channel(channel), action=Action.OPT_OUT, source=Source.API, actor="crm"
        ),
    )


def test_each_published_change_reports_its_honour_latency_and_publish_lag(
    events: EventsPath, capsys: pytest.CaptureFixture[str]
) -> None:
    _opt_out(PROFILE, Channel.EMAIL)
    capsys.readouterr()

    events.drain()

    metrics = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line
    ]
    values: dict[str, list[float]] = {}
    for blob in metrics:
        for name in ("HonourLatency", "PublishLag"):
            if name in blob:
                values.setdefault(name, []).extend(blob[name])
    assert {name: len(found) for name, found in values.items()} == {
        "HonourLatency": 1,
        "PublishLag": 1,
    }
    assert all(value >= 0 for found in values.values() for value in found)


def test_the_last_day_s_latencies_are_answered_from_hourly_histograms(
    events: EventsPath, api: ApiCall
) -> None:
    empty = api("GET", "/v1/metrics/honour")
    assert empty["statusCode"] == 200, empty["body"]
    assert empty["json"]["honourLatencyMs"] == {"count": 0, "p50": None, "p99": None}
    for number in range(3):
        _opt_out(ProfileId(f"p-latency-{number}"), Channel.EMAIL)

    events.drain()

    answer = api("GET", "/v1/metrics/honour")["json"]
    assert answer["windowHours"] == 24
    for name in ("honourLatencyMs", "publishLagMs"):
        figures = answer[name]
        assert figures["count"] == 3
        assert figures["p50"] in BOUNDS_MS
        assert figures["p50"] <= figures["p99"]
