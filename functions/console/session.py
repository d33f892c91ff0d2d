"""Who is signed in to the console, and what their browser carries to prove it.

A session is a cookie: the username, the role read from the user pool's groups at
sign-in, when it was issued and a random id, signed with itsdangerous under the
console's keyring (the newest key signs, older ones still verify, so keys rotate). It
is HttpOnly, Secure, SameSite=Strict, limited to the console's path, and expires
after `console_session_hours`, checked against the injected clock.

Every form that changes something carries a CSRF token: an HMAC of the session's id
under a key derived from the same keyring. The sign-in form, which has no session
yet, is bound the same way to a random id in a short-lived cookie of its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from aws_lambda_powertools.shared.cookies import Cookie, SameSite

from consentry.consent.tokens import Keyring
from consentry.core.clock import Clock, utc_now
from consentry.core.errors import ConsentryError

SESSION_COOKIE = "consentry_console"
SIGN_IN_COOKIE = "consentry_console_sign_in"
SIGN_IN_MAX_AGE = timedelta(minutes=30)
"""How long a sign-in form waits for its submission."""
_SALT = "consentry.console.session.v1"
_CSRF_PURPOSE = b"consentry.console.csrf.v1"
_CLOCK_SKEW = timedelta(minutes=5)
MAX_COOKIE = 4096


class Role(StrEnum):
    OPERATOR = "operator"
    """May change consent and addresses."""
    VIEWER = "viewer"
    """May look at everything, change nothing."""


ROLE_OF_GROUP = {"operators": Role.OPERATOR, "viewers": Role.VIEWER}


def role_of(groups: list[str]) -> Role | None:
    """The strongest role the user's groups give; None when they give none."""
    roles = {ROLE_OF_GROUP[group] for group in groups if group in ROLE_OF_GROUP}
    if Role.OPERATOR in roles:
        return Role.OPERATOR
    return Role.VIEWER if roles else None


class NotSignedInError(ConsentryError):
    """No session, or one that is expired, altered or signed by a removed key."""


class ForbiddenError(ConsentryError):
    """A viewer asked for a change: refused, nothing changed."""


class CsrfError(ConsentryError):
    """A form without this session's (or this sign-in's) CSRF token."""


@dataclass(frozen=True)
class Session:
    username: str
    role: Role
    issued_at: datetime
    session_id: str

    @property
    def actor(self) -> str:
        """How the proof of consent names a change made in the console."""
        return f"console:{self.username}"

    @property
    def may_change(self) -> bool:
        return self.role is Role.OPERATOR


class SessionKeys:
    """Signs and opens session cookies, and issues and checks CSRF tokens."""

    def __init__(self, keyring: Keyring, *, lifetime: timedelta, clock: Clock = utc_now) -> None:
        # itsdangerous signs with the last key and verifies with any: the active one last.
        ordered = [key for kid, key in keyring.keys.items() if kid != keyring.active]
        self._keys = [*ordered, keyring.keys[keyring.active]]
        self._csrf_keys = [
            hmac.new(key.encode(), _CSRF_PURPOSE, hashlib.sha256).digest() for key in self._keys
        ]
        self.lifetime = lifetime
        self._clock = clock

    def _serializer(self) -> Any:
        from itsdangerous import URLSafeSerializer  # noqa: PLC0415 (signed-in requests only)

        return URLSafeSerializer(
            self._keys, salt=_SALT, signer_kwargs={"digest_method": hashlib.sha256}
        )

    def issue(self, username: str, role: Role) -> tuple[Session, str]:
        """A new session and its cookie value."""
        session = Session(
            username=username,
            role=role,
            issued_at=self._clock().replace(microsecond=0),
            session_id=secrets.token_urlsafe(16),
        )
        payload = {
            "u": username,
            "r": role.value,
            "i": int(session.issued_at.timestamp()),
            "n": session.session_id,
        }
        return session, str(self._serializer().dumps(payload))

    def open(self, cookie: str | None) -> Session:
        """The session a cookie holds; NotSignedInError for none, a forged or an expired one."""
        from itsdangerous import BadSignature  # noqa: PLC0415 (with the serializer)

        if not cookie or len(cookie) > MAX_COOKIE:
            raise NotSignedInError("no session")
        try:
            payload = self._serializer().loads(cookie)
            session = Session(
                username=str(payload["u"]),
                role=Role(payload["r"]),
                issued_at=datetime.fromtimestamp(int(payload["i"]), UTC),
                session_id=str(payload["n"]),
            )
        except (BadSignature, KeyError, TypeError, ValueError, OverflowError):
            raise NotSignedInError("the session cookie is not one this console signed") from None
        age = self._clock() - session.issued_at
        if age > self.lifetime or age < -_CLOCK_SKEW:
            raise NotSignedInError("the session has expired")
        return session

    def csrf_token(self, bound_to: str) -> str:
        return self._mac(self._csrf_keys[-1], bound_to)

    def check_csrf(self, token: str | None, bound_to: str) -> None:
        given = (token or "").encode("utf-8", "surrogatepass")
        if not bound_to or not any(
            hmac.compare_digest(given, self._mac(key, bound_to).encode()) for key in self._csrf_keys
        ):
            raise CsrfError("the form's CSRF token is not this session's")

    def sign_in_binding(self) -> tuple[str, str]:
        """A fresh sign-in form's binding: (cookie value, CSRF token)."""
        nonce = secrets.token_urlsafe(16)
        issued = int(self._clock().timestamp())
        value = f"{issued}.{nonce}"
        return value, self.csrf_token("sign-in:" + value)

    def check_sign_in(self, cookie: str | None, token: str | None) -> None:
        """The sign-in form's token must match the cookie set with the form, which must
        be recent."""
        issued_text, _, nonce = (cookie or "").partition(".")
        if not (issued_text.isascii() and issued_text.isdigit() and len(issued_text) <= 12):
            raise CsrfError("the sign-in form was not rendered by this console")
        self.check_csrf(token, "sign-in:" + (cookie or ""))
        age = self._clock() - datetime.fromtimestamp(int(issued_text), UTC)
        if age > SIGN_IN_MAX_AGE or age < -_CLOCK_SKEW or not nonce:
            raise CsrfError("the sign-in form is too old")

    @staticmethod
    def _mac(key: bytes, bound_to: str) -> str:
        digest = hmac.new(key, bound_to.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def cookie(name: str, value: str, *, path: str, max_age: timedelta) -> Cookie:
    """HttpOnly, Secure, SameSite=Strict, for the console's path only; an empty value
    with no age removes the cookie."""
    return Cookie(
        name,
        value,
        path=path,
        secure=True,
        http_only=True,
        max_age=max(int(max_age.total_seconds()), 0),
        same_site=SameSite.STRICT_MODE,
    )


def cookies_of(header_values: list[str]) -> dict[str, str]:
    """The request's cookies by name (the first of a name wins); unreadable parts skipped."""
    found: dict[str, str] = {}
    for header in header_values:
        for part in header.split(";"):
            name, sep, value = part.strip().partition("=")
            if sep and name and name not in found:
                found[name] = value.strip()
    return found
