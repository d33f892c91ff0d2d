"""Link tokens: who a link is for, what it is about, which delivery carried it, sealed.

A token is `<key id>.<base64url of nonce, ciphertext and tag>`: the claims encrypted
and authenticated with AES-256-GCM (the key id is authenticated too), so that a URL
discloses nothing about its recipient (profile ids may be e-mail addresses or CRM
keys) and cannot be altered. The key id picks the key, so keys rotate: a new key seals
while older ones still open until they are removed from the keyring. The AES key of a
keyring entry is derived from it (HMAC-SHA256), apart from the keys its other uses
derive.

Tokens minted before sealing (`<key id>.<itsdangerous signed JSON>`, readable) are
still verified until their validity ends; none is minted any more.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from consentry.consent.rules import Scope
from consentry.core.clock import Clock, utc_now
from consentry.core.errors import InvalidInputError, TokenError, TokenExpiredError
from consentry.core.types import DeliveryId, ProfileId, ScopeKind

_SALT = "consentry.link.v1"
"""The signed (readable) tokens of before."""
_SEAL_PURPOSE = b"consentry.link.v2"
_NONCE = 12
_TAG = 16
_ISSUED = struct.Struct(">I")
_LENGTH = struct.Struct(">B")
_CLOCK_SKEW = timedelta(minutes=5)
"""A token dated this far in the future is still accepted (clocks drift); further is not."""


@dataclass(frozen=True, kw_only=True)
class LinkClaims:
    """What a link says about its recipient (read from a token only once its signature
    or seal holds)."""

    profile_id: ProfileId
    scope: Scope
    delivery_id: DeliveryId | None = None
    issued_at: datetime | None = None
    """When the link was minted; signing without it uses the signer's clock."""


@dataclass(frozen=True)
class Keyring:
    """The signing keys by id, and the id of the one that signs new links."""

    keys: dict[str, str]
    active: str

    @classmethod
    def from_secret(cls, secret: dict[str, Any]) -> Keyring:
        """Read the secret's JSON: `{"active": "<id>", "<id>": "<key>", ...}`."""
        active = secret.get("active")
        keys = {kid: value for kid, value in secret.items() if kid != "active"}
        if not isinstance(active, str) or active not in keys:
            raise ValueError("the signing-key secret names no active key it holds")
        for kid, value in keys.items():
            if not isinstance(value, str) or len(value) < 32 or "." in kid:
                raise ValueError(f"signing key {kid!r} is not a usable key")
        return cls(keys=keys, active=active)


