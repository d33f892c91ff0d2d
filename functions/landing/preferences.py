"""What the preference center shows and what a person's choices change.

Plain values in, plain values out; the stores do the reading and writing. A page
shows a `Preferences`; its form sends back the state it showed (`shown`) and the
boxes as the person left them, and only the differences become changes, so a change
made elsewhere between the two is not undone by a stale page. Every change records
the source `landing`, the actor `recipient`, the request's IP and user agent, the
delivery of the link and the version of the wording the person saw.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from consentry.consent import profile_store, service_store
from consentry.consent.rules import ConsentChange, ConsentEvent, ConsentState, Scope
from consentry.consent.subscriptions import Service, Subscription, SubscriptionStatus
from consentry.core.errors import InvalidInputError
from consentry.core.observability import mask_address
from consentry.core.types import (
    MAX_PAGE,
    RECIPIENT_ACTOR,
    Action,
    Channel,
    DeliveryId,
    ProfileId,
    ScopeKind,
    ServiceId,
    Source,
)

NEVER_REASON = "never contact me again"
UNDO_REASON = "undo"
MAX_SERVICES = 200
"""Services a preference center lists at most (services are a short list)."""


@dataclass(frozen=True)
class ChannelChoice:
    channel: Channel
    allowed: bool
    address: str | None
    """The profile's address on the channel, masked: enough to recognise, not to read."""


@dataclass(frozen=True)
class ServiceChoice:
    service_id: ServiceId
    label: str
    status: SubscriptionStatus | None
    """`subscribed` (confirmed, unexpired), `pending`, or None."""

    @property
    def subscribed(self) -> bool:
        return self.status is not None


@dataclass(frozen=True)
class Preferences:
    """One profile's choices as the preference center shows them."""

    profile_id: ProfileId
    locale: str | None
    stop_all: bool
    channels: tuple[ChannelChoice, ...]
    services: tuple[ServiceChoice, ...]
    addresses: tuple[tuple[Channel, str], ...]
    """Every known address of the profile, masked."""

    @property
    def boxes(self) -> dict[str, bool]:
        """Each checkbox of the form by key (`all`, `channel:<c>`, `service:<id>`)."""
        boxes = {"all": self.stop_all}
        boxes |= {f"channel:{c.channel.value}": c.allowed for c in self.channels}
        boxes |= {f"service:{s.service_id}": s.subscribed for s in self.services}
        return boxes

    @property
    def shown(self) -> str:
        """The boxes as shown, for the form to send back."""
        return ";".join(f"{key}={int(on)}" for key, on in self.boxes.items())


def load(profile_id: ProfileId, at: datetime) -> Preferences:
    """The profile's choices now, from the consent store (an unknown profile allows all;
    an erased one is gone: GoneError)."""
    state = profile_store.find_consent(profile_id) or ConsentState(profile_id=profile_id)
    if state.erased_at is not None:
        profile_store.get_consent(profile_id)  # raises GoneError, with what was erased
    subscriptions = {s.service_id: s for s in service_store.subscriptions_of(profile_id)}
    services = [
        ServiceChoice(
            service_id=service.service_id,
            label=service.public_label,
            status=_status(subscriptions.get(service.service_id), at),
        )
        for service in _services()
        if service.open_at(at) or _status(subscriptions.get(service.service_id), at)
    ]
    return Preferences(
        profile_id=profile_id,
        locale=state.locale,
        stop_all=state.opt_out_all,
        channels=tuple(
            ChannelChoice(
                channel=channel,
                allowed=channel not in state.opt_out_channels,
                address=_masked(state, channel),
            )
            for channel in Channel
        ),
        services=tuple(sorted(services, key=lambda s: s.label.casefold())),
        addresses=tuple(
            (channel, mask_address(address)) for channel, address in state.addresses.items()
        ),
    )


def _services() -> list[Service]:
    services: list[Service] = []
    cursor: str | None = None
    while len(services) < MAX_SERVICES:
        page = service_store.list_services(MAX_PAGE, cursor)
        services.extend(page.items)
        if page.cursor is None:
            break
        cursor = page.cursor
    return services[:MAX_SERVICES]


def _status(subscription: Subscription | None, at: datetime) -> SubscriptionStatus | None:
    if subscription is None:
        return None
    if subscription.active(at):
        return SubscriptionStatus.SUBSCRIBED
    if subscription.status is SubscriptionStatus.PENDING:
        return SubscriptionStatus.PENDING
    return None


def _masked(state: ConsentState, channel: Channel) -> str | None:
    address = state.addresses.get(channel)
    return mask_address(address) if address else None


@dataclass(frozen=True)
class Step:
    """One change a page asks for."""

    scope: Scope
    action: Action
    never: bool = False
    """The "never contact me again" opt-out: it denylists the addresses whatever the
    deployment's policy (and its undo lifts those entries again)."""

    def encode(self) -> str:
        return f"{self.scope}>{self.action.value}{'>never' if self.never else ''}"

    @classmethod
    def decode(cls, text: str) -> Step:
        scope, _, rest = text.partition(">")
        action, _, flag = rest.partition(">")
        try:
            return cls(scope=Scope.parse(scope), action=Action(action), never=flag == "never")
        except ValueError:
            raise InvalidInputError("undo", "not a change this page makes") from None

    def inverse(self) -> Step:
        inverse = {
            Action.OPT_OUT: Action.OPT_IN,
            Action.OPT_IN: Action.OPT_OUT,
            Action.SUBSCRIBE: Action.UNSUBSCRIBE,
            Action.CONFIRM: Action.UNSUBSCRIBE,
            Action.UNSUBSCRIBE: Action.SUBSCRIBE,
        }
        return Step(scope=self.scope, action=inverse[self.action], never=self.never)


