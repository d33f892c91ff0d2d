"""The daily job that unsubscribes the subscribers of services whose validity has ended."""

from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import pytest

from consent.logic.validity import ACTOR, REASON, end_ended_services
from consentry.consent import profile_store, service_store
from consentry.consent.profile_store import ChangeResult
from consentry.consent.rules import ConsentChange, Scope
from consentry.consent.subscriptions import Confirmation, Service, SubscriptionStatus
from consentry.core.clock import Clock
from consentry.core.errors import ConflictError
from consentry.core.types import Action, Channel, ProfileId, ServiceId, Source
from tests.integration.conftest import lambda_context

T0 = datetime(2026, 3, 1, tzinfo=UTC)
ENDS = T0 + timedelta(days=30)


def clock_at(moment: datetime) -> Clock:
    return lambda: moment


def make_service(
    name: str,
    *,
    confirmation: Confirmation = Confirmation.NONE,
    ends: datetime | None = ENDS,
    days: int | None = None,
) -> Service:
    service = Service(
        service_id=ServiceId(f"svc-{name}"),
        name=name,
        label=name.title(),
        public_label=name.title(),
        channel=Channel.EMAIL,
        confirmation=confirmation,
        valid_from=T0 - timedelta(days=10),
        valid_until=ends,
        subscription_days=days,
        created_at=T0 - timedelta(days=10),
        updated_at=T0 - timedelta(days=10),
    )
    return service_store.save_service(service, expected_version=None)


def change(
    service: Service, action: Action, requested: SubscriptionStatus | None = None
) -> ConsentChange:
    return ConsentChange(
        scope=Scope.service(service.service_id),
        action=action,
        source=Source.OPERATOR,
        actor="arn:aws:iam::123456789012:user/operator",
        reason="signed the form",
        requested=requested,
    )


def subscribe(
    service: Service,
    profile: str,
    at: datetime = T0,
    requested: SubscriptionStatus = SubscriptionStatus.SUBSCRIBED,
) -> None:
    profile_store.record_change(
        ProfileId(profile),
        change(service, Action.SUBSCRIBE, requested),
        clock=clock_at(at),
    )


def unsubscribe(service: Service, profile: str, at: datetime = T0) -> None:
    profile_store.record_change(
        ProfileId(profile), change(service, Action.UNSUBSCRIBE), clock=clock_at(at)
    )


def status_of(service: Service, profile: str) -> SubscriptionStatus | None:
    subscription = service_store.find_subscription(service.service_id, ProfileId(profile))
    return subscription.status if subscription else None


def test_the_subscribers_of_an_ended_service_are_unsubscribed_with_history() -> None:
    # Given a service that ended yesterday, with a subscribed and a pending profile
    service = make_service("spring-sale", confirmation=Confirmation.NONE)
    subscribe(service, "p-1")
    subscribe(service, "p-2", requested=SubscriptionStatus.PENDING)
    run_at = ENDS + timedelta(days=1)

    # When the daily job runs
    run = end_ended_services(clock=clock_at(run_at))

    # Then both are unsubscribed, and the history says who, why and when
    assert (run.services, run.unsubscribed, run.failed) == (1, 2, 0)
    for profile in ("p-1", "p-2"):
        assert status_of(service, profile) is SubscriptionStatus.UNSUBSCRIBED
        event = profile_store.all_events(ProfileId(profile))[-1]
        assert event.scope == f"service:{service.service_id}"
        assert (event.action, event.result) == (Action.UNSUBSCRIBE, SubscriptionStatus.UNSUBSCRIBED)
        assert (event.source, event.actor, event.reason) == (Source.API, ACTOR, REASON)
        assert event.at == run_at


def test_a_subscription_that_already_expired_with_the_service_is_unsubscribed_too() -> None:
    # Given a subscription whose expiry was capped by the service's end
    service = make_service("capped", days=365)
    subscribe(service, "p-1")

    # When the job runs after the end
    end_ended_services(clock=clock_at(ENDS + timedelta(hours=1)))

    # Then the subscription is not merely inactive, it is unsubscribed
    assert status_of(service, "p-1") is SubscriptionStatus.UNSUBSCRIBED


def test_a_service_ends_at_its_end_time() -> None:
    service = make_service("exact")
    subscribe(service, "p-1")

    run = end_ended_services(clock=clock_at(ENDS))

    assert (run.services, run.unsubscribed) == (1, 1)


