"""/console/outages: the domains whose failures the outage guard holds, and the
operators' decision on the held errors (/v1/outages' logic).

    GET  /console/outages                 the holds, with the errors each still holds
    POST /console/outages/confirm         operators: the confirmation page of a release
                                          or an application, with the held count
    POST /console/outages/decide          operators: decide, with a reason

A domain is not personal data, but it travels in the forms' bodies all the same.
"""

from __future__ import annotations

import re
import time
from urllib.parse import urlencode

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import ValidationError

from consent.logic import addresses
from consent.logic.addresses import DecideOutage
from consent.schemas.addresses import OutageDecisionIn
from consentry.addresses.events import Decision
from consentry.core.errors import InvalidInputError
from consentry.core.types import Channel
from console.pages import CONSOLE
from console.routes.addresses import count_of
from console.web import visit
from landing.forms import Form

router = APIGatewayRouter()
OUTAGES = f"{CONSOLE}/outages"
DECISIONS = {"release": Decision.RELEASED, "apply": Decision.APPLIED}
_DOMAIN = re.compile(r"^[^\s#@/]{1,253}$")
"""As /v1/outages/{channel}/{domain} accepts it."""
DECIDED_MAX = 5000
"""Held errors one confirmed decision settles in one request; the rest is offered again."""
SEARCHING_CALLS_MAX = 5
"""Calls of /v1's decision that decide nothing, only go on with a release's search for
the failures applied before the hold (a few pages each), one request makes at most."""
CALLS_FOR_S = 15.0
"""No call of /v1's decision starts after this long in one request (each takes a few
seconds at most, and the request has 29): the rest is offered again."""


def _outage_of(form: Form) -> tuple[Channel, str, str]:
    try:
        channel = Channel(form.first("channel") or "")
    except ValueError:
        raise InvalidInputError("channel", "choose a channel") from None
    domain = (form.first("domain") or "").strip().lower()
    if not _DOMAIN.fullmatch(domain):
        raise InvalidInputError("domain", "not a domain")
    decision = form.first("decision") or ""
    if decision not in DECISIONS:
        raise InvalidInputError("decision", "choose to release or to apply")
    return channel, domain, decision


@router.get(OUTAGES)
def list_page() -> Response[str]:
    here = visit(router)
    page = here.signed_in()
    query = here.event.get_query_string_value
    return page.respond(
        "outages.html",
        outages=addresses.outages(here.wiring.clock).items,
        decided=count_of(query("decided")),
        remaining=count_of(query("remaining")),
        searching=query("searching") == "1",
        now=here.wiring.clock(),
    )


@router.post(f"{OUTAGES}/confirm")
def confirmation() -> Response[str]:
    here = visit(router)
    page, form = here.change()
    channel, domain, decision = _outage_of(form)
    outage = addresses.outage(channel, domain, here.wiring.clock)
    return page.respond("outage_decision.html", outage=outage, decision=decision)


@router.post(f"{OUTAGES}/decide")
def decide() -> Response[str]:
    here = visit(router)
    page, form = here.change()
    channel, domain, decision = _outage_of(form)
    try:
        body = OutageDecisionIn.model_validate({"reason": form.first("reason") or ""})
    except ValidationError:
        raise InvalidInputError("reason", "say why (up to 500 characters)") from None
    session = page.session
    if session is None:  # here.change() makes sure there is one
        raise InvalidInputError("session", "sign in again")
    decided = searching_calls = 0
    deadline = time.monotonic() + CALLS_FOR_S
    while True:
        done = addresses.decide(
            command=DecideOutage(
                actor=session.actor,
                channel=channel,
                domain=domain,
                decision=DECISIONS[decision],
                body=body,
            ),
            policy=here.wiring.quarantine_policy,
            clock=here.wiring.clock,
        )
        decided += done.decided
        searching = done.look_back_since is not None
        if not (done.remaining or searching) or decided >= DECIDED_MAX:
            break
        if time.monotonic() > deadline:
            break
        if not done.decided:
            searching_calls += 1
            if not searching or searching_calls >= SEARCHING_CALLS_MAX:
                break  # nothing left that this request can settle
    shown = {"decided": str(decided), "remaining": str(done.remaining)}
    if searching:
        shown["searching"] = "1"
    return page.redirect(f"{OUTAGES}?{urlencode(shown)}")
