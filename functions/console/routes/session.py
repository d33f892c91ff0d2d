"""Signing in and out, the console's root, and its stylesheet.

GET  /console/sign-in     the form (and a cookie its CSRF token is bound to)
POST /console/sign-in     the user pool checks the password; a session cookie
POST /console/sign-out    the session cookie removed
GET  /console/assets/<n>  the stylesheet
"""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from consentry.core.observability import logger, metrics
from console import revocations
from console.pages import CONSOLE, Page, asset_response, error
from console.session import (
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    SIGN_IN_MAX_AGE,
    CsrfError,
    NotSignedInError,
    cookie,
    role_of,
)
from console.sign_in import PasswordChangeRequiredError, SignInRefusedError, SignInThrottledError
from console.web import Visit, page_for, visit

router = APIGatewayRouter()
SIGN_IN = f"{CONSOLE}/sign-in"


@router.get(f"{CONSOLE}/assets/<name>")
def stylesheet(name: str) -> Response[str]:
    here = visit(router)
    page = here.anonymous()
    return asset_response(name, secure=page.secure) or error(
        page, HTTPStatus.NOT_FOUND, "not_found"
    )


def sign_in_form(
    here: Visit, *, status: HTTPStatus = HTTPStatus.OK, problem: str | None = None
) -> Response[str]:
    """The sign-in page with a fresh CSRF binding (its cookie goes with it)."""
    anonymous = here.anonymous()
    value, token = here.wiring.sessions().sign_in_binding()
    page = Page(
        prefix=anonymous.prefix,
        secure=anonymous.secure,
        csrf=token,
        cookies=[
            cookie(SIGN_IN_COOKIE, value, path=anonymous.cookie_path, max_age=SIGN_IN_MAX_AGE)
        ],
    )
    return page.respond("sign_in.html", status=status, problem=problem)


@router.get(SIGN_IN)
def sign_in_page() -> Response[str]:
    here = visit(router)
    try:
        here.signed_in()
    except NotSignedInError:
        return sign_in_form(here)
    return here.anonymous().redirect(CONSOLE)


@router.post(SIGN_IN)
def sign_in() -> Response[str]:
    here = visit(router)
    form = here.request.form
    keys = here.wiring.sessions()
    try:
        if form is None:
            raise CsrfError("no form")
        keys.check_sign_in(here.cookies().get(SIGN_IN_COOKIE), form.first("csrf"))
    except CsrfError:
        return sign_in_form(here, status=HTTPStatus.FORBIDDEN, problem="form_rejected")
    try:
        identity = here.wiring.users().authenticate(
            (form.first("username") or "").strip(), form.first("password") or ""
        )
    except SignInRefusedError:
        metrics.add_metric(name="ConsoleSignInRefused", unit="Count", value=1)
        logger.info("console sign-in refused")  # never the username: it may be an address
        return sign_in_form(here, status=HTTPStatus.UNAUTHORIZED, problem="refused")
    except PasswordChangeRequiredError:
        return sign_in_form(here, status=HTTPStatus.FORBIDDEN, problem="temporary_password")
    except SignInThrottledError:
        logger.warning("console sign-in throttled by the user pool")
        return sign_in_form(here, status=HTTPStatus.TOO_MANY_REQUESTS, problem="throttled")
    role = role_of(identity.groups)
    if role is None:
        logger.info("console sign-in of a user in no console group")
        return sign_in_form(here, status=HTTPStatus.FORBIDDEN, problem="no_role")
    session, value = keys.issue(identity.username, role)
    anonymous = here.anonymous()
    page = Page(
        prefix=anonymous.prefix,
        secure=anonymous.secure,
        cookies=[
            cookie(SESSION_COOKIE, value, path=anonymous.cookie_path, max_age=keys.lifetime),
            cookie(SIGN_IN_COOKIE, "", path=anonymous.cookie_path, max_age=timedelta(0)),
        ],
    )
    logger.info("console sign-in", extra={"role": session.role.value})
    return page.redirect(CONSOLE)


@router.post(f"{CONSOLE}/sign-out")
def sign_out() -> Response[str]:
    here = visit(router)
    page = here.signed_in()
    here.posted(page)
    session = page.session
    if session is not None:  # here.signed_in() makes sure there is one
        keys = here.wiring.sessions()
        revocations.sign_out(session.session_id, session.issued_at + keys.lifetime)
    anonymous = page_for(here.event)
    signed_out = Page(
        prefix=anonymous.prefix,
        secure=anonymous.secure,
        cookies=[cookie(SESSION_COOKIE, "", path=anonymous.cookie_path, max_age=timedelta(0))],
    )
    return signed_out.redirect(SIGN_IN)
