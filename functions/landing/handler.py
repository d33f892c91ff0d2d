"""Recipient-facing routes: the pages behind message links and the one-click unsubscribe.

GET and HEAD never change state (mail scanners fetch every link, the confirmation
link of a double opt-in included); changes happen only on POST: a page's form, which
carries a CSRF token bound to its link, or the RFC 8058 one-click POST.

    /p/assets/<name>          the stylesheet and icon                  routes/assets.py
    /p/<token>                preference center, saved on submit       routes/preferences.py
    /p/<token>/unsubscribe    unsubscribe from the link's scope, or from everything
    /p/<token>/never          "never contact me again" (denylist)
    /p/<token>/undo           POST only: undo what the confirmation page shows
    /u/<token>                GET: the unsubscribe page; POST: RFC 8058 one-click
                                                                       routes/one_click.py
    /s/<serviceId>            subscribe an address: pending, then a confirmation email
    /s/<serviceId>/<token>    the confirmation link: a page whose button confirms
                                                                       routes/subscribe.py
"""

from __future__ import annotations

from consentry.core import cold_start  # first: the collector waits while this loads

# isort: split

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from consentry.consent import links
from consentry.core.errors import (
    ConflictError,
    GoneError,
    InvalidInputError,
    NotFoundError,
    TokenError,
    TokenExpiredError,
    UnavailableError,
)
from consentry.core.observability import logger, metrics, tracer
from consentry.core.persistence import bind_tables
from consentry.core.routing import RoutersOnDemand
from consentry.core.settings import Settings, per_process
from landing.forms import FormExpiredError, FormRejectedError
from landing.pages import Page, error
from landing.request import UndecodableRequestError, decoding
from landing.web import ERASED, page_for
from landing.wiring import LandingWiring


def _wire(settings: Settings) -> LandingWiring:
    bind_tables(settings)
    return LandingWiring(settings)


current_wiring = per_process(_wire)
"""The process's wiring, built at cold start."""
current_wiring()

ROUTERS: dict[str, str | tuple[str, ...]] = {
    "p": ("landing.routes.assets", "landing.routes.preferences"),  # /p/assets/<name> first
    "u": "landing.routes.one_click",
    "s": "landing.routes.subscribe",
}
"""The route modules of each first segment of the path (see the table above)."""


class LandingApp(APIGatewayRestResolver):
    """Powertools' resolver, which includes each section's routers at the first request
    for it: a preference page loads no sign-up, a one-click POST no page of either."""

    def __init__(self) -> None:
        super().__init__()
        self.routers = RoutersOnDemand(self, "", ROUTERS)

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        self.routers.include_for(str(event.get("path") or ""))
        return super().resolve(event, context)


app = LandingApp()
app.use(middlewares=[decoding])


def _page() -> Page:
    request = app.context.get("decoded")
    return page_for(app.current_event, form=request.form if request else None)


@app.exception_handler(TokenExpiredError)
def _expired(_: TokenExpiredError) -> Response[str]:
    return error(_page(), HTTPStatus.GONE, "link_expired")


@app.exception_handler(TokenError)
def _bad_token(_: TokenError) -> Response[str]:
    return error(_page(), HTTPStatus.BAD_REQUEST, "link_invalid")


@app.exception_handler(FormExpiredError)
def _form_expired(_: FormExpiredError) -> Response[str]:
    page = _page()
    return error(page, HTTPStatus.BAD_REQUEST, "form_expired", detail=page.url(page.path))


@app.exception_handler(FormRejectedError)
def _form_rejected(_: FormRejectedError) -> Response[str]:
    page = _page()
    return error(page, HTTPStatus.BAD_REQUEST, "form_rejected", detail=page.url(page.path))


@app.exception_handler(UndecodableRequestError)
def _undecodable(_: UndecodableRequestError) -> Response[str]:
    one_click = app.current_event.path.startswith("/u/")
    detail = links.ONE_CLICK_POST if one_click else None
    return error(_page(), HTTPStatus.BAD_REQUEST, "bad_request", detail=detail)


@app.exception_handler(InvalidInputError)
def _invalid(_: InvalidInputError) -> Response[str]:
    return error(_page(), HTTPStatus.BAD_REQUEST, "bad_request")


@app.exception_handler(GoneError)
def _erased(_: GoneError) -> Response[str]:
    """A link of a recipient who erased their data: the page that says so."""
    return _page().respond(ERASED, status=HTTPStatus.GONE)


@app.exception_handler(NotFoundError)
def _gone(missing: NotFoundError) -> Response[str]:
    if missing.kind == "service" and app.current_event.path.startswith("/s/"):
        return error(_page(), HTTPStatus.NOT_FOUND, "service_unavailable")
    return error(_page(), HTTPStatus.BAD_REQUEST, "link_invalid")  # a link to what is gone


@app.exception_handler(ConflictError)
def _busy(_: ConflictError) -> Response[str]:
    """Concurrent changes of one profile kept winning over this one: the visitor's own
    clicks, so a 409 (never a 5xx) with the page that asks to try again."""
    return error(_page(), HTTPStatus.CONFLICT, "try_again")


@app.exception_handler(UnavailableError)
def _unavailable(failure: UnavailableError) -> Response[str]:
    logger.exception(
        "dependency unavailable", extra={"dependency": failure.dependency, "detail": failure.detail}
    )
    return error(_page(), HTTPStatus.SERVICE_UNAVAILABLE, "try_again")


@app.not_found
def _not_found(_: Exception) -> Response[str]:
    return error(_page(), HTTPStatus.NOT_FOUND, "not_found")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(
    event: dict[str, Any], context: LambdaContext, wired: LandingWiring | None = None
) -> dict[str, Any]:
    """`wired` replaces the wiring (tests pass their own)."""
    current = wired or current_wiring()
    current.outbox.register_lambda_context(context)
    app.append_context(wiring=current)
    return app.resolve(event, context)


cold_start.loaded()
