"""Everything the recipient pages read from a request's body, decoded once, before any
route runs: a request that cannot be decoded is refused here, with a 400 page, and no
route ever sees it. The routes read `Decoded`, never the raw event body.

What is refused: a body that is not valid base64 (when the event says it is), larger
than MAX_BODY, or a form (what the pages post) that is not UTF-8, holds more than
MAX_FIELDS fields, or a field longer than MAX_FIELD. Bodies of other content types
(the one-click endpoint accepts multipart) stay bytes for their route to read.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from consentry.core.errors import ConsentryError
from landing.forms import Form, FormRejectedError

MAX_BODY = 64 * 1024
"""The largest body a page or the one-click endpoint is sent (a form is a few KB)."""
FORM_TYPES = frozenset({"", "application/x-www-form-urlencoded"})


class UndecodableRequestError(ConsentryError):
    """A request body no page can read; nothing in it is used."""


@dataclass(frozen=True)
class Decoded:
    """A request's body as the routes read it."""

    body: bytes
    content_type: str
    form: Form | None
    """The posted form, when the body is one."""


def decode(event: APIGatewayProxyEvent) -> Decoded:
    raw = event.body or ""
    if len(raw) > 2 * MAX_BODY:
        raise UndecodableRequestError("the body is too large")
    if event.is_base64_encoded:
        try:
            body = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise UndecodableRequestError("the body is not base64") from None
    else:
        try:
            body = raw.encode("utf-8")
        except UnicodeEncodeError:
            raise UndecodableRequestError("the body is not text") from None
    if len(body) > MAX_BODY:
        raise UndecodableRequestError("the body is too large")
    content_type = (event.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    form = None
    if event.http_method == "POST" and content_type in FORM_TYPES:
        try:
            form = Form.parse(body)
        except FormRejectedError as rejected:
            raise UndecodableRequestError(str(rejected)) from None
    return Decoded(body=body, content_type=content_type, form=form)


def decoding(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """The resolver's middleware: decode the request before its route runs."""
    app.context["decoded"] = decode(app.current_event)
    return next_middleware(app)


def decoded(router: APIGatewayRouter) -> Decoded:
    found: Decoded = router.context["decoded"]
    return found
