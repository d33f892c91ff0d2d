"""The consent rules of one profile, as plain functions over plain values.

A change is applied to a state to give the next state and the event that proves it.
Events are chained by hash, so the history alone rebuilds the state and shows any
tampering.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum
from typing import Any, Self

from consentry.consent.subscriptions import Subscription, SubscriptionStatus
from consentry.core.clock import iso_text
from consentry.core.errors import InvalidInputError
from consentry.core.types import Action, Channel, MessageClass, ProfileId, ScopeKind, Source

GENESIS_HASH = "0" * 64


@dataclass(frozen=True, kw_only=True)
class Scope:
    """What a change or a link is about: everything, one channel, or one service."""

    kind: ScopeKind
    value: str | None = None

    @classmethod
    def all(cls) -> Self:
        return cls(kind=ScopeKind.ALL)

    @classmethod
    def channel(cls, channel: Channel) -> Self:
        return cls(kind=ScopeKind.CHANNEL, value=channel.value)

    @classmethod
    def service(cls, service_id: str) -> Self:
        return cls(kind=ScopeKind.SERVICE, value=service_id)

    @classmethod
    def parse(cls, text: str) -> Self:
        """Read the form `str()` writes: `all`, `channel:email`, `service:<id>`."""
        kind, _, value = text.partition(":")
        try:
            scope_kind = ScopeKind(kind)
        except ValueError:
            raise InvalidInputError("scope", f"unknown scope {text!r}") from None
        if scope_kind is ScopeKind.ALL:
            if value:
                raise InvalidInputError("scope", "the scope 'all' takes no value")
            return cls.all()
        if scope_kind is ScopeKind.CHANNEL:
            try:
                return cls.channel(Channel(value))
            except ValueError:
                raise InvalidInputError("scope", f"unknown channel {value!r}") from None
        if not value:
            raise InvalidInputError("scope", "a service scope needs a service id")
        return cls(kind=scope_kind, value=value)

    def __str__(self) -> str:
        return self.kind.value if self.value is None else f"{self.kind.value}:{self.value}"


@dataclass(frozen=True, kw_only=True)
class ConsentState:
    """What a profile allows.

    `version` counts every write of the profile (optimistic locking; 0 is a profile
    the store has never written); `head_seq` and `head_hash` name the newest event.
    """

    profile_id: ProfileId
    version: int = 0
    head_seq: int = 0
    opt_out_all: bool = False
    opt_out_channels: frozenset[Channel] = frozenset()
    addresses: dict[Channel, str] = field(default_factory=dict)
    locale: str | None = None
    head_hash: str = GENESIS_HASH
    updated_at: datetime | None = None
    erased_at: datetime | None = None
    """When the profile's personal data was erased; its opt-outs stay."""

    def blocks(self, channel: Channel, message_class: MessageClass) -> bool:
        """Profile opt-outs block marketing only; transactional mail is never blocked here."""
        if message_class is MessageClass.TRANSACTIONAL:
            return False
        return self.opt_out_all or channel in self.opt_out_channels

    @property
    def opted_out(self) -> bool:
        return self.opt_out_all or bool(self.opt_out_channels)


@dataclass(frozen=True, kw_only=True)
class ConsentChange:
    """One requested change and the circumstances that the proof of consent records."""

    scope: Scope
    action: Action
    source: Source
    actor: str
    requested_at: datetime | None = None
    """When the person or system asked (the request's time); the change is effective
    when it is written."""
    reason: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    delivery_id: str | None = None
    wording_version: str | None = None
    requested: SubscriptionStatus | None = None
    """For a subscribe: the status asked for (`pending` sends a confirmation first)."""


PERSONAL_FIELDS = ("ip", "user_agent")
"""The fields of an event that can identify the person; they enter the chain as
commitments (a salted hash), so that erasing a value and its salt keeps the chain whole."""
CURRENT_FORM = 2
FORM_1_FIELDS = (
    "profile_id",
    "seq",
    "at",
    "scope",
    "action",
    "source",
    "actor",
    "reason",
    "ip",
    "user_agent",
    "delivery_id",
    "wording_version",
    "result",
    "expires_at",
    "prev_hash",
)
"""What the hash of an event of form 1 covers: every field, the personal ones in clear."""
FORM_2_FIELDS = (
    *(name for name in FORM_1_FIELDS if name not in PERSONAL_FIELDS),
    "form",
    "requested_at",
    *(f"{name}_commitment" for name in PERSONAL_FIELDS),
)
"""Form 2: the personal fields as commitments, with the form and the request's time."""


@dataclass(frozen=True, kw_only=True)
class ConsentEvent:
    """One link of a profile's proof-of-consent chain."""

    profile_id: ProfileId
    seq: int
    at: datetime
    """When the change was made effective (written)."""
    scope: str
    action: Action
    source: Source
    actor: str
    reason: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    delivery_id: str | None = None
    wording_version: str | None = None
    result: SubscriptionStatus | None = None
    """For a service scope: the subscription's status after the change."""
    expires_at: datetime | None = None
    prev_hash: str
    hash: str
    form: int = 1
    """Which fields the hash covers: 1 (events of before), 2 (personal fields committed)."""
    requested_at: datetime | None = None
    """When the person or system asked (form 2)."""
    ip_commitment: str | None = None
    ip_salt: str | None = None
    user_agent_commitment: str | None = None
    user_agent_salt: str | None = None
    erased_at: datetime | None = None
    """When the personal fields (values and salts) were erased; not part of the hash."""

    def computed_hash(self) -> str:
        names = FORM_1_FIELDS if self.form == 1 else FORM_2_FIELDS
        return event_hash({name: _hashed(getattr(self, name)) for name in names})

    def commitments_hold(self) -> bool:
        """Each personal value still held is the one its commitment was made of."""
        if self.form == 1:
            return True
        for name in PERSONAL_FIELDS:
            value, salt = getattr(self, name), getattr(self, f"{name}_salt")
            committed = getattr(self, f"{name}_commitment")
            if value is None and salt is None:
                continue  # erased, or never given (then its commitment is of nothing)
            if value is None or salt is None or commitment(value, salt) != committed:
                return False
        return True

    def erased(self, at: datetime) -> ConsentEvent:
        """The event without its personal values and their salts; the hash still holds."""
        cleared: dict[str, Any] = {"erased_at": at}
        for name in PERSONAL_FIELDS:
            cleared |= {name: None, f"{name}_salt": None}
        return replace(self, **cleared)


