"""/console/charts: each chart of the dashboard as an SVG image of its own.

GET /console/charts/<name>.svg     one chart of the last days (`CHARTS`), one Query

A chart is an image because pygal styles it with an inline `<style>` the pages' policy
refuses; the page shows it as `<img>` with its numbers in a table under it. pygal is
imported by the first chart asked for, never by the handler.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from http import HTTPStatus
from typing import TYPE_CHECKING

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from consentry.core.errors import NotFoundError
from consentry.reporting import daily
from consentry.reporting.cells import Direction, Series
from console.pages import CONSOLE, Page
from console.web import visit
from landing.pages import HSTS

if TYPE_CHECKING:
    from consentry.reporting.daily import DailySeries, DomainFeedback

router = APIGatewayRouter()
CHARTS_PATH = f"{CONSOLE}/charts"
DAYS = daily.DEFAULT_DAYS


def _consent(by: Series, action: str) -> Callable[[date], DailySeries]:
    return lambda today: daily.consent_changes(by, today=today, days=DAYS)[action]


def _quarantine(direction: Direction) -> Callable[[date], DailySeries]:
    return lambda today: daily.quarantine_changes(today=today, days=DAYS)[direction]


DAILY: dict[str, Callable[[date], DailySeries]] = {
    "opt-ins-by-source": _consent(Series.CONSENT_BY_SOURCE, "opt_in"),
    "opt-outs-by-source": _consent(Series.CONSENT_BY_SOURCE, "opt_out"),
    "opt-ins-by-channel": _consent(Series.CONSENT_BY_CHANNEL, "opt_in"),
    "opt-outs-by-channel": _consent(Series.CONSENT_BY_CHANNEL, "opt_out"),
    "quarantine-entries": _quarantine(Direction.ENTERED),
    "quarantine-releases": _quarantine(Direction.RELEASED),
    "analyses": lambda today: daily.analyses(today=today, days=DAYS),
}
"""The daily charts by the name of their image."""
DOMAINS: dict[str, bool] = {"recipient-domains": False, "sending-domains": True}
"""The feedback charts by the name of their image: per sending domain or not."""


def chart_path(name: str) -> str:
    return f"{CHARTS_PATH}/{name}.svg"


def svg_response(page: Page, svg: str) -> Response[str]:
    """A chart as an image: its own headers (charts.SVG_HEADERS), never the page's."""
    from console.charts import SVG_HEADERS  # noqa: PLC0415 (pygal: only for a chart)

    headers = {**SVG_HEADERS, **(HSTS if page.secure else {})}
    content_type = headers.pop("Content-Type")
    return Response(HTTPStatus.OK.value, content_type, svg, headers=headers)


def domains(today: date, *, sending: bool) -> list[DomainFeedback]:
    return daily.feedback_by_domain(today=today, days=DAYS, sending=sending)


@router.get(f"{CHARTS_PATH}/<name>")
def chart(name: str) -> Response[str]:
    here = visit(router)
    page = here.signed_in()
    from console import charts  # noqa: PLC0415 (pygal: only for a chart)

    stem = name.removesuffix(".svg")
    today = here.wiring.clock().date()
    if name.endswith(".svg") and stem in DAILY:
        return svg_response(page, charts.daily_chart(DAILY[stem](today)))
    if name.endswith(".svg") and stem in DOMAINS:
        sending = DOMAINS[stem]
        title = charts.SENDING_DOMAINS if sending else charts.RECIPIENT_DOMAINS
        return svg_response(page, charts.domain_chart(domains(today, sending=sending), title))
    raise NotFoundError("chart", name[:64])
