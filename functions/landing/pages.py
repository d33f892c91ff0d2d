"""The small pages of the one-click endpoint. Every landing response carries the same
security headers: no caching (the token is in the URL), no referrer, no framing."""

from __future__ import annotations

from html import escape
from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


def _page(status: HTTPStatus, title: str, body_html: str) -> Response[str]:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title></head><body><main><h1>{escape(title)}</h1>"
        f"{body_html}</main></body></html>"
    )
    return Response(
        status_code=status.value,
        content_type="text/html; charset=utf-8",
        body=html,
        headers=SECURITY_HEADERS,
    )


def unsubscribe_confirm() -> Response[str]:
    """The page a person (or a mail scanner) sees when opening the one-click URL."""
    return _page(
        HTTPStatus.OK,
        "Unsubscribe",
        '<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">'
        "<p>Stop receiving these messages?</p>"
        '<button type="submit">Unsubscribe</button></form>',
    )


def unsubscribed() -> Response[str]:
    return _page(
        HTTPStatus.OK,
        "You are unsubscribed",
        "<p>You will not receive these messages any more.</p>",
    )


def bad_request(message: str) -> Response[str]:
    return _page(
        HTTPStatus.BAD_REQUEST, "This request cannot be handled", f"<p>{escape(message)}</p>"
    )


def link_invalid() -> Response[str]:
    return _page(
        HTTPStatus.BAD_REQUEST,
        "This link is not valid",
        "<p>The link may have been copied incompletely. Nothing was changed.</p>",
    )


def link_expired() -> Response[str]:
    return _page(
        HTTPStatus.GONE,
        "This link has expired",
        "<p>Use the link in a more recent message. Nothing was changed.</p>",
    )


def not_found() -> Response[str]:
    return _page(HTTPStatus.NOT_FOUND, "Page not found", "<p>There is nothing at this address.</p>")


def try_again_later() -> Response[str]:
    return _page(
        HTTPStatus.SERVICE_UNAVAILABLE,
        "Please try again in a moment",
        "<p>We could not record your choice just now. Nothing was changed.</p>",
    )
