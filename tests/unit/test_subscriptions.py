"""The subscription rules: confirmation policies, expiry, open services, re-subscribing."""

from datetime import UTC, datetime, timedelta
from typing import TypedDict, Unpack

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consentry.consent.subscriptions import (
    Confirmation,
    Service,
    Subscription,
    SubscriptionStatus,
    confirm,
    subscribe,
    unsubscribe,
)
from consentry.core.errors import InvalidInputError
from consentry.core.types import Channel, ProfileId, ServiceId

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PROFILE = ProfileId("p-1")
PENDING, SUBSCRIBED, UNSUBSCRIBED = (
    SubscriptionStatus.PENDING,
    SubscriptionStatus.SUBSCRIBED,
    SubscriptionStatus.UNSUBSCRIBED,
)


class Validity(TypedDict, total=False):
    """When a service is open, and for how long its subscriptions last."""

    valid_from: datetime | None
    valid_until: datetime | None
    subscription_days: int | None


def service(
    confirmation: Confirmation = Confirmation.NONE, **validity: Unpack[Validity]
) -> Service:
    return Service(
        service_id=ServiceId("svc-news"),
        name="news",
        label="News",
        public_label="Our news",
        channel=Channel.EMAIL,
        confirmation=confirmation,
        created_at=T0,
        updated_at=T0,
        **validity,
    )


def subscribed(svc: Service, at: datetime = T0) -> Subscription:
    return subscribe(svc, PROFILE, None, SUBSCRIBED, at)


@pytest.mark.parametrize(
    ("confirmation", "status"),
    [
        (Confirmation.NONE, SUBSCRIBED),
        (Confirmation.CONFIRMATION_MESSAGE, SUBSCRIBED),
        (Confirmation.DOUBLE_OPT_IN, PENDING),
    ],
)
def test_the_confirmation_policy_decides_the_status_of_a_new_subscription(
    confirmation: Confirmation, status: SubscriptionStatus
) -> None:
    # Given a service with this confirmation policy and a profile that never subscribed
    svc = service(confirmation)

    # When the profile subscribes
    result = subscribe(svc, PROFILE, None, SUBSCRIBED, T0)

    # Then the subscription has the policy's status, and only a subscribed one is active
    assert result.status is status
    assert result.active(T0) is (status is SUBSCRIBED)


def test_a_subscription_asked_as_pending_waits_for_confirmation_even_without_double_opt_in() -> (
    None
):
    # Given a service that needs no confirmation
    svc = service(Confirmation.NONE)

    # When the caller asks for a pending subscription
    result = subscribe(svc, PROFILE, None, PENDING, T0)

    # Then it is pending, not yet confirmed
    assert (result.status, result.confirmed_at) == (PENDING, None)


def test_confirming_a_pending_subscription_subscribes_it() -> None:
    # Given a pending double opt-in subscription
    svc = service(Confirmation.DOUBLE_OPT_IN)
    pending = subscribe(svc, PROFILE, None, SUBSCRIBED, T0)

    # When its owner confirms it a day later
    confirmed_at = T0 + timedelta(days=1)
    result = confirm(svc, PROFILE, pending, confirmed_at)

    # Then it is subscribed and active from the confirmation on
    assert (result.status, result.confirmed_at) == (SUBSCRIBED, confirmed_at)
    assert result.active(confirmed_at)


def test_subscribing_again_does_not_confirm_a_pending_subscription() -> None:
    # Given a pending subscription on a service that needs no confirmation
    svc = service(Confirmation.NONE)
    pending = subscribe(svc, PROFILE, None, PENDING, T0)

    # When the subscribe request is repeated
    result = subscribe(svc, PROFILE, pending, SUBSCRIBED, T0 + timedelta(hours=1))

    # Then it is still the same pending subscription: only a confirmation ends it
    assert result == pending


