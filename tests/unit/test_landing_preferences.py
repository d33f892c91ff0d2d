"""What the preference center's boxes turn into, and how a change is undone."""

from collections.abc import Collection

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consentry.consent.rules import Scope
from consentry.consent.subscriptions import SubscriptionStatus
from consentry.core.errors import InvalidInputError
from consentry.core.types import Action, Channel, ProfileId, ServiceId
from landing.preferences import (
    ChannelChoice,
    Preferences,
    ServiceChoice,
    Step,
    changed_boxes,
    decode_steps,
    encode_steps,
    never_steps,
    unsubscribe_steps,
)


def view(
    *, stop_all: bool = False, opted_out: Collection[Channel] = (), subscribed: Collection[str] = ()
) -> Preferences:
    return Preferences(
        profile_id=ProfileId("p"),
        locale=None,
        stop_all=stop_all,
        channels=tuple(
            ChannelChoice(channel=c, allowed=c not in opted_out, address=None) for c in Channel
        ),
        services=tuple(
            ServiceChoice(
                service_id=ServiceId(s),
                label=s,
                status=SubscriptionStatus.SUBSCRIBED if s in subscribed else None,
            )
            for s in ("news", "offers")
        ),
        addresses=(),
    )


def boxes_of(preferences: Preferences) -> dict[str, bool]:
    return dict(preferences.boxes)


def test_unticking_a_channel_and_ticking_a_service_are_two_steps() -> None:
    shown = view()
    submitted = boxes_of(shown) | {"channel:sms": False, "service:news": True}

    steps = changed_boxes(shown.shown, submitted, shown)

    assert steps == [
        Step(scope=Scope.channel(Channel.SMS), action=Action.OPT_OUT),
        Step(scope=Scope.service("news"), action=Action.SUBSCRIBE),
    ]


def test_the_everything_box_opts_out_of_all() -> None:
    shown = view()

    steps = changed_boxes(shown.shown, boxes_of(shown) | {"all": True}, shown)

    assert steps == [Step(scope=Scope.all(), action=Action.OPT_OUT)]


def test_a_box_changed_elsewhere_meanwhile_is_left_alone() -> None:
    shown = view()
    now = view(opted_out={Channel.SMS})

    steps = changed_boxes(shown.shown, boxes_of(shown) | {"channel:sms": False}, now)

    assert steps == []


def test_boxes_the_page_did_not_show_change_nothing() -> None:
    shown = view()

    steps = changed_boxes("", boxes_of(shown) | {"channel:sms": False}, shown)

    assert steps == []


def test_the_unsubscribe_page_stops_the_links_scope_or_everything() -> None:
    service = Scope.service("news")

    assert unsubscribe_steps(service, everything=False) == [
        Step(scope=service, action=Action.UNSUBSCRIBE)
    ]
    assert unsubscribe_steps(service, everything=True) == [
        Step(scope=Scope.all(), action=Action.OPT_OUT)
    ]
    assert never_steps()[0].never


SCOPES = st.sampled_from([Scope.all(), Scope.channel(Channel.EMAIL), Scope.service("svc-1.a")])
ACTIONS = st.sampled_from(
    [Action.OPT_IN, Action.OPT_OUT, Action.SUBSCRIBE, Action.CONFIRM, Action.UNSUBSCRIBE]
)


@given(st.lists(st.builds(Step, scope=SCOPES, action=ACTIONS, never=st.booleans()), max_size=6))
def test_steps_survive_their_form_field(steps: list[Step]) -> None:
    assert decode_steps(encode_steps(steps)) == steps


def test_undoing_an_opt_out_opts_in_and_an_unsubscribe_resubscribes() -> None:
    opt_out = Step(scope=Scope.all(), action=Action.OPT_OUT, never=True)
    service = Scope.service("news")

    assert opt_out.inverse() == Step(scope=Scope.all(), action=Action.OPT_IN, never=True)
    assert Step(scope=service, action=Action.CONFIRM).inverse().action is Action.UNSUBSCRIBE
    assert Step(scope=service, action=Action.UNSUBSCRIBE).inverse().action is Action.SUBSCRIBE


def test_an_undo_field_naming_no_known_change_is_refused() -> None:
    with pytest.raises(InvalidInputError):
        decode_steps("all>delete_everything")
