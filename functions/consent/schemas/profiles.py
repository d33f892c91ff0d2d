"""The shapes of /v1/profiles: consent, its proof of consent, exports."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from consent.commands import ApiModel
from consent.schemas.addresses import AddressOut
from consent.schemas.fields import Choice, Locale, RawAddress, Reason
from consent.schemas.services import SubscriptionOut
from consentry.consent.rules import ConsentEvent, ConsentState
from consentry.consent.subscriptions import SubscriptionStatus
from consentry.core.types import Action, Channel, Source


class EventOut(ApiModel):
    """One event of the proof of consent, with what it takes to check its hash: the
    personal values (until erased) and, for form 2, their commitments."""

    seq: int
    at: datetime
    """When the change was made effective."""
    requested_at: datetime | None
    """When the person or system asked (form 2)."""
    form: int
    """1: the hash covers every field below; 2: the personal ones as commitments."""
    scope: str
    action: Action
    source: Source
    actor: str
    reason: str | None
    ip: str | None
    user_agent: str | None
    delivery_id: str | None
    wording_version: str | None
    result: SubscriptionStatus | None
    expires_at: datetime | None
    prev_hash: str
    hash: str
    ip_commitment: str | None
    user_agent_commitment: str | None
    erased_at: datetime | None
    """When the personal values were erased (their commitments stay)."""

    @classmethod
    def of(cls, event: ConsentEvent) -> EventOut:
        # Every field of the answer is one of the event's (not its salts).
        return cls.model_validate({name: getattr(event, name) for name in cls.model_fields})


def _named_channels(schema: dict[str, Any]) -> None:
    """At least one channel is named; one left out has no value (not a null default)."""
    schema["minProperties"] = 1
    for field in schema.get("properties", {}).values():
        field.pop("default", None)


class NoLongerContact(ApiModel):
    """`true` stops marketing on that channel (`all`: on every channel); a channel left
    out stays as it is. At least one is named."""

    model_config = ConfigDict(json_schema_extra=_named_channels)

    all: Choice = None
    email: Choice = None
    sms: Choice = None
    phone: Choice = None
    direct_mail: Choice = Field(default=None, alias="direct_mail")
    push: Choice = None


class ConsentOut(ApiModel):
    profile_id: str
    version: int
    no_longer_contact: dict[str, bool]
    """`all` and one entry per channel."""
    addresses: dict[Channel, str]
    locale: str | None
    updated_at: datetime | None
    latest_events: list[EventOut]

    @classmethod
    def of(cls, state: ConsentState, events: list[ConsentEvent]) -> ConsentOut:
        flags = {"all": state.opt_out_all} | {
            channel.value: channel in state.opt_out_channels for channel in Channel
        }
        return cls(
            profile_id=state.profile_id,
            version=state.version,
            no_longer_contact=flags,
            addresses=state.addresses,
            locale=state.locale,
            updated_at=state.updated_at,
            latest_events=[EventOut.of(event) for event in events],
        )


class ConsentChangeOut(ConsentOut):
    """The consent after a change, and whether the change changed anything."""

    changed: bool
    """False when the profile already was as asked: nothing was written."""


class ProfileIn(ApiModel):
    addresses: dict[Channel, RawAddress] = Field(default_factory=dict)
    locale: Locale | None = None


class ConsentPatch(ApiModel):
    no_longer_contact: NoLongerContact
    reason: Reason
    source: Literal["operator", "api"] = "operator"


class HistoryOut(ApiModel):
    items: list[EventOut]
    next_cursor: str | None


class VerifyOut(ApiModel):
    profile_id: str
    events: int
    valid: bool
    first_broken_seq: int | None
    """The first event whose hash or link does not hold (or the first missing one)."""
    head_hash: str


class ExportOut(ApiModel):
    """Everything held about one profile, for a data-subject access request."""

    consent: ConsentOut
    events: list[EventOut]
    subscriptions: list[SubscriptionOut]
    addresses: list[AddressOut]