def test_re_subscribing_after_an_unsubscribe_needs_a_fresh_confirmation() -> None:
    # Given a profile that subscribed to a service without confirmation, then unsubscribed
    svc = service(Confirmation.NONE)
    ended = unsubscribe(subscribed(svc), T0 + timedelta(days=1))

    # When it is subscribed again, twice
    again = subscribe(svc, PROFILE, ended, SUBSCRIBED, T0 + timedelta(days=2))
    repeated = subscribe(svc, PROFILE, again, SUBSCRIBED, T0 + timedelta(days=3))

    # Then it stays pending until confirmed
    assert (again.status, repeated.status) == (PENDING, PENDING)
    assert confirm(svc, PROFILE, repeated, T0 + timedelta(days=4)).status is SUBSCRIBED


def test_subscribing_an_active_subscription_changes_nothing() -> None:
    # Given an active subscription
    svc = service()
    current = subscribed(svc)

    # When the profile subscribes again
    result = subscribe(svc, PROFILE, current, SUBSCRIBED, T0 + timedelta(days=1))

    # Then the subscription is the same one (no new confirmation date, no new expiry)
    assert result == current


def test_the_subscription_duration_sets_the_expiry() -> None:
    # Given a service whose subscriptions last 90 days
    svc = service(subscription_days=90)

    # When a profile subscribes
    result = subscribed(svc)

    # Then it expires 90 days later: active just before, not at the expiry
    assert result.expires_at == T0 + timedelta(days=90)
    assert result.active(T0 + timedelta(days=90) - timedelta(seconds=1))
    assert not result.active(T0 + timedelta(days=90))


def test_the_services_end_caps_the_subscription_duration() -> None:
    # Given a service that ends in 10 days and whose subscriptions last 90 days
    svc = service(subscription_days=90, valid_until=T0 + timedelta(days=10))

    # When a profile subscribes
    result = subscribed(svc)

    # Then the subscription ends with the service
    assert result.expires_at == T0 + timedelta(days=10)


def test_a_service_without_duration_or_end_gives_subscriptions_that_never_expire() -> None:
    result = subscribed(service())

    assert result.expires_at is None
    assert result.active(T0 + timedelta(days=10_000))


def test_an_expired_subscription_counts_as_not_subscribed() -> None:
    # Given a subscription that expired yesterday
    svc = service(subscription_days=30)
    current = subscribed(svc)
    after = T0 + timedelta(days=31)

    # Then its status is still `subscribed`, but it is not active
    assert current.status is SUBSCRIBED
    assert not current.active(after)


def test_subscribing_again_after_expiry_renews_the_subscription() -> None:
    # Given an expired subscription on a service that needs no confirmation
    svc = service(subscription_days=30)
    expired = subscribed(svc)
    later = T0 + timedelta(days=31)

    # When the profile subscribes again
    result = subscribe(svc, PROFILE, expired, SUBSCRIBED, later)

    # Then it is active for another 30 days
    assert result.active(later)
    assert result.expires_at == later + timedelta(days=30)


@pytest.mark.parametrize(
    ("validity", "at"),
    [
        ({"valid_from": T0 + timedelta(days=1)}, T0),
        ({"valid_until": T0}, T0),
        ({"valid_until": T0 - timedelta(days=1)}, T0),
    ],
    ids=["before-start", "at-end", "after-end"],
)
def test_a_service_that_is_not_open_refuses_subscriptions_naming_the_field(
    validity: Validity, at: datetime
) -> None:
    # Given a service that is not open at `at`
    svc = service(**validity)

    # When a profile subscribes, Then the refusal names the service
    with pytest.raises(InvalidInputError) as error:
        subscribe(svc, PROFILE, None, SUBSCRIBED, at)

    assert error.value.field == "serviceId"


def test_a_service_that_closed_refuses_the_confirmation_of_a_pending_subscription() -> None:
    # Given a pending subscription to a service that ends tomorrow
    svc = service(Confirmation.DOUBLE_OPT_IN, valid_until=T0 + timedelta(days=1))
    pending = subscribe(svc, PROFILE, None, SUBSCRIBED, T0)

    # When the confirmation comes after the end, Then it is refused
    with pytest.raises(InvalidInputError) as error:
        confirm(svc, PROFILE, pending, T0 + timedelta(days=2))

    assert error.value.field == "serviceId"


