"""/p/assets/<name>: the stylesheet and icon, served by the landing function itself (same
origin, so the pages' CSP allows them as 'self')."""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from landing.pages import asset_response, error
from landing.web import secure, visit

router = APIGatewayRouter()


@router.get("/p/assets/<name>")
@router.head("/p/assets/<name>")
def static_asset(name: str) -> Response[str]:
    here = visit(router)
    found = asset_response(name, secure=secure(here.event))
    return found or error(here.page(), HTTPStatus.NOT_FOUND, "not_found")