def encode_steps(steps: Iterable[Step]) -> str:
    return "|".join(step.encode() for step in steps)


def decode_steps(text: str) -> list[Step]:
    return [Step.decode(part) for part in text.split("|") if part]


def changed_boxes(shown: str, submitted: dict[str, bool], view: Preferences) -> list[Step]:
    """The steps for the boxes the person changed, among those the page has now; a box
    already as wanted (changed elsewhere meanwhile) needs none."""
    before: dict[str, bool] = {}
    for part in shown.split(";"):
        key, _, value = part.partition("=")
        if value in ("0", "1"):
            before[key] = value == "1"
    steps = []
    for key, now_on in view.boxes.items():
        wanted = submitted.get(key, False)
        if key in before and before[key] != wanted and wanted != now_on:
            steps.append(_step_for(key, wanted))
    return steps


def _step_for(key: str, on: bool) -> Step:
    scope = Scope.parse(key)
    if scope.kind is ScopeKind.ALL:
        return Step(scope=scope, action=Action.OPT_OUT if on else Action.OPT_IN)
    if scope.kind is ScopeKind.CHANNEL:
        return Step(scope=scope, action=Action.OPT_IN if on else Action.OPT_OUT)
    return Step(scope=scope, action=Action.SUBSCRIBE if on else Action.UNSUBSCRIBE)


@dataclass(frozen=True)
class Circumstances:
    """What the proof of consent records about the request besides the change."""

    ip: str | None
    user_agent: str | None
    delivery_id: DeliveryId | None
    wording_version: str | None
    owner_denylists: bool
    requested_at: datetime | None = None
    """When the request came."""
    """The deployment's policy: an owner's opt-out also denylists the addresses."""


@dataclass(frozen=True)
class Outcome:
    """One change that was made, as the confirmation page tells it."""

    step: Step
    status: SubscriptionStatus | None = None
    service_label: str | None = None
    confirmation_to: str | None = None
    """The masked address a confirmation email went to."""


@dataclass(frozen=True)
class Applied:
    outcomes: tuple[Outcome, ...]
    pending: tuple[ServiceId, ...] = ()
    """Services whose subscription now waits for a confirmation email."""

    @property
    def undo(self) -> list[Step]:
        return [outcome.step.inverse() for outcome in reversed(self.outcomes)]


def apply(
    profile_id: ProfileId, steps: list[Step], why: Circumstances, *, reason: str | None = None
) -> Applied:
    """Make the changes: profile-wide and channel changes in as few transactions as the
    denylist policy allows, each service change in its own."""
    events: list[ConsentEvent] = []
    consent_steps = [s for s in steps if s.scope.kind is not ScopeKind.SERVICE]
    for owner_denylists, group in _by_denylisting(consent_steps, why.owner_denylists):
        changes = [_change(step, why, reason) for step in group]
        events.extend(
            profile_store.record_changes(
                profile_id, changes, owner_denylists=owner_denylists
            ).events
        )
    labels: dict[str, str] = {}
    pending: list[ServiceId] = []
    for step in steps:
        if step.scope.kind is not ScopeKind.SERVICE:
            continue
        service_id = ServiceId(str(step.scope.value))
        labels[str(step.scope)] = service_store.get_service(service_id).public_label
        result = profile_store.record_change(profile_id, _change(step, why, reason))
        events.extend(result.events)
        if result.subscription and result.subscription.status is SubscriptionStatus.PENDING:
            pending.append(service_id)
    never = {str(s.scope) for s in steps if s.never}
    outcomes = tuple(
        Outcome(
            step=Step(
                scope=Scope.parse(event.scope),
                action=event.action,
                never=event.scope in never and event.action is Action.OPT_OUT,
            ),
            status=event.result,
            service_label=labels.get(event.scope),
        )
        for event in events
    )
    return Applied(outcomes=outcomes, pending=tuple(pending))


def _by_denylisting(steps: list[Step], policy: bool) -> list[tuple[bool, list[Step]]]:
    """Groups by the `owner_denylists` each step needs: an opt-out follows the policy
    (the never page always denylists), an opt-in always lifts the owner's own entries."""
    groups: dict[bool, list[Step]] = {}
    for step in steps:
        denylists = step.action is Action.OPT_IN or step.never or policy
        groups.setdefault(denylists, []).append(step)
    return sorted(groups.items(), reverse=True)


def _change(step: Step, why: Circumstances, reason: str | None) -> ConsentChange:
    return ConsentChange(
        scope=step.scope,
        action=step.action,
        source=Source.LANDING,
        actor=RECIPIENT_ACTOR,
        reason=NEVER_REASON if step.never and step.action is Action.OPT_OUT else reason,
        ip=why.ip,
        user_agent=why.user_agent,
        requested_at=why.requested_at,
        delivery_id=why.delivery_id,
        wording_version=why.wording_version,
        requested=SubscriptionStatus.SUBSCRIBED if step.action is Action.SUBSCRIBE else None,
    )


def unsubscribe_steps(scope: Scope, *, everything: bool) -> list[Step]:
    """The unsubscribe page: the link's own scope, or everything."""
    if everything or scope.kind is ScopeKind.ALL:
        return [Step(scope=Scope.all(), action=Action.OPT_OUT)]
    if scope.kind is ScopeKind.CHANNEL:
        return [Step(scope=scope, action=Action.OPT_OUT)]
    return [Step(scope=scope, action=Action.UNSUBSCRIBE)]


def never_steps() -> list[Step]:
    return [Step(scope=Scope.all(), action=Action.OPT_OUT, never=True)]
