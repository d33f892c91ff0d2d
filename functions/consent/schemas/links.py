"""The shapes of /v1/links: signed preference and unsubscribe links for a delivery."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from consent.commands import ApiModel
from consentry.core.wire import IdentifierStr

LinkScope = Annotated[
    str,
    StringConstraints(
        pattern=r"^(all|channel:(email|sms|phone|direct_mail|push)|service:[A-Za-z0-9._:@+\-]{1,64})$"
    ),
]


class LinkRecipientIn(ApiModel):
    profile_id: IdentifierStr
    scope: LinkScope | None = None
    """This recipient's scope, when it is not the request's."""


class LinksIn(ApiModel):
    delivery_id: IdentifierStr
    scope: LinkScope = Field(
        default="all",
        description="What the unsubscribe and one-click links stop: `all`, "
        "`channel:<channel>` or `service:<serviceId>`",
    )
    recipients: Annotated[list[LinkRecipientIn], Field(min_length=1, max_length=1000)]


class LinkOut(ApiModel):
    profile_id: str
    scope: str
    preferences_url: str
    unsubscribe_url: str
    one_click_url: str
    headers: dict[str, str]
    """`List-Unsubscribe` and `List-Unsubscribe-Post`, ready to put on the message."""
    expires_at: datetime


class LinksOut(ApiModel):
    delivery_id: str
    issued_at: datetime
    items: list[LinkOut]