def commitment(value: str, salt: str) -> str:
    """A salted hash of a personal value: it proves the value without holding it."""
    return hashlib.sha256(bytes.fromhex(salt) + b"\x00" + value.encode()).hexdigest()


def _hashed(value: object) -> object:
    """A field as the chain's canonical JSON holds it: an enum as its value, a time as
    ISO 8601 with `Z` for UTC (the form the hashes of every stored event were made of,
    pinned by tests/unit/test_consent_chain_format.py)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return iso_text(value)
    return value


def event_hash(fields: dict[str, object]) -> str:
    """SHA-256 over the canonical JSON of an event's fields (its own hash excluded)."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


_OPT_ACTIONS = {Action.OPT_OUT: True, Action.OPT_IN: False}


def apply_change(state: ConsentState, change: ConsentChange) -> ConsentState:
    """The state after `change`; equal to `state` when the change has no effect."""
    if change.scope.kind is ScopeKind.SERVICE:
        raise InvalidInputError("scope", "service subscriptions are not changed here")
    try:
        opted_out = _OPT_ACTIONS[change.action]
    except KeyError:
        raise InvalidInputError(
            "action", f"{change.action.value} does not apply to {change.scope}"
        ) from None
    if change.scope.kind is ScopeKind.ALL:
        return replace(state, opt_out_all=opted_out)
    channel = Channel(str(change.scope.value))
    channels = (
        state.opt_out_channels | {channel} if opted_out else state.opt_out_channels - {channel}
    )
    return replace(state, opt_out_channels=channels)


def next_event(
    state: ConsentState,
    change: ConsentChange,
    at: datetime,
    subscription: Subscription | None = None,
    *,
    salt: Callable[[], str] = lambda: secrets.token_hex(16),
) -> ConsentEvent:
    """The event that proves `change`, chained after the state's head (the current form:
    personal values committed with a fresh salt each)."""
    personal: dict[str, Any] = {}
    for name in PERSONAL_FIELDS:
        value = getattr(change, name)
        if value is not None:
            each = salt()
            personal |= {
                name: value,
                f"{name}_salt": each,
                f"{name}_commitment": commitment(value, each),
            }
    fields: dict[str, Any] = {
        "profile_id": state.profile_id,
        "seq": state.head_seq + 1,
        "at": at,
        "requested_at": change.requested_at or at,
        "scope": str(change.scope),
        "action": change.action,
        "source": change.source,
        "actor": change.actor,
        "reason": change.reason,
        "delivery_id": change.delivery_id,
        "wording_version": change.wording_version,
        "result": subscription.status if subscription else None,
        "expires_at": subscription.expires_at if subscription else None,
        "prev_hash": state.head_hash,
        "form": CURRENT_FORM,
        **personal,
    }
    unsigned = ConsentEvent(**fields, hash="")
    return replace(unsigned, hash=unsigned.computed_hash())


def advance(
    state: ConsentState, change: ConsentChange, at: datetime
) -> tuple[ConsentState, ConsentEvent] | None:
    """The next state and its event, or None when the change would change nothing."""
    changed = apply_change(state, change)
    if changed == state:
        return None
    return chain(changed, next_event(state, change, at))


def chain(changed: ConsentState, event: ConsentEvent) -> tuple[ConsentState, ConsentEvent]:
    """The state with `event` as its new head (one more write), and the event."""
    next_state = replace(
        changed,
        version=changed.version + 1,
        head_seq=event.seq,
        head_hash=event.hash,
        updated_at=event.at,
    )
    return next_state, event


def replay(profile_id: ProfileId, events: Iterable[ConsentEvent]) -> ConsentState:
    """Rebuild a profile's consent flags from its history alone."""
    state = ConsentState(profile_id=profile_id)
    for event in events:
        if event.action is Action.ERASE or event.scope.startswith(f"{ScopeKind.SERVICE.value}:"):
            state = replace(state, head_seq=event.seq, head_hash=event.hash, updated_at=event.at)
            continue
        change = ConsentChange(
            scope=Scope.parse(event.scope),
            action=event.action,
            source=event.source,
            actor=event.actor,
        )
        state = replace(
            apply_change(state, change),
            head_seq=event.seq,
            head_hash=event.hash,
            updated_at=event.at,
        )
    return state


def first_broken_link(events: Iterable[ConsentEvent]) -> int | None:
    """The sequence number of the first event whose hash or link does not hold."""
    prev_hash, expected_seq = GENESIS_HASH, 1
    for event in events:
        # An erased event of form 1 held its personal values in the hash itself: only
        # its link can still be checked (form 2 keeps every hash checkable).
        checkable = event.form != 1 or event.erased_at is None
        if (
            event.seq != expected_seq
            or event.prev_hash != prev_hash
            or (checkable and event.hash != event.computed_hash())
            or not event.commitments_hold()
        ):
            return event.seq
        prev_hash, expected_seq = event.hash, expected_seq + 1
    return None
