"""The consent store on moto: one transaction per change, optimistic locking, the index."""

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from consentry.consent import profile_store
from consentry.consent.rules import ConsentChange, Scope, first_broken_link, replay
from consentry.consent.tables import ConsentEventModel, ProfileModel
from consentry.core.clock import Clock
from consentry.core.errors import ConflictError, StaleVersionError
from consentry.core.types import Action, Channel, ProfileId, Source

PROFILE = ProfileId("p-300")
T0 = datetime(2026, 5, 1, tzinfo=UTC)


def change(
    scope: Scope | None = None, action: Action = Action.OPT_OUT, source: Source = Source.OPERATOR
) -> ConsentChange:
    return ConsentChange(scope=scope or Scope.all(), action=action, source=source, actor="op")


def ticking_clock() -> Clock:
    ticks = count()
    return lambda: T0 + timedelta(seconds=next(ticks))


def test_a_change_writes_the_state_and_its_event_together() -> None:
    result = profile_store.record_change(PROFILE, change(), clock=ticking_clock())

    item = ProfileModel.get(PROFILE)
    (event,) = ConsentEventModel.query(PROFILE)
    assert (item.version, item.head_seq, item.head_hash) == (1, 1, event.hash)
    assert result.event is not None
    assert result.event.hash == event.hash
    assert item.opt_out_all


def test_a_lost_race_is_retried_on_fresh_state() -> None:
    competitor_done = False

    def clock_with_a_competitor() -> datetime:
        nonlocal competitor_done
        if not competitor_done:
            competitor_done = True
            profile_store.record_change(
                PROFILE, change(Scope.channel(Channel.SMS)), clock=lambda: T0
            )
        return T0 + timedelta(seconds=1)

    profile_store.record_change(
        PROFILE, change(Scope.channel(Channel.EMAIL)), clock=clock_with_a_competitor
    )

    state = profile_store.get_consent(PROFILE)
    assert state.opt_out_channels == {Channel.EMAIL, Channel.SMS}
    events = list(reversed(profile_store.latest_events(PROFILE, 10)))
    assert [e.scope for e in events] == ["channel:sms", "channel:email"]
    assert first_broken_link(events) is None


def test_a_writer_that_always_loses_gets_a_conflict_and_writes_nothing_of_its_own() -> None:
    channels = iter(list(Channel) * 3)

    def clock_with_endless_competitors() -> datetime:
        profile_store.record_change(
            PROFILE, change(Scope.channel(next(channels)), Action.OPT_OUT), clock=lambda: T0
        )
        profile_store.record_change(PROFILE, change(Scope.all(), Action.OPT_OUT), clock=lambda: T0)
        profile_store.record_change(PROFILE, change(Scope.all(), Action.OPT_IN), clock=lambda: T0)
        return T0

    with pytest.raises(ConflictError):
        profile_store.record_change(
            PROFILE,
            change(Scope.all(), Action.OPT_OUT, Source.API),
            clock=clock_with_endless_competitors,
        )

    assert all(e.source != "api" for e in profile_store.latest_events(PROFILE, 100))


def test_a_stale_expected_version_is_refused_and_writes_nothing() -> None:
    profile_store.record_change(PROFILE, change(), clock=ticking_clock())

    with pytest.raises(StaleVersionError) as error:
        profile_store.record_change(PROFILE, change(Scope.all(), Action.OPT_IN), expected_version=0)

    assert (error.value.expected, error.value.actual) == (0, 1)
    assert profile_store.get_consent(PROFILE).opt_out_all


def test_the_matching_expected_version_is_applied() -> None:
    profile_store.record_change(PROFILE, change(), clock=ticking_clock())

    result = profile_store.record_change(
        PROFILE, change(Scope.all(), Action.OPT_IN), expected_version=1
    )

    assert result.state.version == 2
    assert not profile_store.get_consent(PROFILE).opt_out_all


def test_registering_a_profile_keeps_its_consent_and_chain() -> None:
    profile_store.record_change(PROFILE, change(Scope.channel(Channel.PUSH)), clock=ticking_clock())
    before = profile_store.get_consent(PROFILE)

    after = profile_store.register_profile(PROFILE, {Channel.EMAIL: "a@example.com"}, "fr")

    stored = profile_store.get_consent(PROFILE)
    assert stored == after
    assert (stored.addresses, stored.locale) == ({Channel.EMAIL: "a@example.com"}, "fr")
    assert (stored.opt_out_channels, stored.head_hash) == (
        before.opt_out_channels,
        before.head_hash,
    )
    assert stored.version == before.version + 1


def test_registering_the_same_details_again_writes_nothing() -> None:
    first = profile_store.register_profile(PROFILE, {Channel.SMS: "+31612345678"}, "nl")

    again = profile_store.register_profile(PROFILE, {Channel.SMS: "+31612345678"}, "nl")

    assert again.version == first.version == 1


def test_a_change_after_registration_is_applied() -> None:
    profile_store.register_profile(PROFILE, {Channel.SMS: "+31612345678"}, "nl")

    profile_store.record_change(PROFILE, change())

    state = profile_store.get_consent(PROFILE)
    assert state.opt_out_all
    assert state.addresses == {Channel.SMS: "+31612345678"}


def test_only_opted_out_profiles_are_in_the_opted_out_index() -> None:
    profile_store.record_change(ProfileId("out"), change(Scope.channel(Channel.EMAIL)))
    profile_store.register_profile(ProfileId("in"), {Channel.EMAIL: "in@example.com"}, "en")
    profile_store.record_change(ProfileId("back"), change())
    profile_store.record_change(ProfileId("back"), change(Scope.all(), Action.OPT_IN))

    indexed = [item.profile_id for item in ProfileModel.opted_out_index.scan()]

    assert indexed == ["out"]


def test_the_stored_history_rebuilds_the_stored_state() -> None:
    clock = ticking_clock()
    for scope, action in [
        (Scope.all(), Action.OPT_OUT),
        (Scope.channel(Channel.EMAIL), Action.OPT_OUT),
        (Scope.all(), Action.OPT_IN),
        (Scope.channel(Channel.SMS), Action.OPT_OUT),
    ]:
        profile_store.record_change(PROFILE, change(scope, action), clock=clock)

    events = list(reversed(profile_store.latest_events(PROFILE, 100)))
    rebuilt = replay(PROFILE, events)

    stored = profile_store.get_consent(PROFILE)
    assert (rebuilt.opt_out_all, rebuilt.opt_out_channels, rebuilt.head_hash) == (
        stored.opt_out_all,
        stored.opt_out_channels,
        stored.head_hash,
    )