class LinkSigner:
    """Seals and opens link tokens with a keyring; the clock decides expiry."""

    def __init__(self, keyring: Keyring, *, ttl: timedelta, clock: Clock = utc_now) -> None:
        self._keyring = keyring
        self._ttl = ttl
        self._clock = clock

    @property
    def ttl(self) -> timedelta:
        """How long a link stays valid after it is issued."""
        return self._ttl

    def sign(self, claims: LinkClaims) -> str:
        """The sealed token of `claims`."""
        kid = self._keyring.active
        issued = claims.issued_at or self._clock()
        fields = (_scope_text(claims.scope), claims.delivery_id or "", claims.profile_id)
        payload = _ISSUED.pack(int(issued.timestamp())) + b"".join(map(_field, fields))
        nonce = os.urandom(_NONCE)
        sealed = self._cipher(kid).encrypt(nonce, payload, kid.encode())
        return f"{kid}.{base64.urlsafe_b64encode(nonce + sealed).rstrip(b'=').decode()}"

    def verify(self, token: str) -> LinkClaims:
        """The claims of a good token; TokenError or TokenExpiredError otherwise."""
        kid, dot, rest = token.partition(".")
        if not dot or kid not in self._keyring.keys:
            raise TokenError("the link is not signed by a known key")
        claims = self._signed(kid, rest) if "." in rest else self._opened(kid, rest)
        age = self._clock() - claims.issued_at  # type: ignore[operator]  # set by both readers
        if age > self._ttl or age < -_CLOCK_SKEW:
            raise TokenExpiredError("the link has expired")
        return claims

    def _opened(self, kid: str, sealed: str) -> LinkClaims:
        from cryptography.exceptions import InvalidTag  # noqa: PLC0415 (with the cipher)

        try:
            raw = base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))
        except (binascii.Error, ValueError) as error:
            raise TokenError("the link is not understood") from error
        if len(raw) < _NONCE + _TAG + _ISSUED.size:
            raise TokenError("the link is not understood")
        try:
            payload = self._cipher(kid).decrypt(raw[:_NONCE], raw[_NONCE:], kid.encode())
        except InvalidTag as error:
            raise TokenError("the link's seal does not match") from error
        try:
            (issued,) = _ISSUED.unpack_from(payload)
            scope, delivery, profile = _fields(payload[_ISSUED.size :], 3)
            return LinkClaims(
                profile_id=ProfileId(profile),
                scope=_scope_of(scope),
                delivery_id=DeliveryId(delivery) if delivery else None,
                issued_at=datetime.fromtimestamp(issued, UTC),
            )
        except (struct.error, ValueError, InvalidInputError) as error:
            raise TokenError("the link's content is not understood") from error

    def _signed(self, kid: str, signed: str) -> LinkClaims:
        """A token minted before sealing: itsdangerous's signed JSON."""
        from itsdangerous import BadSignature, URLSafeSerializer  # noqa: PLC0415 (old links only)

        serializer = URLSafeSerializer(
            self._keyring.keys[kid], salt=_SALT, signer_kwargs={"digest_method": hashlib.sha256}
        )
        try:
            payload = serializer.loads(signed)
        except BadSignature as error:
            raise TokenError("the link's signature does not match") from error
        try:
            profile, scope, delivery = payload["p"], payload["s"], payload.get("d")
            texts = (profile, scope) if delivery is None else (profile, scope, delivery)
            if not all(isinstance(text, str) for text in texts):
                raise TypeError("a profile, scope or delivery id that is not text")
            return LinkClaims(
                profile_id=ProfileId(profile),
                scope=Scope.parse(scope),
                delivery_id=DeliveryId(delivery) if delivery is not None else None,
                issued_at=datetime.fromtimestamp(payload["i"], UTC),
            )
        except (KeyError, TypeError, ValueError, OverflowError, InvalidInputError) as error:
            raise TokenError("the link's content is not understood") from error

    def _cipher(self, kid: str) -> Any:
        return self._ciphers[kid]

    @cached_property
    def _ciphers(self) -> dict[str, Any]:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: PLC0415 (first use)

        return {
            kid: AESGCM(hmac.new(key.encode(), _SEAL_PURPOSE, hashlib.sha256).digest())
            for kid, key in self._keyring.keys.items()
        }


_SCOPE_KINDS = {ScopeKind.ALL: "a", ScopeKind.CHANNEL: "c", ScopeKind.SERVICE: "s"}


def _scope_text(scope: Scope) -> str:
    """A scope in as few bytes as it takes: its kind's letter, then its value."""
    return _SCOPE_KINDS[scope.kind] + (scope.value or "")


def _scope_of(text: str) -> Scope:
    kind = next((kind for kind, letter in _SCOPE_KINDS.items() if letter == text[:1]), None)
    if kind is None:
        raise ValueError("an unknown scope")
    return Scope.parse(f"{kind.value}:{text[1:]}" if kind is not ScopeKind.ALL else kind.value)


def _field(text: str) -> bytes:
    data = text.encode()
    if len(data) > 255:
        raise InvalidInputError("link", "a link's profile, delivery or scope is too long")
    return _LENGTH.pack(len(data)) + data


def _fields(data: bytes, count: int) -> list[str]:
    """`count` length-prefixed UTF-8 fields that make up all of `data`."""
    fields, offset = [], 0
    for _ in range(count):
        (length,) = _LENGTH.unpack_from(data, offset)
        offset += _LENGTH.size
        if offset + length > len(data):
            raise ValueError("a field runs past the end")
        fields.append(data[offset : offset + length].decode())
        offset += length
    if offset != len(data):
        raise ValueError("bytes after the last field")
    return fields


def load_keyring(signing_keys_secret: str, *, max_age_s: int) -> Keyring:
    """The deployment's keyring, fetched through Powertools parameters (cached)."""
    # Imported here: Powertools parameters import boto3, needed only by link requests.
    from aws_lambda_powertools.utilities import parameters  # noqa: PLC0415

    secret = parameters.get_secret(signing_keys_secret, transform="json", max_age=max_age_s)
    return Keyring.from_secret(secret)


def load_signer(signing_keys_secret: str, *, ttl_days: int, max_age_s: int) -> LinkSigner:
    """The signer for the deployment's keyring."""
    keyring = load_keyring(signing_keys_secret, max_age_s=max_age_s)
    return LinkSigner(keyring, ttl=timedelta(days=ttl_days))
