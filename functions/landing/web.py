"""What the routes read from a request and how their pages come out: the requester,
the form body, the page's language and place, the CSRF-bound forms, the
confirmation page after a change. No consent rule in here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from consentry.consent import links, profile_store, service_store
from consentry.consent.rules import Scope
from consentry.consent.tokens import LinkClaims
from consentry.core.errors import TokenError
from consentry.core.observability import logger, metrics
from consentry.core.types import ProfileId, ScopeKind, ServiceId
from landing.forms import Form, FormGuard, FormRejectedError
from landing.i18n import negotiate
from landing.one_click import Requester
from landing.pages import Page, wording_version
from landing.preferences import Applied, Circumstances, Outcome, Step, encode_steps
from landing.request import Decoded, decoded
from landing.wiring import LandingWiring

if TYPE_CHECKING:
    from landing import signup

PREFERENCES = "preferences.html"
UNSUBSCRIBE = "unsubscribe.html"
NEVER = "never.html"
ERASE = "erase.html"
ERASED = "erased.html"
SUBSCRIBE = "subscribe.html"
SUBSCRIBE_SENT = "subscribe_sent.html"
CONFIRM = "confirm.html"
DONE = "done.html"


def requester(event: APIGatewayProxyEvent) -> Requester:
    received = event.request_context.get("requestTimeEpoch")
    return Requester(
        ip=event.request_context.identity.source_ip,
        user_agent=event.headers.get("User-Agent"),
        at=datetime.fromtimestamp(received / 1000, UTC) if received else None,
    )


def page_for(
    event: APIGatewayProxyEvent,
    path: str | None = None,
    *,
    profile_locale: str | None = None,
    form: Form | None = None,
) -> Page:
    """The page for this request: its language (the visitor's choice on the switch or
    in the form, then the profile's locale, then the browser's) and where it lives."""
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
        secure=secure(event),
    )


def secure(event: APIGatewayProxyEvent) -> bool:
    """Whether the request came over HTTPS, as API Gateway tells the function."""
    return (event.headers.get("X-Forwarded-Proto") or "").lower() == "https"


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


def submitted(form: Form | None, guard: FormGuard, template: str, bound_to: str) -> Form:
    """The POSTed form, refused unless its CSRF token is this page's, for this link,
    with the wording it names."""
    if form is None:
        raise FormRejectedError("the request carries no form")
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


# ---------------------------------------------------------------- one visit


@dataclass(frozen=True)
class Visit:
    """One request to the recipient pages, with what it needs to verify its link, check
    its form and render its page."""

    event: APIGatewayProxyEvent
    wiring: LandingWiring
    request: Decoded

    def claims(self, token: str) -> LinkClaims:
        return self.wiring.signer().verify(token)

    def service_claims(self, service_id: str, token: str) -> LinkClaims:
        """A confirmation link's claims: its scope must be the service in its path."""
        claims = self.claims(token)
        if claims.scope != Scope.service(service_id):
            raise TokenError("the link is for another service")
        return claims

    def page(
        self,
        path: str | None = None,
        *,
        profile_locale: str | None = None,
        form: Form | None = None,
    ) -> Page:
        return page_for(
            self.event, path, profile_locale=profile_locale, form=form or self.request.form
        )

    def submitted(self, template: str, bound_to: str) -> Form:
        return submitted(self.request.form, self.wiring.guard(), template, bound_to)

    def form_page(
        self,
        page: Page,
        template: str,
        bound_to: str,
        *,
        status: HTTPStatus = HTTPStatus.OK,
        **context: Any,
    ) -> Response[str]:
        return form_page(page, template, self.wiring.guard(), bound_to, status=status, **context)

    def circumstances(self, claims: LinkClaims, form: Form) -> Circumstances:
        who = requester(self.event)
        return Circumstances(
            ip=who.ip,
            user_agent=who.user_agent,
            requested_at=who.at,
            delivery_id=claims.delivery_id,
            wording_version=form.first("wording"),
            owner_denylists=self.wiring.settings.owner_opt_out_denylists,
        )

    def confirmer(self) -> signup.Confirmer:
        from landing import signup  # noqa: PLC0415 (pages that change something)

        return signup.Confirmer(
            signer=self.wiring.signer(),
            base_url=base_url(self.event, self.wiring.settings.public_base_url),
            sender=self.wiring.settings.confirmation_sender,
            outbox=self.wiring.outbox,
            erasures=self.wiring.erasure_keyring(),
        )

    def done(
        self,
        page: Page,
        token: str,
        profile_id: ProfileId,
        applied: Applied,
        *,
        undone: bool = False,
    ) -> Response[str]:
        """The confirmation page after a change, once the confirmation emails it needs
        have gone out."""
        from landing import signup  # noqa: PLC0415 (pages that change something)

        outcomes = signup.with_confirmations(
            self.confirmer(), profile_id, applied, page.language, self.wiring.clock()
        )
        metrics.add_metric(name="LandingChanges", unit="Count", value=len(outcomes))
        logger.info("landing change", extra={"changes": len(outcomes), "undo": undone})
        undo = [] if undone else applied.undo
        return done_page(page, self.wiring.guard(), token, outcomes, undo, undone=undone)

    def unsubscribe_form(self, token: str, path: str) -> Response[str]:
        claims = self.claims(token)
        page = self.page(path, profile_locale=locale_of(claims))
        return self.form_page(
            page,
            UNSUBSCRIBE,
            token,
            scope=claims.scope,
            service_label=service_label(claims.scope),
            action_url=page.url(links.unsubscribe_path(token)),
            token=token,
        )


def visit(router: APIGatewayRouter) -> Visit:
    """This request, with the wiring the handler put in the resolver's context."""
    wiring: LandingWiring = router.context["wiring"]
    return Visit(router.current_event, wiring, decoded(router))


def locale_of(claims: LinkClaims) -> str | None:
    state = profile_store.find_consent(claims.profile_id)
    return state.locale if state else None


def service_label(scope: Scope) -> str | None:
    if scope.kind is not ScopeKind.SERVICE:
        return None
    return service_store.get_service(ServiceId(str(scope.value))).public_label
