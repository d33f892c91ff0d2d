"""The shapes of /v1/checks: sending checks, one verdict per item."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from consent.commands import ApiModel
from consentry.core.types import Channel, MessageClass
from consentry.core.wire import IdentifierStr


class CheckItemIn(ApiModel):
    profile_id: IdentifierStr
    address: Annotated[str, StringConstraints(max_length=320)]
    channel: Channel
    message_class: MessageClass
    service_id: IdentifierStr | None = None


class ChecksIn(ApiModel):
    items: Annotated[list[CheckItemIn], Field(min_length=1, max_length=100)]


class CheckResultOut(ApiModel):
    verdict: Literal["allowed", "blocked"]
    reason: str | None


class ChecksOut(ApiModel):
    results: list[CheckResultOut]
