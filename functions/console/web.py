"""What the console's routes read from a request: the session its cookie holds, the
posted form (checked against the session's CSRF token), and the page to answer with.
No consent rule in here."""

from __future__ import annotations

from dataclasses import dataclass

from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from consentry.consent import links
from console import revocations
from console.pages import Page
from console.session import (
    SESSION_COOKIE,
    CsrfError,
    ForbiddenError,
    NotSignedInError,
    Session,
    cookies_of,
)
from console.wiring import ConsoleWiring
from landing.forms import Form
from landing.request import Decoded, decoded


def secure(event: APIGatewayProxyEvent) -> bool:
    return (event.headers.get("X-Forwarded-Proto") or "").lower() == "https"


def page_for(
    event: APIGatewayProxyEvent, session: Session | None = None, csrf: str | None = None
) -> Page:
    domain = event.request_context.domain_name or event.headers.get("Host") or ""
    return Page(
        prefix=links.stage_prefix(domain, event.request_context.stage),
        secure=secure(event),
        session=session,
        csrf=csrf,
    )


def cookies_in(event: APIGatewayProxyEvent) -> dict[str, str]:
    """The request's cookies by name (a browser sends them in one header, or several)."""
    multi = event.multi_value_headers or {}
    values = next((list(v) for name, v in multi.items() if name.lower() == "cookie" and v), None)
    if values is None:
        single = event.headers.get("Cookie")
        values = [single] if single else []
    return cookies_of(values)


def signed_in_page(event: APIGatewayProxyEvent, wiring: ConsoleWiring) -> Page:
    """The page for the signed-in user; NotSignedInError without a good session (one
    signed out is no longer good, whoever holds a copy of its cookie)."""
    keys = wiring.sessions()
    session = keys.open(cookies_in(event).get(SESSION_COOKIE))
    if revocations.signed_out(session.session_id):
        raise NotSignedInError("the session was signed out")
    return page_for(event, session, keys.csrf_token(session.session_id))


@dataclass(frozen=True)
class Visit:
    """One request to the console, with the wiring the handler handed down."""

    event: APIGatewayProxyEvent
    wiring: ConsoleWiring
    request: Decoded

    def cookies(self) -> dict[str, str]:
        return cookies_in(self.event)

    def anonymous(self) -> Page:
        return page_for(self.event)

    def signed_in(self) -> Page:
        return signed_in_page(self.event, self.wiring)

    def posted(self, page: Page) -> Form:
        """The form of a POST by the signed-in user, refused without their CSRF token."""
        form = self.request.form
        if form is None or page.session is None:
            raise CsrfError("the request carries no form")
        self.wiring.sessions().check_csrf(form.first("csrf"), page.session.session_id)
        return form

    def change(self) -> tuple[Page, Form]:
        """A change asked for by the signed-in user: their form, and only if they may
        change things (ForbiddenError for a viewer, before anything is read)."""
        page = self.signed_in()
        form = self.posted(page)
        if page.session is None or not page.session.may_change:
            raise ForbiddenError("viewers change nothing")
        return page, form


def visit(router: APIGatewayRouter) -> Visit:
    wiring: ConsoleWiring = router.context["wiring"]
    return Visit(router.current_event, wiring, decoded(router))
