"""Recipient-facing routes: the pages behind message links and the one-click unsubscribe.

GET and HEAD never change state (mail scanners fetch every link, the confirmation
link of a double opt-in included); changes happen only on POST: a page's form, which
carries a CSRF token bound to its link, or the RFC 8058 one-click POST.

    /p/assets/<name>          the stylesheet and icon (same origin: CSP 'self')
    /p/<token>                preference center: channels and services, saved on submit
    /p/<token>/unsubscribe    unsubscribe from the link's scope, or from everything
    /p/<token>/never          "never contact me again" (denylist)
    /p/<token>/undo           POST only: undo what the confirmation page shows
    /u/<token>                GET: the unsubscribe page; POST: RFC 8058 one-click
    /s/<serviceId>            subscribe an address: pending, then a confirmation email
    /s/<serviceId>/<token>    the confirmation link: a page whose button confirms
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from consentry.consent import links, profile_store, service_store
from consentry.consent.rules import Scope
from consentry.consent.subscriptions import SubscriptionStatus
from consentry.consent.tokens import LinkClaims, LinkSigner, load_keyring, load_signer
from consentry.core.clock import utc_now
from consentry.core.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    StoreUnavailableError,
    TokenError,
    TokenExpiredError,
)
from consentry.core.observability import logger, metrics, tracer
from consentry.core.persistence import bind_tables
from consentry.core.settings import get_settings
from consentry.core.types import Action, ProfileId, ScopeKind, ServiceId
from landing import preferences, signup, web
from landing.forms import Form, FormExpiredError, FormGuard, FormRejectedError
from landing.mailer import MailUnavailableError, OncePerPending, SesMailer
from landing.one_click import is_one_click_body, unsubscribe
from landing.pages import Page, asset_response, error
from landing.preferences import Applied, Circumstances, Outcome, Step

settings = get_settings()
bind_tables(settings)
app = APIGatewayRestResolver()
outbox = OncePerPending(SesMailer(settings.aws_region), settings.idempotency_table)

PREFERENCES = "preferences.html"
UNSUBSCRIBE = "unsubscribe.html"
NEVER = "never.html"
SUBSCRIBE = "subscribe.html"
SUBSCRIBE_SENT = "subscribe_sent.html"
CONFIRM = "confirm.html"


# ---------------------------------------------------------------- pages


@app.get("/p/assets/<name>")
@app.head("/p/assets/<name>")
def static_asset(name: str) -> Response[str]:
    return asset_response(name) or error(_page(), HTTPStatus.NOT_FOUND, "not_found")


@app.get("/p/<token>")
@app.head("/p/<token>")
def preference_center(token: str) -> Response[str]:
    claims = _claims(token)
    view = preferences.load(claims.profile_id, utc_now())
    page = _page(links.preferences_path(token), profile_locale=view.locale)
    return web.form_page(page, PREFERENCES, _guard(), token, view=view, token=token)


@app.post("/p/<token>")
def save_preferences(token: str) -> Response[str]:
    claims = _claims(token)
    form = _submitted(PREFERENCES, token)
    view = preferences.load(claims.profile_id, utc_now())
    boxes = {"all": form.first("stop_all") is not None}
    boxes |= {f"channel:{channel}": True for channel in form.all("channel")}
    boxes |= {f"service:{service}": True for service in form.all("service")}
    steps = preferences.changed_boxes(form.first("shown") or "", boxes, view)
    applied = preferences.apply(claims.profile_id, steps, _circumstances(claims, form))
    page = _page(links.preferences_path(token), profile_locale=view.locale, form=form)
    return _done(page, token, claims.profile_id, applied)


@app.get("/p/<token>/unsubscribe")
@app.head("/p/<token>/unsubscribe")
def unsubscribe_page(token: str) -> Response[str]:
    return _unsubscribe_form(token, links.unsubscribe_path(token))


@app.post("/p/<token>/unsubscribe")
def unsubscribe_submit(token: str) -> Response[str]:
    claims = _claims(token)
    form = _submitted(UNSUBSCRIBE, token)
    everything = form.first("what") == "everything"
    steps = preferences.unsubscribe_steps(claims.scope, everything=everything)
    applied = preferences.apply(claims.profile_id, steps, _circumstances(claims, form))
    page = _page(links.unsubscribe_path(token), profile_locale=_locale(claims), form=form)
    return _done(page, token, claims.profile_id, applied)


@app.get("/p/<token>/never")
@app.head("/p/<token>/never")
def never_page(token: str) -> Response[str]:
    claims = _claims(token)
    view = preferences.load(claims.profile_id, utc_now())
    page = _page(links.never_path(token), profile_locale=view.locale)
    return web.form_page(page, NEVER, _guard(), token, view=view, token=token)


@app.post("/p/<token>/never")
def never_submit(token: str) -> Response[str]:
    claims = _claims(token)
    form = _submitted(NEVER, token)
    applied = preferences.apply(
        claims.profile_id, preferences.never_steps(), _circumstances(claims, form)
    )
    page = _page(links.never_path(token), profile_locale=_locale(claims), form=form)
    return _done(page, token, claims.profile_id, applied)


@app.post("/p/<token>/undo")
def undo(token: str) -> Response[str]:
    claims = _claims(token)
    form = _submitted(web.DONE, token)
    steps = preferences.decode_steps(_guard().unsign(form.first("undo"), token))
    applied = preferences.apply(
        claims.profile_id, steps, _circumstances(claims, form), reason=preferences.UNDO_REASON
    )
    page = _page(links.preferences_path(token), profile_locale=_locale(claims), form=form)
    return _done(page, token, claims.profile_id, applied, undone=True)


@app.get("/s/<serviceId>")
@app.head("/s/<serviceId>")
def subscribe_page(serviceId: str) -> Response[str]:
    service = signup.open_service(serviceId, utc_now())
    page = _page(links.subscribe_path(service.service_id))
    binding = _subscribe_binding(serviceId)
    return web.form_page(page, SUBSCRIBE, _guard(), binding, service=service, invalid=False)


@app.post("/s/<serviceId>")
def subscribe_submit(serviceId: str) -> Response[str]:
    now = utc_now()
    service = signup.open_service(serviceId, now)
    binding = _subscribe_binding(serviceId)
    form = _submitted(SUBSCRIBE, binding)
    page = _page(links.subscribe_path(service.service_id), form=form)
    requester = web.requester(app.current_event)
    visitor = signup.Visitor(
        ip=requester.ip,
        user_agent=requester.user_agent,
        language=page.language,
        wording_version=form.first("wording") or "",
    )
    try:
        state, subscription = signup.request_subscription(
            service, form.first("email") or "", visitor, key=_profile_id_key()
        )
    except signup.NotAnAddressError:
        return web.form_page(
            page,
            SUBSCRIBE,
            _guard(),
            binding,
            status=HTTPStatus.BAD_REQUEST,
            service=service,
            invalid=True,
        )
    sent_to = None
    if subscription is not None and subscription.status is SubscriptionStatus.PENDING:
        sent_to = _confirmer().send(state, service, subscription, page.language, now)
    metrics.add_metric(name="SubscriptionRequests", unit="Count", value=1)
    logger.info("subscription requested", extra={"confirmation_sent": sent_to is not None})
    return page.respond(SUBSCRIBE_SENT, service=service)


@app.get("/s/<serviceId>/<token>")
@app.head("/s/<serviceId>/<token>")
def confirm_page(serviceId: str, token: str) -> Response[str]:
    claims = _service_claims(serviceId, token)
    service = service_store.get_service(ServiceId(serviceId))
    current = service_store.find_subscription(service.service_id, claims.profile_id)
    page = _page(links.confirm_path(service.service_id, token), profile_locale=_locale(claims))
    context: dict[str, Any] = {"service": service, "action_url": page.url(page.path)}
    if current is not None and current.status is SubscriptionStatus.PENDING:
        return web.form_page(page, CONFIRM, _guard(), token, waiting=True, active=False, **context)
    active = current is not None and current.active(utc_now())
    return page.respond(CONFIRM, waiting=False, active=active, form=None, **context)


@app.post("/s/<serviceId>/<token>")
def confirm_submit(serviceId: str, token: str) -> Response[str]:
    claims = _service_claims(serviceId, token)
    form = _submitted(CONFIRM, token)
    service = service_store.get_service(ServiceId(serviceId))
    path = links.confirm_path(service.service_id, token)
    page = _page(path, profile_locale=_locale(claims), form=form)
    step = Step(scope=claims.scope, action=Action.CONFIRM)
    try:
        applied = preferences.apply(claims.profile_id, [step], _circumstances(claims, form))
    except InvalidInputError:  # nothing waits any more (undone, or unsubscribed meanwhile)
        return page.respond(
            CONFIRM, service=service, waiting=False, active=False, form=None, action_url=""
        )
    metrics.add_metric(name="SubscriptionsConfirmed", unit="Count", value=len(applied.outcomes))
    return _done(page, token, claims.profile_id, applied)


# ---------------------------------------------------------------- one-click (RFC 8058)


@app.get("/u/<token>")
@app.head("/u/<token>")
def one_click_page(token: str) -> Response[str]:
    """What a person (or a mail scanner) sees on opening the one-click URL."""
    return _unsubscribe_form(token, links.one_click_path(token))


@app.post("/u/<token>")
def one_click(token: str) -> Response[str]:
    claims = _claims(token)
    event = app.current_event
    if not is_one_click_body(web.body_bytes(event), event.headers.get("content-type")):
        return error(_page(), HTTPStatus.BAD_REQUEST, "bad_request", detail=links.ONE_CLICK_POST)
    result = unsubscribe(
        claims, web.requester(event), owner_denylists=settings.owner_opt_out_denylists
    )
    metrics.add_metric(name="OneClickUnsubscribes", unit="Count", value=1)
    logger.info(
        "one-click unsubscribe",
        extra={"scope": str(claims.scope), "changed": result.event is not None},
    )
    outcomes = tuple(
        Outcome(
            step=Step(scope=Scope.parse(e.scope), action=e.action),
            status=e.result,
            service_label=_service_label(claims.scope),
        )
        for e in result.events
    )
    page = _page(links.one_click_path(token), profile_locale=result.state.locale)
    return web.done_page(page, _guard(), token, outcomes, undo=[])


# ---------------------------------------------------------------- errors


@app.exception_handler(TokenExpiredError)
def _expired(_: TokenExpiredError) -> Response[str]:
    return error(_page(), HTTPStatus.GONE, "link_expired")


@app.exception_handler(TokenError)
def _bad_token(_: TokenError) -> Response[str]:
    return error(_page(), HTTPStatus.BAD_REQUEST, "link_invalid")


@app.exception_handler(FormExpiredError)
def _form_expired(_: FormExpiredError) -> Response[str]:
    page = _page()
    return error(page, HTTPStatus.BAD_REQUEST, "form_expired", detail=page.url(page.path))


@app.exception_handler(FormRejectedError)
def _form_rejected(_: FormRejectedError) -> Response[str]:
    page = _page()
    return error(page, HTTPStatus.BAD_REQUEST, "form_rejected", detail=page.url(page.path))


@app.exception_handler(InvalidInputError)
def _invalid(_: InvalidInputError) -> Response[str]:
    return error(_page(), HTTPStatus.BAD_REQUEST, "bad_request")


@app.exception_handler(NotFoundError)
def _gone(missing: NotFoundError) -> Response[str]:
    if missing.kind == "service" and app.current_event.path.startswith("/s/"):
        return error(_page(), HTTPStatus.NOT_FOUND, "service_unavailable")
    return error(_page(), HTTPStatus.BAD_REQUEST, "link_invalid")  # a link to what is gone


@app.exception_handler(ConflictError)
def _busy(_: ConflictError) -> Response[str]:
    return error(_page(), HTTPStatus.SERVICE_UNAVAILABLE, "try_again")


@app.exception_handler(StoreUnavailableError)
def _unavailable(_: StoreUnavailableError) -> Response[str]:
    logger.exception("consent store unavailable")
    return error(_page(), HTTPStatus.SERVICE_UNAVAILABLE, "try_again")


@app.exception_handler(MailUnavailableError)
def _mail_unavailable(failure: MailUnavailableError) -> Response[str]:
    logger.warning("confirmation email not sent", extra={"error": str(failure)})
    return error(_page(), HTTPStatus.SERVICE_UNAVAILABLE, "try_again")


@app.not_found
def _not_found(_: Exception) -> Response[str]:
    return error(_page(), HTTPStatus.NOT_FOUND, "not_found")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outbox.register_lambda_context(context)
    return app.resolve(event, context)


# ---------------------------------------------------------------- wiring


def _signer() -> LinkSigner:
    return load_signer(
        settings.signing_keys_secret,
        ttl_days=settings.link_ttl_days,
        max_age_s=settings.signing_keys_max_age_s,
    )


def _guard() -> FormGuard:
    return FormGuard(
        load_keyring(settings.signing_keys_secret, max_age_s=settings.signing_keys_max_age_s)
    )


def _profile_id_key() -> bytes:
    if not settings.profile_id_key_secret:
        raise RuntimeError("PROFILE_ID_KEY_SECRET is not set for the landing function")
    return signup.load_profile_id_key(
        settings.profile_id_key_secret, max_age_s=settings.signing_keys_max_age_s
    )


def _confirmer() -> signup.Confirmer:
    return signup.Confirmer(
        signer=_signer(),
        base_url=web.base_url(app.current_event, settings.public_base_url),
        sender=settings.confirmation_sender,
        outbox=outbox,
    )


def _claims(token: str) -> LinkClaims:
    return _signer().verify(token)


def _service_claims(service_id: str, token: str) -> LinkClaims:
    """A confirmation link's claims: its scope must be the service in its path."""
    claims = _claims(token)
    if claims.scope != signup.service_scope(service_id):
        raise TokenError("the link is for another service")
    return claims


