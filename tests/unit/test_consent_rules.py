"""The consent rules: changes, the hash chain, rebuilding state from history."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consentry.consent.rules import (
    FORM_2_FIELDS,
    GENESIS_HASH,
    ConsentChange,
    ConsentEvent,
    ConsentState,
    Scope,
    advance,
    commitment,
    first_broken_link,
    replay,
)
from consentry.core.errors import InvalidInputError
from consentry.core.types import Action, Channel, MessageClass, ProfileId, Source

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PROFILE = ProfileId("p-1")


def change(scope: Scope, action: Action = Action.OPT_OUT) -> ConsentChange:
    return ConsentChange(scope=scope, action=action, source=Source.ONE_CLICK, actor="recipient")


def applied(step: tuple[ConsentState, ConsentEvent] | None) -> tuple[ConsentState, ConsentEvent]:
    """The state and event of a change that changes something."""
    assert step is not None
    return step


def test_opt_out_of_one_channel_blocks_marketing_on_that_channel_only() -> None:
    state, _ = applied(
        advance(ConsentState(profile_id=PROFILE), change(Scope.channel(Channel.EMAIL)), T0)
    )

    assert state.blocks(Channel.EMAIL, MessageClass.MARKETING)
    assert not state.blocks(Channel.SMS, MessageClass.MARKETING)


def test_opt_out_of_everything_never_blocks_transactional_messages() -> None:
    state, _ = applied(advance(ConsentState(profile_id=PROFILE), change(Scope.all()), T0))

    assert all(state.blocks(c, MessageClass.MARKETING) for c in Channel)
    assert not any(state.blocks(c, MessageClass.TRANSACTIONAL) for c in Channel)


def test_a_repeated_change_has_no_effect_and_no_event() -> None:
    state, _ = applied(advance(ConsentState(profile_id=PROFILE), change(Scope.all()), T0))

    assert advance(state, change(Scope.all()), T0 + timedelta(seconds=1)) is None


def test_each_change_advances_version_sequence_and_chain() -> None:
    first, event1 = applied(advance(ConsentState(profile_id=PROFILE), change(Scope.all()), T0))
    second, event2 = applied(advance(first, change(Scope.all(), Action.OPT_IN), T0))

    assert (first.version, second.version) == (1, 2)
    assert (event1.seq, event2.seq) == (1, 2)
    assert event1.prev_hash == GENESIS_HASH
    assert event2.prev_hash == event1.hash == first.head_hash
    assert second.head_hash == event2.hash


def test_service_scopes_are_not_profile_flags() -> None:
    with pytest.raises(InvalidInputError) as error:
        advance(ConsentState(profile_id=PROFILE), change(Scope.service("s1")), T0)
    assert error.value.field == "scope"


def test_actions_that_do_not_fit_the_scope_are_refused() -> None:
    with pytest.raises(InvalidInputError) as error:
        advance(ConsentState(profile_id=PROFILE), change(Scope.all(), Action.CONFIRM), T0)
    assert error.value.field == "action"


@pytest.mark.parametrize("text", ["all", "channel:email", "channel:direct_mail", "service:news-1"])
def test_scope_text_round_trips(text: str) -> None:
    assert str(Scope.parse(text)) == text


@pytest.mark.parametrize("text", ["", "everything", "all:x", "channel:fax", "channel:", "service:"])
def test_malformed_scopes_are_refused_with_the_field(text: str) -> None:
    with pytest.raises(InvalidInputError) as error:
        Scope.parse(text)
    assert error.value.field == "scope"


scopes = st.one_of(st.just(Scope.all()), st.sampled_from(list(Channel)).map(Scope.channel))
changes = st.lists(st.tuples(scopes, st.sampled_from([Action.OPT_OUT, Action.OPT_IN])), max_size=30)


def history(steps: list[tuple[Scope, Action]]) -> tuple[ConsentState, list[ConsentEvent]]:
    state, events = ConsentState(profile_id=PROFILE), []
    for i, (scope, action) in enumerate(steps):
        step = advance(state, change(scope, action), T0 + timedelta(minutes=i))
        if step is not None:
            state, event = step
            events.append(event)
    return state, events


@given(changes)
def test_state_rebuilt_from_events_equals_the_state_kept(steps: list[tuple[Scope, Action]]) -> None:
    state, events = history(steps)

    rebuilt = replay(PROFILE, events)

    assert replace(rebuilt, version=0) == replace(state, version=0)
    assert first_broken_link(events) is None


@given(changes.filter(lambda s: len(s) >= 1), st.data())
def test_altering_any_event_names_it(
    steps: list[tuple[Scope, Action]], data: st.DataObject
) -> None:
    _, events = history(steps)
    if not events:
        return
    index = data.draw(st.integers(0, len(events) - 1))
    field = data.draw(st.sampled_from(["actor", "scope", "at", "hash", "prev_hash"]))
    value: Any = {
        "actor": "someone-else",
        "scope": "channel:push" if events[index].scope != "channel:push" else "all",
        "at": events[index].at + timedelta(seconds=1),
        "hash": "f" * 64,
        "prev_hash": "e" * 64,
    }[field]
    tampered = [
        *events[:index],
        replace(events[index], **{field: value}),
        *events[index + 1 :],
    ]

    assert first_broken_link(tampered) == events[index].seq


def test_a_removed_event_breaks_the_chain_where_it_was() -> None:
    _, events = history(
        [(Scope.all(), Action.OPT_OUT), (Scope.all(), Action.OPT_IN), (Scope.all(), Action.OPT_OUT)]
    )

    assert first_broken_link([events[0], events[2]]) == 3


# ---------------------------------------------------------------- forms of the chain


def landing_change(ip: str = "203.0.113.7", agent: str = "Mozilla/5.0") -> ConsentChange:
    return ConsentChange(
        scope=Scope.all(),
        action=Action.OPT_OUT,
        source=Source.LANDING,
        actor="recipient",
        ip=ip,
        user_agent=agent,
        requested_at=T0 - timedelta(seconds=2),
    )


def history_of_changes(count: int) -> list[ConsentEvent]:
    state, events = ConsentState(profile_id=PROFILE), []
    for i in range(count):
        action = Action.OPT_OUT if i % 2 == 0 else Action.OPT_IN
        step = replace(landing_change(ip=f"198.51.100.{i}"), action=action)
        state, event = applied(advance(state, step, T0 + timedelta(minutes=i)))
        events.append(event)
    return events


def test_a_new_event_commits_its_personal_values_and_keeps_the_request_time() -> None:
    _, event = applied(advance(ConsentState(profile_id=PROFILE), landing_change(), T0))

    assert (event.form, event.requested_at, event.at) == (2, T0 - timedelta(seconds=2), T0)
    assert event.ip == "203.0.113.7"
    assert event.ip_commitment is not None
    assert event.ip_commitment != event.ip
    assert event.ip_salt is not None
    assert event.ip_commitment == commitment(event.ip, event.ip_salt)
    assert "ip" not in FORM_2_FIELDS
    assert replace(event, ip="192.0.2.1").computed_hash() == event.hash  # only committed


def test_erasing_personal_values_keeps_every_hash_and_the_chain_valid() -> None:
    events = history_of_changes(4)

    erased = [event.erased(T0 + timedelta(days=1)) for event in events]

    assert [e.hash for e in erased] == [e.hash for e in events]
    assert all(e.ip is None and e.ip_salt is None and e.ip_commitment for e in erased)
    assert first_broken_link(erased) is None


def test_a_personal_value_changed_after_the_fact_breaks_the_chain_at_its_event() -> None:
    events = history_of_changes(3)
    forged = replace(events[1], ip="192.0.2.1")

    assert first_broken_link([events[0], forged, events[2]]) == events[1].seq


def test_a_commitment_changed_after_the_fact_breaks_the_chain_at_its_event() -> None:
    events = history_of_changes(3)
    forged = replace(events[1].erased(T0), user_agent_commitment="0" * 64)

    assert first_broken_link([events[0], forged, events[2]]) == events[1].seq
