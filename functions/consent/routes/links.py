"""/v1/links: the signed links and List-Unsubscribe headers of a delivery's messages."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from consent.api import answers, dependencies, not_found
from consent.logic import links
from consent.schemas.links import LinksIn, LinksOut
from consentry.consent.tokens import load_signer

router = APIGatewayRouter()


@router.post(
    "/v1/links",
    summary="Mint each recipient's preference-center, unsubscribe and one-click links, "
    "with the List-Unsubscribe headers (up to 1000 recipients)",
    tags=["links"],
    responses=answers(LinksOut, errors=not_found("service")),
)
def post_links(body: LinksIn) -> LinksOut:
    settings = dependencies(router).settings
    signer = load_signer(
        settings.signing_keys_secret,
        ttl_days=settings.link_ttl_days,
        max_age_s=settings.signing_keys_max_age_s,
    )
    return links.mint(
        body,
        links.request_base_url(router.current_event, settings),
        signer,
        clock=dependencies(router).clock,
    )
