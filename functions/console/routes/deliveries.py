"""/console/deliveries: a delivery's analysis as a funnel, and why a row was not sent.

GET  /console/deliveries?deliveryId=...     opens the delivery's page
GET  /console/deliveries/<deliveryId>       the funnel, a bar per exclusion cause
POST /console/deliveries/<deliveryId>/explain
                                            the rows of an address and their verdicts
                                            (a POST: the address stays out of the URL)
"""

from __future__ import annotations

import re
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from consent.logic import analyses
from consentry.core.errors import InvalidInputError, NotFoundError
from consentry.core.types import IDENTIFIER_PATTERN
from console.funnel import CAUSE_LABELS, funnel
from console.pages import CONSOLE
from console.web import visit

router = APIGatewayRouter()
DELIVERIES = f"{CONSOLE}/deliveries"
_IDENTIFIER = re.compile(IDENTIFIER_PATTERN)
MAX_ADDRESS = 320


def delivery_id_of(text: str | None, *, field: str = "deliveryId") -> str:
    if not text or len(text) > 128 or not _IDENTIFIER.fullmatch(text):
        raise InvalidInputError(field, "not a delivery id")
    return text


@router.get(DELIVERIES)
def open_delivery() -> Response[str]:
    here = visit(router)
    page = here.signed_in()
    wanted = here.event.get_query_string_value("deliveryId")
    if wanted is None:
        return page.respond("deliveries.html")
    return page.redirect(f"{DELIVERIES}/{delivery_id_of(wanted.strip())}")


def _delivery_page(delivery_id: str, **context: Any) -> Response[str]:
    here = visit(router)
    page = here.signed_in()
    if not _IDENTIFIER.fullmatch(delivery_id) or len(delivery_id) > 128:
        raise NotFoundError("analysis", delivery_id[:128])
    record = analyses.get(delivery_id)
    return page.respond(
        "delivery.html", record=record, steps=funnel(record), causes=CAUSE_LABELS, **context
    )


@router.get(f"{DELIVERIES}/<deliveryId>")
def delivery(deliveryId: str) -> Response[str]:
    return _delivery_page(deliveryId, explained=None, asked=None)


@router.post(f"{DELIVERIES}/<deliveryId>/explain")
def explain(deliveryId: str) -> Response[str]:
    here = visit(router)
    page = here.signed_in()
    form = here.posted(page)
    delivery_id = delivery_id_of(deliveryId)
    address = (form.first("address") or "").strip()
    if not address or len(address) > MAX_ADDRESS:
        raise InvalidInputError("address", "give the address as it is in the audience")
    profile_id = (form.first("profileId") or "").strip() or None
    if profile_id is not None and (len(profile_id) > 128 or not _IDENTIFIER.fullmatch(profile_id)):
        raise InvalidInputError("profileId", "not a profile id")
    try:
        rows = analyses.explain(delivery_id, address, profile_id, here.wiring.bucket).rows
    except NotFoundError as missing:
        if missing.kind != "audience row":
            raise
        rows = []
    return _delivery_page(delivery_id, explained=rows, asked=address)
