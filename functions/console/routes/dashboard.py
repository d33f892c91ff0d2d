"""/console/: the dashboard: the last 30 days' changes as charts with their numbers, and
the latest analyses.

Each chart is an image from routes/charts.py; the page itself reads the same daily
counts (`consentry.reporting.daily.dashboard`, one Query per series) for the tables
under the images, so a reader without the image has every number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from consent.logic import analyses
from consentry.reporting import daily
from console.funnel import CAUSE_LABELS
from console.pages import CONSOLE
from console.routes.charts import DAYS, chart_path
from console.web import visit

if TYPE_CHECKING:
    from console.charts import Table

router = APIGatewayRouter()
LATEST_ANALYSES = 10


@dataclass(frozen=True)
class Panel:
    """One chart on a page: its image, its text alternative and its numbers."""

    image: str
    alt: str
    table: Table


@router.get(CONSOLE)  # and /console/: the resolver ignores a trailing slash
def dashboard() -> Response[str]:
    here = visit(router)
    page = here.signed_in()
    from console.charts import (  # noqa: PLC0415 (pygal: only where a chart is drawn)
        RECIPIENT_DOMAINS,
        SENDING_DOMAINS,
        daily_table,
        domain_table,
    )

    figures = daily.dashboard(today=here.wiring.clock().date(), days=DAYS)
    by_day = (
        ("opt-ins-by-source", figures.opt_ins_by_source),
        ("opt-outs-by-source", figures.opt_outs_by_source),
        ("opt-ins-by-channel", figures.opt_ins_by_channel),
        ("opt-outs-by-channel", figures.opt_outs_by_channel),
        ("quarantine-entries", figures.quarantine_entries),
        ("quarantine-releases", figures.quarantine_releases),
        ("analyses", figures.analyses),
    )
    consent = [
        Panel(page.url(chart_path(name)), chart_alt(series.title), daily_table(series))
        for name, series in by_day
    ]
    feedback = [
        Panel(
            page.url(chart_path(name)),
            chart_alt(title),
            domain_table(rows, title),
        )
        for name, title, rows in (
            ("sending-domains", SENDING_DOMAINS, figures.sending_domains),
            ("recipient-domains", RECIPIENT_DOMAINS, figures.domains),
        )
    ]
    return page.respond(
        "dashboard.html",
        consent=consent[:4],
        quarantine=consent[4:6],
        analyses_panel=consent[6],
        feedback=feedback,
        days=DAYS,
        analyses=analyses.latest(LATEST_ANALYSES),
        causes=CAUSE_LABELS,
    )


def chart_alt(title: str) -> str:
    return f"Chart: {title}, last {DAYS} days. Its numbers are in the table under it."