@pytest.mark.parametrize("ended", [False, True], ids=["never-subscribed", "unsubscribed"])
def test_confirming_without_a_pending_subscription_is_refused_naming_the_status(
    ended: bool,
) -> None:
    # Given a profile with no subscription, or an unsubscribed one
    svc = service()
    current = unsubscribe(subscribed(svc), T0) if ended else None

    # When it is confirmed, Then the refusal names the status
    with pytest.raises(InvalidInputError) as error:
        confirm(svc, PROFILE, current, T0 + timedelta(days=1))

    assert error.value.field == "status"


def test_confirming_an_active_subscription_changes_nothing() -> None:
    svc = service()
    current = subscribed(svc)

    assert confirm(svc, PROFILE, current, T0 + timedelta(days=1)) == current


def test_subscribing_as_unsubscribed_is_refused() -> None:
    with pytest.raises(InvalidInputError) as error:
        subscribe(service(), PROFILE, None, UNSUBSCRIBED, T0)

    assert error.value.field == "status"


def test_unsubscribing_nothing_is_none() -> None:
    assert unsubscribe(None, T0) is None


def test_unsubscribing_twice_changes_nothing_the_second_time() -> None:
    # Given a profile that unsubscribed
    first = unsubscribe(subscribed(service()), T0 + timedelta(days=1))

    # When it unsubscribes again, Then the subscription is unchanged
    assert unsubscribe(first, T0 + timedelta(days=2)) == first


@pytest.mark.parametrize("status", [PENDING, SUBSCRIBED])
def test_unsubscribing_ends_a_pending_or_subscribed_subscription(
    status: SubscriptionStatus,
) -> None:
    # Given a pending or subscribed subscription that would expire later
    svc = service(subscription_days=30)
    current = subscribe(svc, PROFILE, None, status, T0)

    # When it is unsubscribed
    result = unsubscribe(current, T0 + timedelta(days=1))

    # Then it is unsubscribed, inactive, with no expiry left
    assert result is not None
    assert (result.status, result.expires_at) == (UNSUBSCRIBED, None)
    assert result.updated_at == T0 + timedelta(days=1)
    assert not result.active(T0 + timedelta(days=1))


# A request at some hour after T0: subscribe (as subscribed or pending), confirm, unsubscribe.
requests = st.lists(
    st.tuples(
        st.sampled_from(["subscribe", "subscribe_pending", "confirm", "unsubscribe"]),
        st.integers(min_value=0, max_value=24 * 60),
    ),
    max_size=12,
)


@given(
    requests=requests,
    confirmation=st.sampled_from(Confirmation),
    days=st.one_of(st.none(), st.integers(min_value=1, max_value=60)),
    ends_after=st.one_of(st.none(), st.integers(min_value=1, max_value=60 * 24)),
)
def test_only_a_confirmation_makes_an_unsubscribed_profile_subscribed_again(
    requests: list[tuple[str, int]],
    confirmation: Confirmation,
    days: int | None,
    ends_after: int | None,
) -> None:
    """Whatever the requests, in time order: a profile that unsubscribed is subscribed
    again only by a confirmation, and no subscription outlives its service."""
    svc = service(
        confirmation,
        subscription_days=days,
        valid_until=T0 + timedelta(hours=ends_after) if ends_after else None,
    )
    current: Subscription | None = None
    needs_confirmation = False
    for kind, hours in sorted(requests, key=lambda request: request[1]):
        at = T0 + timedelta(hours=hours)
        try:
            if kind == "unsubscribe":
                updated = unsubscribe(current, at)
            elif kind == "confirm":
                updated = confirm(svc, PROFILE, current, at)
            else:
                wanted = PENDING if kind == "subscribe_pending" else SUBSCRIBED
                updated = subscribe(svc, PROFILE, current, wanted, at)
        except InvalidInputError:
            continue
        if updated is None:
            continue
        if updated.status is SUBSCRIBED and updated != current:
            assert not (needs_confirmation and kind != "confirm")
            needs_confirmation = False
        if updated.status is UNSUBSCRIBED:
            needs_confirmation = True
        if updated.expires_at and svc.valid_until:
            assert updated.expires_at <= svc.valid_until
        current = updated
