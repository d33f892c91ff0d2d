"""Recipient-facing routes: the one-click unsubscribe and the pages behind message links.

GET and HEAD never change state (mail scanners fetch every link); changes happen only
on POST.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from consentry.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    StoreUnavailableError,
    TokenError,
    TokenExpiredError,
)
from consentry.models import bind_models
from consentry.observability import logger, metrics, tracer
from consentry.settings import get_settings
from consentry.tokens import LinkClaims, load_signer
from landing import pages
from landing.one_click import Requester, is_one_click_body, unsubscribe

settings = get_settings()
bind_models(settings)
app = APIGatewayRestResolver()


def _claims(token: str) -> LinkClaims:
    signer = load_signer(
        settings.signing_keys_secret,
        ttl_days=settings.link_ttl_days,
        max_age_s=settings.signing_keys_max_age_s,
    )
    return signer.verify(token)


def _requester() -> Requester:
    event = app.current_event
    return Requester(
        ip=event.request_context.identity.source_ip,
        user_agent=event.headers.get("user-agent"),
    )


def _body_bytes() -> bytes:
    event = app.current_event
    body = event.body or ""
    if not event.is_base64_encoded:
        return body.encode()
    try:
        return base64.b64decode(body, validate=True)
    except binascii.Error:
        return b""


@app.get("/u/<token>")
@app.head("/u/<token>")
def one_click_page(token: str) -> Response[str]:
    _claims(token)
    return pages.unsubscribe_confirm()


@app.post("/u/<token>")
def one_click(token: str) -> Response[str]:
    claims = _claims(token)
    event = app.current_event
    if not is_one_click_body(_body_bytes(), event.headers.get("content-type")):
        return pages.bad_request("Expected the one-click body List-Unsubscribe=One-Click.")
    result = unsubscribe(claims, _requester(), owner_denylists=settings.owner_opt_out_denylists)
    metrics.add_metric(name="OneClickUnsubscribes", unit="Count", value=1)
    logger.info(
        "one-click unsubscribe",
        extra={"scope": str(claims.scope), "changed": result.event is not None},
    )
    return pages.unsubscribed()


@app.exception_handler(TokenExpiredError)
def _expired(_: TokenExpiredError) -> Response[str]:
    return pages.link_expired()


@app.exception_handler(TokenError)
def _bad_token(_: TokenError) -> Response[str]:
    return pages.link_invalid()


@app.exception_handler(InvalidInputError)
def _invalid(error: InvalidInputError) -> Response[str]:
    return pages.bad_request(error.message)


@app.exception_handler(NotFoundError)
def _gone(_: NotFoundError) -> Response[str]:
    return pages.link_invalid()


@app.exception_handler(ConflictError)
def _busy(_: ConflictError) -> Response[str]:
    return pages.try_again_later()


@app.exception_handler(StoreUnavailableError)
def _unavailable(_: StoreUnavailableError) -> Response[str]:
    logger.exception("consent store unavailable")
    return pages.try_again_later()


@app.not_found
def _not_found(_: Exception) -> Response[str]:
    return pages.not_found()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
