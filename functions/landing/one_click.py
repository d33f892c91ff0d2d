"""RFC 8058 one-click unsubscribe: recognise the body, verify the link, record the opt-out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesParser
from urllib.parse import parse_qs

from consentry.consent.profile_store import ChangeResult, record_change
from consentry.consent.rules import ConsentChange
from consentry.consent.tokens import LinkClaims
from consentry.core.types import RECIPIENT_ACTOR, Action, ScopeKind, Source

_FIELD, _VALUE = "List-Unsubscribe", "One-Click"


@dataclass(frozen=True)
class Requester:
    """Where a request came from, as the proof of consent records it."""

    ip: str | None
    user_agent: str | None
    at: datetime | None = None
    """When API Gateway received the request: when the person asked."""


def is_one_click_body(body: bytes, content_type: str | None) -> bool:
    """True for `List-Unsubscribe=One-Click`, form-urlencoded or multipart (RFC 8058 3.1)."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type == "multipart/form-data":
        return _multipart_value(body, content_type or "") == _VALUE
    if media_type in ("application/x-www-form-urlencoded", ""):
        try:
            fields = parse_qs(body.decode("ascii"), strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            return False
        return fields.get(_FIELD) == [_VALUE]
    return False


def _multipart_value(body: bytes, content_type: str) -> str | None:
    # Mail clients post form-urlencoded; the policy's header classes only for multipart.
    from email.policy import HTTP  # noqa: PLC0415 (first multipart one-click)

    header = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(header + body)
    if not message.is_multipart():
        return None
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == _FIELD:
            payload = part.get_payload(decode=True)
            return (
                payload.decode("ascii", "replace").strip() if isinstance(payload, bytes) else None
            )
    return None


def unsubscribe(claims: LinkClaims, requester: Requester, *, owner_denylists: bool) -> ChangeResult:
    """Record the opt-out (or, for a service link, the unsubscription) the link is for.

    A repeat finds nothing to change and writes nothing. With `owner_denylists` the
    opt-out also denylists the profile's addresses on the channels it covers.
    """
    service = claims.scope.kind is ScopeKind.SERVICE
    change = ConsentChange(
        scope=claims.scope,
        action=Action.UNSUBSCRIBE if service else Action.OPT_OUT,
        source=Source.ONE_CLICK,
        actor=RECIPIENT_ACTOR,
        ip=requester.ip,
        user_agent=requester.user_agent,
        delivery_id=claims.delivery_id,
        requested_at=requester.at,
    )
    return record_change(claims.profile_id, change, owner_denylists=owner_denylists)
