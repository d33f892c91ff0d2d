"""The operator console under /console: pages for the people who run campaigns, signed
in through the Cognito user pool, built on the same logic as /v1.

GET and HEAD never change anything; every change is a POST whose form carries the
session's CSRF token, and only an operator's changes are applied (a viewer's get a
403 page). Errors become pages here, once.

    /console/sign-in, /console/sign-out, /console/assets/<name>   routes/session.py
    /console                                    dashboard         routes/dashboard.py
    /console/charts/<name>.svg                  its charts        routes/charts.py
    /console/profiles[/<profileId>[/consent|/export|/erase[/confirm]]], /console/search,
    /console/erased-addresses[/lift]
                                                                  routes/profiles.py
    /console/addresses[/csv|/view/<ref>|/release[/confirm]|/bulk-release[/confirm]]
                                                                  routes/addresses.py
    /console/outages[/confirm|/decide]                            routes/outages.py
    /console/deliveries[/<deliveryId>[/explain]]                  routes/deliveries.py
    /console/services[/<serviceId>[/changes.svg]]                 routes/services.py
    /console/imports[/<importId>]                                 routes/imports.py
"""

from __future__ import annotations

from consentry.core import cold_start  # first: the collector waits while this loads

# isort: split

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from consent.idempotency_keys import idempotency
from consentry.core.errors import (
    ConflictError,
    GoneError,
    InvalidInputError,
    NotFoundError,
    StaleVersionError,
    UnavailableError,
)
from consentry.core.observability import logger, metrics, tracer
from consentry.core.persistence import bind_tables
from consentry.core.routing import RoutersOnDemand
from consentry.core.settings import Settings, per_process
from console.pages import CONSOLE, Page, error
from console.routes import session
from console.session import CsrfError, ForbiddenError, NotSignedInError
from console.web import page_for, signed_in_page
from console.wiring import ConsoleWiring
from landing.request import UndecodableRequestError, decoding


def _wire(settings: Settings) -> ConsoleWiring:
    bind_tables(settings)
    idempotency.use_table(settings.idempotency_table)
    return ConsoleWiring(settings)


current_wiring = per_process(_wire)
"""The process's wiring, built at cold start."""
current_wiring()

app = APIGatewayRestResolver()
app.use(middlewares=[decoding])
app.include_router(session.router)
routers = RoutersOnDemand(
    app,
    CONSOLE,
    {
        "": "console.routes.dashboard",
        "charts": "console.routes.charts",
        "profiles": "console.routes.profiles",
        "search": "console.routes.profiles",
        "erased-addresses": "console.routes.profiles",
        "addresses": "console.routes.addresses",
        "outages": "console.routes.outages",
        "deliveries": "console.routes.deliveries",
        "services": "console.routes.services",
        "imports": "console.routes.imports",
    },
)
"""The other pages' routes, each included by the first request for it: signing in and
the session are every request's, a page's logic and models are only its own."""


def _page() -> Page:
    """The page an error is shown on: the signed-in user's when there is one."""
    try:
        return signed_in_page(app.current_event, app.context["wiring"])
    except (NotSignedInError, KeyError, UnavailableError):
        return page_for(app.current_event)


@app.exception_handler(NotSignedInError)
def _not_signed_in(_: NotSignedInError) -> Response[str]:
    return page_for(app.current_event).redirect(session.SIGN_IN)


@app.exception_handler(ForbiddenError)
def _forbidden(_: ForbiddenError) -> Response[str]:
    return error(_page(), HTTPStatus.FORBIDDEN, "forbidden")


@app.exception_handler(CsrfError)
def _csrf(_: CsrfError) -> Response[str]:
    return error(_page(), HTTPStatus.FORBIDDEN, "form_rejected")


@app.exception_handler(UndecodableRequestError)
def _undecodable(_: UndecodableRequestError) -> Response[str]:
    return error(page_for(app.current_event), HTTPStatus.BAD_REQUEST, "bad_request")


@app.exception_handler(InvalidInputError)
def _invalid(invalid: InvalidInputError) -> Response[str]:
    return error(_page(), HTTPStatus.UNPROCESSABLE_ENTITY, "invalid", detail=invalid.field)


@app.exception_handler(GoneError)
def _erased(_: GoneError) -> Response[str]:
    return error(_page(), HTTPStatus.GONE, "erased")


@app.exception_handler(NotFoundError)
def _missing(missing: NotFoundError) -> Response[str]:
    return error(_page(), HTTPStatus.NOT_FOUND, "not_found", detail=missing.kind)


@app.exception_handler(StaleVersionError)
def _stale(_: StaleVersionError) -> Response[str]:
    return error(_page(), HTTPStatus.PRECONDITION_FAILED, "stale")


@app.exception_handler(ConflictError)
def _busy(_: ConflictError) -> Response[str]:
    return error(_page(), HTTPStatus.CONFLICT, "conflict")


@app.exception_handler(UnavailableError)
def _unavailable(failure: UnavailableError) -> Response[str]:
    logger.exception(
        "dependency unavailable", extra={"dependency": failure.dependency, "detail": failure.detail}
    )
    return error(page_for(app.current_event), HTTPStatus.SERVICE_UNAVAILABLE, "unavailable")


@app.not_found
def _not_found(_: Exception) -> Response[str]:
    page = page_for(app.current_event)
    if not app.current_event.path.startswith(CONSOLE):
        return error(page, HTTPStatus.NOT_FOUND, "not_found")
    return error(_page(), HTTPStatus.NOT_FOUND, "not_found")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(
    event: dict[str, Any], context: LambdaContext, wired: ConsoleWiring | None = None
) -> dict[str, Any]:
    """`wired` replaces the wiring (tests pass their own)."""
    idempotency.register_lambda_context(context)
    routers.include_for(str(event.get("path") or ""))
    app.append_context(wiring=wired or current_wiring())
    return app.resolve(event, context)


cold_start.loaded()
