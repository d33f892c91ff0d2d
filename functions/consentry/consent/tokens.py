"""Signed link tokens: who a link is for, what it is about, which delivery carried it.

A token is `<key id>.<itsdangerous timed signature>`. The key id picks the verifying
key, so keys rotate: a new key signs while older ones still verify until they are
removed from the keyring. Tokens carry the profile id, never an address.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.utilities import parameters
from itsdangerous import BadSignature, URLSafeSerializer
from pydantic import BaseModel, ConfigDict

from consentry.consent.rules import Scope
from consentry.core.clock import Clock, utc_now
from consentry.core.errors import InvalidInputError, TokenError, TokenExpiredError
from consentry.core.types import DeliveryId, ProfileId

_SALT = "consentry.link.v1"
_CLOCK_SKEW = timedelta(minutes=5)
"""A token dated this far in the future is still accepted (clocks drift); further is not."""


class LinkClaims(BaseModel):
    """What a link says about its recipient."""

    model_config = ConfigDict(frozen=True)

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
    """Signs and verifies link tokens with a keyring; the clock decides expiry."""

    def __init__(self, keyring: Keyring, *, ttl: timedelta, clock: Clock = utc_now) -> None:
        self._keyring = keyring
        self._ttl = ttl
        self._clock = clock
        self._serializers = {
            kid: URLSafeSerializer(key, salt=_SALT, signer_kwargs={"digest_method": hashlib.sha256})
            for kid, key in keyring.keys.items()
        }

    @property
    def ttl(self) -> timedelta:
        """How long a link stays valid after it is issued."""
        return self._ttl

    def sign(self, claims: LinkClaims) -> str:
        kid = self._keyring.active
        issued = claims.issued_at or self._clock()
        payload: dict[str, str | int] = {
            "p": claims.profile_id,
            "s": str(claims.scope),
            "i": int(issued.timestamp()),
        }
        if claims.delivery_id:
            payload["d"] = claims.delivery_id
        return f"{kid}.{self._serializers[kid].dumps(payload)}"

    def verify(self, token: str) -> LinkClaims:
        """The claims of a good token; TokenError or TokenExpiredError otherwise."""
        kid, dot, signed = token.partition(".")
        serializer = self._serializers.get(kid) if dot else None
        if serializer is None:
            raise TokenError("the link is not signed by a known key")
        try:
            payload = serializer.loads(signed)
        except BadSignature as error:
            raise TokenError("the link's signature does not match") from error
        try:
            claims = LinkClaims(
                profile_id=payload["p"],
                scope=Scope.parse(payload["s"]),
                delivery_id=payload.get("d"),
                issued_at=datetime.fromtimestamp(payload["i"], UTC),
            )
        except (KeyError, TypeError, ValueError, OverflowError, InvalidInputError) as error:
            raise TokenError("the link's content is not understood") from error
        age = self._clock() - claims.issued_at  # type: ignore[operator]  # set just above
        if age > self._ttl or age < -_CLOCK_SKEW:
            raise TokenExpiredError("the link has expired")
        return claims


def load_keyring(signing_keys_secret: str, *, max_age_s: int) -> Keyring:
    """The deployment's keyring, fetched through Powertools parameters (cached)."""
    secret = parameters.get_secret(signing_keys_secret, transform="json", max_age=max_age_s)
    return Keyring.from_secret(secret)


def load_signer(signing_keys_secret: str, *, ttl_days: int, max_age_s: int) -> LinkSigner:
    """The signer for the deployment's keyring."""
    keyring = load_keyring(signing_keys_secret, max_age_s=max_age_s)
    return LinkSigner(keyring, ttl=timedelta(days=ttl_days))
