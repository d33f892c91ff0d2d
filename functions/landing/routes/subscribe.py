"""/s/<serviceId>: an unknown visitor subscribes an address (pending, then a confirmation
email); /s/<serviceId>/<token>: the confirmation link, a page whose button confirms."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from consentry.consent import links, rate_limits, service_store
from consentry.consent.subscriptions import SubscriptionStatus
from consentry.core.errors import InvalidInputError
from consentry.core.observability import logger, metrics
from consentry.core.types import Action, ServiceId
from landing import preferences, signup
from landing.pages import error
from landing.preferences import Step
from landing.web import CONFIRM, SUBSCRIBE, SUBSCRIBE_SENT, locale_of, requester, visit

router = APIGatewayRouter()


@router.get("/s/<serviceId>")
@router.head("/s/<serviceId>")
def subscribe_page(serviceId: str) -> Response[str]:
    here = visit(router)
    service = signup.open_service(serviceId, here.wiring.clock())
    page = here.page(links.subscribe_path(service.service_id))
    return here.form_page(page, SUBSCRIBE, _binding(serviceId), service=service, invalid=False)


@router.post("/s/<serviceId>")
def subscribe_submit(serviceId: str) -> Response[str]:
    here = visit(router)
    now = here.wiring.clock()
    service = signup.open_service(serviceId, now)
    binding = _binding(serviceId)
    form = here.submitted(SUBSCRIBE, binding)
    page = here.page(links.subscribe_path(service.service_id), form=form)
    who = requester(here.event)
    visitor = signup.Visitor(
        ip=who.ip,
        user_agent=who.user_agent,
        language=page.language,
        wording_version=form.first("wording") or "",
        requested_at=who.at,
    )
    settings = here.wiring.settings
    try:
        address = signup.visitor_address(
            form.first("email") or "", smtputf8=settings.sender_smtputf8
        )
    except signup.NotAnAddressError:
        return here.form_page(
            page, SUBSCRIBE, binding, status=HTTPStatus.BAD_REQUEST, service=service, invalid=True
        )
    if not (
        rate_limits.take("client", who.ip or "", settings.signup_requests_per_client_hour, now)
        and rate_limits.take(
            "mailbox", rate_limits.mailbox(address), settings.signup_mails_per_mailbox_hour, now
        )
    ):
        metrics.add_metric(name="SubscriptionRequestsLimited", unit="Count", value=1)
        return error(page, HTTPStatus.TOO_MANY_REQUESTS, "too_many")
    state, subscription = signup.request_subscription(
        service, address, visitor, key=here.wiring.profile_id_key()
    )
    sent_to = None
    if subscription is not None and subscription.status is SubscriptionStatus.PENDING:
        sent_to = here.confirmer().send(state, service, subscription, page.language, now)
    metrics.add_metric(name="SubscriptionRequests", unit="Count", value=1)
    logger.info("subscription requested", extra={"confirmation_sent": sent_to is not None})
    return page.respond(SUBSCRIBE_SENT, service=service)


@router.get("/s/<serviceId>/<token>")
@router.head("/s/<serviceId>/<token>")
def confirm_page(serviceId: str, token: str) -> Response[str]:
    here = visit(router)
    claims = here.service_claims(serviceId, token)
    service = service_store.get_service(ServiceId(serviceId))
    current = service_store.find_subscription(service.service_id, claims.profile_id)
    page = here.page(
        links.confirm_path(service.service_id, token), profile_locale=locale_of(claims)
    )
    context: dict[str, Any] = {"service": service, "action_url": page.url(page.path)}
    if current is not None and current.status is SubscriptionStatus.PENDING:
        return here.form_page(page, CONFIRM, token, waiting=True, active=False, **context)
    active = current is not None and current.active(here.wiring.clock())
    return page.respond(CONFIRM, waiting=False, active=active, form=None, **context)


@router.post("/s/<serviceId>/<token>")
def confirm_submit(serviceId: str, token: str) -> Response[str]:
    here = visit(router)
    claims = here.service_claims(serviceId, token)
    form = here.submitted(CONFIRM, token)
    service = service_store.get_service(ServiceId(serviceId))
    path = links.confirm_path(service.service_id, token)
    page = here.page(path, profile_locale=locale_of(claims), form=form)
    step = Step(scope=claims.scope, action=Action.CONFIRM)
    try:
        applied = preferences.apply(claims.profile_id, [step], here.circumstances(claims, form))
    except InvalidInputError:  # nothing waits any more (undone, or unsubscribed meanwhile)
        return page.respond(
            CONFIRM, service=service, waiting=False, active=False, form=None, action_url=""
        )
    metrics.add_metric(name="SubscriptionsConfirmed", unit="Count", value=len(applied.outcomes))
    return here.done(page, token, claims.profile_id, applied)


def _binding(service_id: str) -> str:
    """What the subscription form's CSRF token is bound to: that page has no link token."""
    return f"service:{service_id}"
