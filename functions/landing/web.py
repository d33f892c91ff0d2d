"""What the routes read from a request and how their pages come out: the requester,
the form body, the page's language and place, the CSRF-bound forms, the
confirmation page after a change. No consent rule in here."""

from __future__ import annotations

import base64
import binascii
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from consentry.consent import links
from landing.forms import Form, FormGuard, FormRejectedError
from landing.i18n import negotiate
from landing.one_click import Requester
from landing.pages import Page, wording_version
from landing.preferences import Outcome, Step, encode_steps

DONE = "done.html"


def requester(event: APIGatewayProxyEvent) -> Requester:
    return Requester(
        ip=event.request_context.identity.source_ip,
        user_agent=event.headers.get("User-Agent"),
    )


def body_bytes(event: APIGatewayProxyEvent) -> bytes:
    body = event.body or ""
    if not event.is_base64_encoded:
        return body.encode()
    try:
        return base64.b64decode(body, validate=True)
    except binascii.Error:
        return b""


def _posted_form(event: APIGatewayProxyEvent) -> Form | None:
    if event.http_method != "POST":
        return None
    try:
        return Form.parse(body_bytes(event))
    except FormRejectedError:
        return None


def page_for(
    event: APIGatewayProxyEvent,
    path: str | None = None,
    *,
    profile_locale: str | None = None,
    form: Form | None = None,
) -> Page:
    """The page for this request: its language (the visitor's choice on the switch or
    in the form, then the profile's locale, then the browser's) and where it lives."""
    form = form or _posted_form(event)
    chosen = (form.first("lang") if form else None) or event.get_query_string_value("lang")
    context = event.request_context
    return Page(
        language=negotiate(
            chosen=chosen,
            profile=profile_locale,
            accept_language=event.headers.get("Accept-Language"),
        ),
        prefix=links.stage_prefix(_domain_name(event), context.stage),
        path=path or event.path,
    )


def base_url(event: APIGatewayProxyEvent, public_base_url: str) -> str:
    """Where links in emails point: the public base URL, else this API's host and stage."""
    context = event.request_context
    return links.base_url(
        configured=public_base_url,
        domain_name=_domain_name(event),
        stage=context.stage,
        forwarded_proto=event.headers.get("X-Forwarded-Proto"),
    )


def _domain_name(event: APIGatewayProxyEvent) -> str:
    """API Gateway's `requestContext.domainName` (the Host header only where an event
    lacks it: API Gateway always sets it)."""
    return event.request_context.domain_name or event.headers.get("Host") or ""


def form_page(
    page: Page,
    template: str,
    guard: FormGuard,
    bound_to: str,
    *,
    status: HTTPStatus = HTTPStatus.OK,
    **context: Any,
) -> Response[str]:
    """A page with a form: its CSRF token binds the page, the link and the wording."""
    wording = wording_version(template, page.language)
    form = {
        "csrf": guard.csrf_token(template, bound_to, wording),
        "wording": wording,
        "lang": page.language,
    }
    return page.respond(template, status=status, form=form, **context)


def submitted(event: APIGatewayProxyEvent, guard: FormGuard, template: str, bound_to: str) -> Form:
    """The POSTed form, refused unless its CSRF token is this page's, for this link,
    with the wording it names."""
    form = Form.parse(body_bytes(event))
    guard.check_csrf(form.first("csrf"), template, bound_to, form.first("wording") or "")
    return form


def done_page(
    page: Page,
    guard: FormGuard,
    token: str,
    outcomes: tuple[Outcome, ...],
    undo: list[Step],
    *,
    undone: bool = False,
) -> Response[str]:
    """The confirmation page after a change: what changed, and a button that undoes it."""
    context: dict[str, Any] = {
        "outcomes": outcomes,
        "undone": undone,
        "undo": guard.sign(encode_steps(undo), token) if undo else None,
        "undo_url": page.url(links.undo_path(token)),
        "preferences_url": page.url(links.preferences_path(token)),
    }
    if not undo:
        return page.respond(DONE, form=None, **context)
    return form_page(page, DONE, guard, token, **context)
