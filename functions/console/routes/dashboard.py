"""/console/: the dashboard."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from consent.logic import analyses
from console.funnel import CAUSE_LABELS
from console.pages import CONSOLE
from console.web import visit

router = APIGatewayRouter()
LATEST_ANALYSES = 10


@router.get(CONSOLE)  # and /console/: the resolver ignores a trailing slash
def dashboard() -> Response[str]:
    page = visit(router).signed_in()
    return page.respond(
        "dashboard.html", analyses=analyses.latest(LATEST_ANALYSES), causes=CAUSE_LABELS
    )
