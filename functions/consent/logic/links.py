"""Minting the signed links of a delivery's messages: the operation behind /v1/links."""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from consent.schemas.links import LinkOut, LinksIn, LinksOut
from consentry.consent import links, service_store
from consentry.consent.rules import Scope
from consentry.consent.tokens import LinkClaims, LinkSigner
from consentry.core.clock import Clock, utc_now
from consentry.core.settings import Settings
from consentry.core.types import DeliveryId, ProfileId, ScopeKind, ServiceId


def request_base_url(event: APIGatewayProxyEvent, settings: Settings) -> str:
    """The public base URL, else the API (host and stage) the request came to."""
    return links.base_url(
        configured=settings.public_base_url,
        domain_name=event.request_context.domain_name or event.headers.get("Host"),
        stage=event.request_context.stage,
        forwarded_proto=event.headers.get("X-Forwarded-Proto"),
    )


def mint(body: LinksIn, base_url: str, signer: LinkSigner, *, clock: Clock = utc_now) -> LinksOut:
    """Each recipient's links, all issued at one time; a named service must exist."""
    issued_at = clock().replace(microsecond=0)
    scopes = {text: Scope.parse(text) for text in {body.scope} | _own_scopes(body)}
    for scope in scopes.values():
        if scope.kind is ScopeKind.SERVICE:
            service_store.get_service(ServiceId(str(scope.value)))
    items = []
    for recipient in body.recipients:
        scope_text = recipient.scope or body.scope
        link_set = links.mint(
            signer,
            base_url,
            LinkClaims(
                profile_id=ProfileId(recipient.profile_id),
                scope=scopes[scope_text],
                delivery_id=DeliveryId(body.delivery_id),
                issued_at=issued_at,
            ),
        )
        items.append(
            LinkOut(
                profile_id=recipient.profile_id,
                scope=scope_text,
                preferences_url=link_set.preferences_url,
                unsubscribe_url=link_set.unsubscribe_url,
                one_click_url=link_set.one_click_url,
                headers=link_set.headers,
                expires_at=link_set.expires_at,
            )
        )
    return LinksOut(delivery_id=body.delivery_id, issued_at=issued_at, items=items)


def _own_scopes(body: LinksIn) -> set[str]:
    return {recipient.scope for recipient in body.recipients if recipient.scope}
