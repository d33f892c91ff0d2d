"""/console/services: the services people subscribe to, and how their subscribers change.

GET /console/services                       the services (as /v1/services pages them) with
                                            each one's subscription changes of the last days
GET /console/services/<serviceId>           one service: its subscribers (filtered by
                                            state, paged), and its changes per day as a
                                            chart with the numbers in a table
GET /console/services/<serviceId>/changes.svg
                                            that chart, as an image

The figures over time are the daily counts (one Query); the lists are /v1's logic.
"""

from __future__ import annotations

import re
from datetime import date

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from consent.logic import services
from consentry.consent.subscriptions import SubscriptionStatus
from consentry.core.errors import InvalidInputError, NotFoundError
from consentry.core.types import IDENTIFIER_PATTERN, ServiceId
from consentry.reporting import daily
from console.pages import CONSOLE
from console.routes.charts import DAYS, svg_response
from console.routes.dashboard import Panel, chart_alt
from console.web import visit

router = APIGatewayRouter()
SERVICES = f"{CONSOLE}/services"
LISTED = 50
"""Services, and subscribers, shown on one page."""
MAX_CURSOR = 1024
STATES = tuple(status.value for status in SubscriptionStatus)
_IDENTIFIER = re.compile(IDENTIFIER_PATTERN)


def service_path(service_id: str, tail: str = "") -> str:
    return f"{SERVICES}/{service_id}{tail}"


def _known(service_id: str) -> ServiceId:
    """A path's service id; a path that cannot name a service names none (404)."""
    if len(service_id) > 128 or not _IDENTIFIER.fullmatch(service_id):
        raise NotFoundError("service", service_id[:128])
    return ServiceId(service_id)


def _cursor(text: str | None) -> str | None:
    if text is not None and len(text) > MAX_CURSOR:
        raise InvalidInputError("cursor", "not a cursor this page gave out")
    return text or None


def _changes(service_id: str, today: date) -> daily.DailySeries:
    return daily.subscription_changes(service_id, today=today, days=DAYS)


@router.get(SERVICES)
def list_services() -> Response[str]:
    here = visit(router)
    page = here.signed_in()
    listed = services.list_all(LISTED, _cursor(here.event.get_query_string_value("cursor")))
    changes = daily.subscription_changes_by_service(today=here.wiring.clock().date(), days=DAYS)
    return page.respond(
        "services.html",
        services=listed.items,
        next_cursor=listed.next_cursor,
        changes=changes,
        states=STATES,
        days=DAYS,
    )


@router.get(f"{SERVICES}/<serviceId>")
def service(serviceId: str) -> Response[str]:
    here = visit(router)
    page = here.signed_in()
    service_id = _known(serviceId)
    found = services.get(service_id)
    wanted = here.event.get_query_string_value("status") or None  # "": any state
    if wanted is not None and wanted not in STATES:
        raise InvalidInputError("status", "choose pending, subscribed or unsubscribed")
    status = SubscriptionStatus(wanted) if wanted else None
    subscribers = services.subscribers(
        service_id,
        LISTED,
        _cursor(here.event.get_query_string_value("cursor")),
        status,
        here.wiring.clock,
    )
    from console.charts import daily_table  # noqa: PLC0415 (pygal: only where a chart is drawn)

    series = _changes(service_id, here.wiring.clock().date())
    return page.respond(
        "service.html",
        service=found,
        subscribers=subscribers.items,
        next_cursor=subscribers.next_cursor,
        state=wanted,
        states=STATES,
        panel=Panel(
            page.url(service_path(service_id, "/changes.svg")),
            chart_alt(f"{series.title} of {found.name}"),
            daily_table(series),
        ),
    )


@router.get(f"{SERVICES}/<serviceId>/changes.svg")
def service_chart(serviceId: str) -> Response[str]:
    here = visit(router)
    page = here.signed_in()
    service_id = _known(serviceId)
    services.get(service_id)
    from console.charts import daily_chart  # noqa: PLC0415 (pygal: only for a chart)

    return svg_response(page, daily_chart(_changes(service_id, here.wiring.clock().date())))