def _locale(claims: LinkClaims) -> str | None:
    state = profile_store.find_consent(claims.profile_id)
    return state.locale if state else None


def _service_label(scope: Scope) -> str | None:
    if scope.kind is not ScopeKind.SERVICE:
        return None
    return service_store.get_service(ServiceId(str(scope.value))).public_label


def _subscribe_binding(service_id: str) -> str:
    """What the subscription form's CSRF token is bound to: that page has no link token."""
    return f"service:{service_id}"


def _page(
    path: str | None = None, *, profile_locale: str | None = None, form: Form | None = None
) -> Page:
    return web.page_for(app.current_event, path, profile_locale=profile_locale, form=form)


def _submitted(template: str, bound_to: str) -> Form:
    return web.submitted(app.current_event, _guard(), template, bound_to)


def _circumstances(claims: LinkClaims, form: Form) -> Circumstances:
    requester = web.requester(app.current_event)
    return Circumstances(
        ip=requester.ip,
        user_agent=requester.user_agent,
        delivery_id=claims.delivery_id,
        wording_version=form.first("wording"),
        owner_denylists=settings.owner_opt_out_denylists,
    )


def _unsubscribe_form(token: str, path: str) -> Response[str]:
    claims = _claims(token)
    page = _page(path, profile_locale=_locale(claims))
    return web.form_page(
        page,
        UNSUBSCRIBE,
        _guard(),
        token,
        scope=claims.scope,
        service_label=_service_label(claims.scope),
        action_url=page.url(links.unsubscribe_path(token)),
        token=token,
    )


def _done(
    page: Page, token: str, profile_id: ProfileId, applied: Applied, *, undone: bool = False
) -> Response[str]:
    outcomes = signup.with_confirmations(
        _confirmer(), profile_id, applied, page.language, utc_now()
    )
    metrics.add_metric(name="LandingChanges", unit="Count", value=len(outcomes))
    logger.info("landing change", extra={"changes": len(outcomes), "undo": undone})
    return web.done_page(
        page, _guard(), token, outcomes, [] if undone else applied.undo, undone=undone
    )
