"""/u/<token>: RFC 8058 one-click unsubscribe. GET shows the unsubscribe page (what a
person, or a mail scanner, sees on opening the URL); POST with the one-click body
records the opt-out the link is for."""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from consentry.consent import links
from consentry.consent.rules import Scope
from consentry.core.observability import logger, metrics
from landing.one_click import is_one_click_body, unsubscribe
from landing.pages import error
from landing.preferences import Outcome, Step
from landing.web import done_page, requester, service_label, visit

router = APIGatewayRouter()


@router.get("/u/<token>")
@router.head("/u/<token>")
def one_click_page(token: str) -> Response[str]:
    return visit(router).unsubscribe_form(token, links.one_click_path(token))


@router.post("/u/<token>")
def one_click(token: str) -> Response[str]:
    here = visit(router)
    claims = here.claims(token)
    event = here.event
    if not is_one_click_body(here.request.body, event.headers.get("content-type")):
        return error(
            here.page(), HTTPStatus.BAD_REQUEST, "bad_request", detail=links.ONE_CLICK_POST
        )
    result = unsubscribe(
        claims, requester(event), owner_denylists=here.wiring.settings.owner_opt_out_denylists
    )
    metrics.add_metric(name="OneClickUnsubscribes", unit="Count", value=1)
    logger.info(
        "one-click unsubscribe",
        extra={"scope": str(claims.scope), "changed": result.event is not None},
    )
    outcomes = tuple(
        Outcome(
            step=Step(scope=Scope.parse(e.scope), action=e.action),
            status=e.result,
            service_label=service_label(claims.scope),
        )
        for e in result.events
    )
    page = here.page(links.one_click_path(token), profile_locale=result.state.locale)
    return done_page(page, here.wiring.guard(), token, outcomes, undo=[])
