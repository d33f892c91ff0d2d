"""What the pages' forms carry besides the person's choices, and how it is checked.

Every form carries a CSRF token: an HMAC, under a key derived from the link-signing
keyring, over the page it was rendered for, the link token in that page's URL, the
version of the wording the person saw and the time it was rendered. A POST whose
token does not match its own URL is refused, and the wording version it names is
the one the event records. The same keys sign the undo a confirmation page offers,
so an undo form can only undo what was done through that link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

from consentry.consent.tokens import Keyring
from consentry.core.clock import Clock, utc_now
from consentry.core.errors import ConsentryError

FORM_MAX_AGE = timedelta(hours=24)
"""How long a rendered form may wait for its submission."""
_PURPOSE = b"consentry.form.v1"
_MAX_FIELD = 4096
MAX_FIELDS = 200
"""More fields than any page's form has (the preference center lists at most 200 services)."""


class FormRejectedError(ConsentryError):
    """A form POST whose CSRF token or signed field does not belong to its page."""


class FormExpiredError(FormRejectedError):
    """A form that was rendered too long ago; reloading the page gives a fresh one."""


@dataclass(frozen=True)
class Form:
    """The submitted fields: each name with its values, in order."""

    fields: dict[str, list[str]]

    @classmethod
    def parse(cls, body: bytes) -> Form:
        """An `application/x-www-form-urlencoded` body (what the pages' forms send)."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise FormRejectedError("the form is not UTF-8") from None
        try:
            fields = parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
        except ValueError:  # more fields than any page's form has
            raise FormRejectedError("the form has too many fields") from None
        if any(len(value) > _MAX_FIELD for values in fields.values() for value in values):
            raise FormRejectedError("a form field is too long")
        return cls(fields=fields)

    def first(self, name: str) -> str | None:
        values = self.fields.get(name)
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return list(self.fields.get(name, ()))


class FormGuard:
    """Issues and checks the CSRF tokens and signed fields of the pages' forms."""

    def __init__(
        self, keyring: Keyring, *, clock: Clock = utc_now, max_age: timedelta = FORM_MAX_AGE
    ) -> None:
        self._active = keyring.active
        self._keys = {
            kid: hmac.new(key.encode(), _PURPOSE, hashlib.sha256).digest()
            for kid, key in keyring.keys.items()
        }
        self._clock = clock
        self._max_age = max_age

    def csrf_token(self, page: str, bound_to: str, wording: str) -> str:
        """`<key id>.<issued>.<mac>` for the form of `page` reached through `bound_to`."""
        issued = int(self._clock().timestamp())
        mac = self._mac(self._active, "csrf", page, bound_to, wording, str(issued))
        return f"{self._active}.{issued}.{mac}"

    def check_csrf(self, token: str | None, page: str, bound_to: str, wording: str) -> None:
        """Refuse a token that was not issued for this page, link and wording, or is too old."""
        kid, _, rest = (token or "").partition(".")
        issued_text, _, mac = rest.partition(".")
        if kid not in self._keys or not (
            issued_text.isascii() and issued_text.isdigit() and len(issued_text) <= 12
        ):
            raise FormRejectedError("the form carries no valid CSRF token")
        expected = self._mac(kid, "csrf", page, bound_to, wording, issued_text)
        if not _same(mac, expected):
            raise FormRejectedError("the form's CSRF token does not match its page")
        age = self._clock() - datetime.fromtimestamp(int(issued_text), UTC)
        if age > self._max_age or age < -timedelta(minutes=5):
            raise FormExpiredError("the form was rendered too long ago")

    def sign(self, value: str, bound_to: str) -> str:
        """`value` with a MAC that ties it to `bound_to` (a link token)."""
        return f"{value}~{self._active}.{self._mac(self._active, 'field', bound_to, value)}"

    def unsign(self, signed: str | None, bound_to: str) -> str:
        value, _, signature = (signed or "").rpartition("~")
        kid, _, mac = signature.partition(".")
        if kid not in self._keys or not _same(mac, self._mac(kid, "field", bound_to, value)):
            raise FormRejectedError("a signed form field was altered")
        return value

    def _mac(self, kid: str, *parts: str) -> str:
        message = "\x1f".join(parts).encode()
        digest = hmac.new(self._keys[kid], message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _same(given: str, expected: str) -> bool:
    """A constant-time comparison that any text a caller sends can go through (as
    bytes: `hmac.compare_digest` refuses text that is not ASCII)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode())