def test_open_services_and_their_subscribers_are_left_alone() -> None:
    # Given a service still open, one without an end, and one that ended
    open_service = make_service("open", ends=ENDS + timedelta(days=60))
    endless = make_service("endless", ends=None)
    ended = make_service("ended")
    for service in (open_service, endless, ended):
        subscribe(service, "p-1")

    # When the job runs after the first end only
    run = end_ended_services(clock=clock_at(ENDS + timedelta(days=1)))

    # Then only the ended service's subscription is ended, with one event
    assert (run.services, run.unsubscribed) == (1, 1)
    assert status_of(open_service, "p-1") is SubscriptionStatus.SUBSCRIBED
    assert status_of(endless, "p-1") is SubscriptionStatus.SUBSCRIBED
    assert status_of(ended, "p-1") is SubscriptionStatus.UNSUBSCRIBED
    assert len(profile_store.all_events(ProfileId("p-1"))) == 4


def test_a_profile_that_unsubscribed_itself_gets_no_second_event() -> None:
    service = make_service("news")
    subscribe(service, "p-1")
    unsubscribe(service, "p-1", at=T0 + timedelta(days=1))

    run = end_ended_services(clock=clock_at(ENDS + timedelta(days=1)))

    assert run.unsubscribed == 0
    assert [event.action for event in profile_store.all_events(ProfileId("p-1"))] == [
        Action.SUBSCRIBE,
        Action.UNSUBSCRIBE,
    ]


def test_a_re_run_changes_nothing() -> None:
    # Given a run that ended a service's subscriptions
    service = make_service("news")
    for n in range(3):
        subscribe(service, f"p-{n}")
    end_ended_services(clock=clock_at(ENDS + timedelta(days=1)))
    events = {n: profile_store.all_events(ProfileId(f"p-{n}")) for n in range(3)}

    # When the job runs again the next day
    run = end_ended_services(clock=clock_at(ENDS + timedelta(days=2)))

    # Then it still sees the service, but ends nothing and writes no event
    assert (run.services, run.unsubscribed) == (1, 0)
    assert {n: profile_store.all_events(ProfileId(f"p-{n}")) for n in range(3)} == events


def test_every_page_of_subscribers_is_unsubscribed(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given more subscribers than one page holds
    monkeypatch.setattr("consent.logic.validity.MAX_PAGE", 2)
    service = make_service("news")
    profiles = [f"p-{n}" for n in range(5)]
    for profile in profiles:
        subscribe(service, profile)

    # When the job runs
    run = end_ended_services(clock=clock_at(ENDS + timedelta(days=1)))

    # Then all of them are unsubscribed
    assert run.unsubscribed == 5
    assert {status_of(service, p) for p in profiles} == {SubscriptionStatus.UNSUBSCRIBED}


def test_a_profile_that_cannot_be_changed_does_not_stop_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given two subscribers, one of whom cannot be written this time
    service = make_service("news")
    subscribe(service, "p-1")
    subscribe(service, "p-2")
    record_change = profile_store.record_change

    def contended(profile_id: ProfileId, *args: Any, **kwargs: Any) -> ChangeResult:
        if profile_id == "p-1":
            raise ConflictError("kept changing")
        return record_change(profile_id, *args, **kwargs)

    monkeypatch.setattr(profile_store, "record_change", contended)

    # When the job runs
    run = end_ended_services(clock=clock_at(ENDS + timedelta(days=1)))

    # Then the other one is unsubscribed and the failure is counted for the next run
    assert (run.unsubscribed, run.failed) == (1, 1)
    assert status_of(service, "p-1") is SubscriptionStatus.SUBSCRIBED
    assert status_of(service, "p-2") is SubscriptionStatus.UNSUBSCRIBED


def test_the_handler_reports_its_counts_and_uses_the_time_of_the_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from consent.schedule import lambda_handler

    # Given a service that ended yesterday, by the real clock, with one subscriber
    now = datetime.now(UTC)
    service = make_service("yesterday", ends=now - timedelta(days=1))
    subscribe(service, "p-1", at=now - timedelta(days=2))

    # When the scheduled function runs
    result = lambda_handler({"source": "aws.events"}, lambda_context("consent-schedule"))

    # Then it answers with its counts and publishes them as metrics
    assert result == {"services": 1, "unsubscribed": 1}
    assert status_of(service, "p-1") is SubscriptionStatus.UNSUBSCRIBED
    assert '"ServiceUnsubscriptions":[1' in capsys.readouterr().out.replace(" ", "")


def test_the_handler_fails_when_a_subscription_could_not_be_ended(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from consent.logic.validity import IncompleteRunError
    from consent.schedule import lambda_handler

    now = datetime.now(UTC)
    service = make_service("yesterday", ends=now - timedelta(days=1))
    subscribe(service, "p-1", at=now - timedelta(days=2))

    def contended(*args: Any, **kwargs: Any) -> NoReturn:
        raise ConflictError("kept changing")

    monkeypatch.setattr(profile_store, "record_change", contended)

    with pytest.raises(IncompleteRunError):
        lambda_handler({}, lambda_context("consent-schedule"))
