"""The JSON shapes of the operator API: camelCase on the wire, documented in the OpenAPI."""

from __future__ import annotations

from datetime import datetime

from consentry.consent import ConsentEvent, ConsentState
from consentry.types import Action, Channel, Source
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ApiModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class EventOut(ApiModel):
    seq: int
    at: datetime
    scope: str
    action: Action
    source: Source
    actor: str
    reason: str | None
    delivery_id: str | None
    wording_version: str | None
    hash: str

    @classmethod
    def of(cls, event: ConsentEvent) -> EventOut:
        return cls.model_validate(event.model_dump())


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


class ErrorOut(ApiModel):
    status_code: int
    message: str
    field: str | None = None
