"""/p/<token>: the preference center, the unsubscribe page, "never contact me again", the
erasure of one's data, and the undo their confirmation pages offer. GET shows, POST
changes."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from consentry.consent import links
from consentry.core.observability import logger
from consentry.core.types import RECIPIENT_ACTOR
from landing import preferences
from landing.web import DONE, ERASE, ERASED, NEVER, PREFERENCES, UNSUBSCRIBE, locale_of, visit

router = APIGatewayRouter()
ERASE_REASON = "erased by the recipient"


@router.get("/p/<token>")
@router.head("/p/<token>")
def preference_center(token: str) -> Response[str]:
    here = visit(router)
    claims = here.claims(token)
    view = preferences.load(claims.profile_id, here.wiring.clock())
    page = here.page(links.preferences_path(token), profile_locale=view.locale)
    return here.form_page(page, PREFERENCES, token, view=view, token=token)


@router.post("/p/<token>")
def save_preferences(token: str) -> Response[str]:
    here = visit(router)
    claims = here.claims(token)
    form = here.submitted(PREFERENCES, token)
    view = preferences.load(claims.profile_id, here.wiring.clock())
    boxes = {"all": form.first("stop_all") is not None}
    boxes |= {f"channel:{channel}": True for channel in form.all("channel")}
    boxes |= {f"service:{service}": True for service in form.all("service")}
    steps = preferences.changed_boxes(form.first("shown") or "", boxes, view)
    applied = preferences.apply(claims.profile_id, steps, here.circumstances(claims, form))
    page = here.page(links.preferences_path(token), profile_locale=view.locale, form=form)
    return here.done(page, token, claims.profile_id, applied)


@router.get("/p/<token>/unsubscribe")
@router.head("/p/<token>/unsubscribe")
def unsubscribe_page(token: str) -> Response[str]:
    return visit(router).unsubscribe_form(token, links.unsubscribe_path(token))


@router.post("/p/<token>/unsubscribe")
def unsubscribe_submit(token: str) -> Response[str]:
    here = visit(router)
    claims = here.claims(token)
    form = here.submitted(UNSUBSCRIBE, token)
    everything = form.first("what") == "everything"
    steps = preferences.unsubscribe_steps(claims.scope, everything=everything)
    applied = preferences.apply(claims.profile_id, steps, here.circumstances(claims, form))
    page = here.page(links.unsubscribe_path(token), profile_locale=locale_of(claims), form=form)
    return here.done(page, token, claims.profile_id, applied)


@router.get("/p/<token>/never")
@router.head("/p/<token>/never")
def never_page(token: str) -> Response[str]:
    here = visit(router)
    claims = here.claims(token)
    view = preferences.load(claims.profile_id, here.wiring.clock())
    page = here.page(links.never_path(token), profile_locale=view.locale)
    return here.form_page(page, NEVER, token, view=view, token=token)


@router.post("/p/<token>/never")
def never_submit(token: str) -> Response[str]:
    here = visit(router)
    claims = here.claims(token)
    form = here.submitted(NEVER, token)
    applied = preferences.apply(
        claims.profile_id, preferences.never_steps(), here.circumstances(claims, form)
    )
    page = here.page(links.never_path(token), profile_locale=locale_of(claims), form=form)
    return here.done(page, token, claims.profile_id, applied)


@router.get("/p/<token>/erase")
@router.head("/p/<token>/erase")
def erase_page(token: str) -> Response[str]:
    here = visit(router)
    claims = here.claims(token)
    view = preferences.load(claims.profile_id, here.wiring.clock())
    page = here.page(links.erase_path(token), profile_locale=view.locale)
    return here.form_page(page, ERASE, token, view=view, token=token)


@router.post("/p/<token>/erase")
def erase_submit(token: str) -> Response[str]:
    """The recipient's own erasure (GDPR art. 17): confirmed on its own page, no undo.
    What the addresses stopped is kept as fingerprints, so it also means "never"."""
    from consentry.privacy import erasure  # noqa: PLC0415 (rare: no other page loads it)

    here = visit(router)
    claims = here.claims(token)
    locale = locale_of(claims)
    form = here.submitted(ERASE, token)
    erasure.erase_profile(
        claims.profile_id,
        reason=ERASE_REASON,
        actor=RECIPIENT_ACTOR,
        keyring=here.wiring.erasure_keyring(),
        clock=here.wiring.clock,
        requested_at=here.circumstances(claims, form).requested_at,
    )
    logger.info("recipient erasure")
    return here.page(links.erase_path(token), profile_locale=locale, form=form).respond(ERASED)


@router.post("/p/<token>/undo")
def undo(token: str) -> Response[str]:
    here = visit(router)
    claims = here.claims(token)
    form = here.submitted(DONE, token)
    steps = preferences.decode_steps(here.wiring.guard().unsign(form.first("undo"), token))
    applied = preferences.apply(
        claims.profile_id, steps, here.circumstances(claims, form), reason=preferences.UNDO_REASON
    )
    page = here.page(links.preferences_path(token), profile_locale=locale_of(claims), form=form)
    return here.done(page, token, claims.profile_id, applied, undone=True)
