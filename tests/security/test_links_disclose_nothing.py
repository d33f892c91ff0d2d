"""A link's URL says nothing about its recipient, and cannot be altered or replayed
under another key (issue: links disclose nothing)."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer

from consentry.consent.rules import Scope
from consentry.consent.tokens import Keyring, LinkClaims, LinkSigner
from consentry.core.errors import TokenError
from consentry.core.types import Channel, DeliveryId, ProfileId

T0 = datetime(2026, 3, 1, tzinfo=UTC)
KEY = "k" * 40
SMS_LINK_BUDGET = 120
"""Characters of a token that an SMS link can afford (see docs/decisions.md)."""


def signer(keys: dict[str, str] | None = None, active: str = "k1") -> LinkSigner:
    return LinkSigner(
        Keyring(keys=keys or {"k1": KEY}, active=active),
        ttl=timedelta(days=90),
        clock=lambda: T0,
    )


def decoded(token: str) -> bytes:
    blob = token.partition(".")[2]
    return base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4))


@given(
    st.from_regex(r"[A-Za-z0-9._:@+\-]{1,128}", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9._:@+\-]{1,64}", fullmatch=True),
)
def test_neither_the_profile_id_nor_the_delivery_can_be_read_from_a_token(
    profile_id: str, delivery_id: str
) -> None:
    token = signer().sign(
        LinkClaims(
            profile_id=ProfileId(profile_id),
            scope=Scope.channel(Channel.EMAIL),
            delivery_id=DeliveryId(delivery_id),
        )
    )

    for secret in (profile_id, delivery_id, "email"):
        if len(secret) >= 4:
            assert secret not in token
            assert secret.encode() not in decoded(token)


def test_an_e_mail_address_as_profile_id_is_not_in_the_url() -> None:
    token = signer().sign(
        LinkClaims(profile_id=ProfileId("jane.doe@example.com"), scope=Scope.all())
    )

    assert "@" not in token
    assert b"jane" not in decoded(token)


def test_the_same_claims_sealed_twice_give_two_tokens() -> None:
    claims = LinkClaims(profile_id=ProfileId("p-1"), scope=Scope.all(), issued_at=T0)

    first, second = signer().sign(claims), signer().sign(claims)

    assert first != second
    assert signer().verify(first) == signer().verify(second)


def test_a_token_sealed_for_one_key_id_does_not_open_under_another() -> None:
    both = {"k1": KEY, "k2": KEY}
    token = signer(both, active="k1").sign(LinkClaims(profile_id=ProfileId("p"), scope=Scope.all()))

    with pytest.raises(TokenError):
        signer(both).verify("k2." + token.partition(".")[2])


def test_a_token_stays_short_enough_for_an_sms_link() -> None:
    token = signer().sign(
        LinkClaims(
            profile_id=ProfileId("crm-0012345678"),
            scope=Scope.service("svc-0123456789ab"),
            delivery_id=DeliveryId("delivery-2026-12-02"),
        )
    )

    assert len(token) <= SMS_LINK_BUDGET


def test_a_signed_link_minted_before_sealing_still_verifies() -> None:
    legacy = URLSafeSerializer(
        KEY, salt="consentry.link.v1", signer_kwargs={"digest_method": hashlib.sha256}
    ).dumps({"p": "p-legacy", "s": "all", "i": int(T0.timestamp())})

    claims = signer().verify(f"k1.{legacy}")

    assert (claims.profile_id, claims.scope) == ("p-legacy", Scope.all())
