"""The URLs of a recipient's signed links, and the RFC 8058 headers that carry them.

One token serves the three links of a message: the preference center, the
unsubscribe page for the token's scope and the one-click endpoint. Paths are built
here only, for the operator API that mints links and the pages that link to each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from consentry.consent.tokens import LinkClaims, LinkSigner
from consentry.core.errors import InvalidInputError
from consentry.core.types import ServiceId

ONE_CLICK_POST = "List-Unsubscribe=One-Click"
"""The value of the `List-Unsubscribe-Post` header, and the body a mailbox provider posts."""

ASSETS_PATH = "/p/assets"
"""Where the landing function serves its own stylesheet (same origin, so CSP 'self')."""

_DEFAULT_API_DOMAIN = ".amazonaws.com"
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def preferences_path(token: str) -> str:
    return f"/p/{token}"


def unsubscribe_path(token: str) -> str:
    return f"/p/{token}/unsubscribe"


def never_path(token: str) -> str:
    return f"/p/{token}/never"


def erase_path(token: str) -> str:
    return f"/p/{token}/erase"


def undo_path(token: str) -> str:
    return f"/p/{token}/undo"


def one_click_path(token: str) -> str:
    return f"/u/{token}"


def subscribe_path(service_id: ServiceId) -> str:
    return f"/s/{quote(service_id, safe='')}"


def confirm_path(service_id: ServiceId, token: str) -> str:
    """The double opt-in confirmation link: a page whose button confirms."""
    return f"{subscribe_path(service_id)}/{token}"


@dataclass(frozen=True)
class LinkSet:
    """What one message carries for its recipient."""

    preferences_url: str
    unsubscribe_url: str
    one_click_url: str
    expires_at: datetime

    @property
    def headers(self) -> dict[str, str]:
        """`List-Unsubscribe` and `List-Unsubscribe-Post`, ready to put on the message."""
        return {
            "List-Unsubscribe": f"<{self.one_click_url}>",
            "List-Unsubscribe-Post": ONE_CLICK_POST,
        }


def mint(signer: LinkSigner, base_url: str, claims: LinkClaims) -> LinkSet:
    """Sign `claims` (which carry their issue time) and build the message's links."""
    if claims.issued_at is None:
        raise InvalidInputError("issuedAt", "links are minted with their issue time")
    token = signer.sign(claims)
    return LinkSet(
        preferences_url=base_url + preferences_path(token),
        unsubscribe_url=base_url + unsubscribe_path(token),
        one_click_url=base_url + one_click_path(token),
        expires_at=claims.issued_at + signer.ttl,
    )


def stage_prefix(domain_name: str, stage: str | None) -> str:
    """The path prefix of the API's stage: `/prod` on API Gateway's own domain; none on
    a custom domain (its base path mapping hides the stage) or locally."""
    if stage and domain_name.endswith(_DEFAULT_API_DOMAIN):
        return f"/{stage}"
    return ""


def base_url(
    *, configured: str, domain_name: str | None, stage: str | None, forwarded_proto: str | None
) -> str:
    """Where links point: the configured public base URL, else the API the request came to.

    `domain_name` is API Gateway's `requestContext.domainName`, which API Gateway sets
    (a Host header sent by a client cannot point links elsewhere).
    """
    if configured:
        return configured.rstrip("/")
    if not domain_name:
        raise InvalidInputError("domainName", "the request names no domain to build links on")
    loopback = domain_name.startswith(_LOOPBACK_HOSTS)
    scheme = forwarded_proto or ("http" if loopback else "https")
    if scheme not in ("http", "https"):
        scheme = "https"
    return f"{scheme}://{domain_name}{stage_prefix(domain_name, stage)}"
