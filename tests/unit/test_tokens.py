"""Link tokens: round trips, forgeries, rotation, expiry."""

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer

from consentry.consent.rules import Scope
from consentry.consent.tokens import Keyring, LinkClaims, LinkSigner
from consentry.core.clock import Clock
from consentry.core.errors import TokenError, TokenExpiredError
from consentry.core.types import Channel, DeliveryId, ProfileId

T0 = datetime(2026, 3, 1, tzinfo=UTC)
KEY1, KEY2 = "a" * 40, "b" * 40


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def signer(
    keys: dict[str, str] | None = None,
    active: str = "k1",
    clock: Clock | None = None,
    ttl_days: int = 90,
) -> LinkSigner:
    return LinkSigner(
        Keyring(keys=keys or {"k1": KEY1}, active=active),
        ttl=timedelta(days=ttl_days),
        clock=clock or FakeClock(T0),
    )


profile_ids = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=60
)
scopes = st.one_of(
    st.just(Scope.all()),
    st.sampled_from(list(Channel)).map(Scope.channel),
)


@given(profile_ids, scopes, st.one_of(st.none(), st.text(min_size=1, max_size=30)))
def test_a_signed_link_verifies_to_its_claims(
    profile_id: ProfileId, scope: Scope, delivery_id: DeliveryId | None
) -> None:
    links = signer()
    claims = LinkClaims(profile_id=profile_id, scope=scope, delivery_id=delivery_id)

    verified = links.verify(links.sign(claims))

    assert (verified.profile_id, verified.scope, verified.delivery_id) == (
        profile_id,
        scope,
        delivery_id,
    )
    assert verified.issued_at == T0


def test_any_altered_character_is_refused() -> None:
    links = signer()
    # Signed once, outside the examples: each signature takes a random nonce, and a
    # strategy must not depend on it (hypothesis replays examples to shrink them).
    token = links.sign(LinkClaims(profile_id=ProfileId("p-1"), scope=Scope.all()))

    @given(st.integers(0, len(token) - 1), st.sampled_from("abcXYZ019-_."))
    def altered_is_refused(index: int, replacement: str) -> None:
        assume(replacement != token[index])
        altered = token[:index] + replacement + token[index + 1 :]

        with pytest.raises(TokenError):
            links.verify(altered)

    altered_is_refused()


def test_a_token_signed_with_an_unknown_key_is_refused() -> None:
    forged = signer(keys={"k1": "c" * 40}).sign(
        LinkClaims(profile_id=ProfileId("p"), scope=Scope.all())
    )

    with pytest.raises(TokenError):
        signer().verify(forged)


@pytest.mark.parametrize("token", ["", "k1", "k1.", ".abc", "k9.abc.def", "k1.not-base64!"])
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(TokenError):
        signer().verify(token)


def test_rotation_old_links_verify_while_new_links_use_the_new_key() -> None:
    old = signer(keys={"k1": KEY1}).sign(LinkClaims(profile_id=ProfileId("p"), scope=Scope.all()))
    rotated = signer(keys={"k1": KEY1, "k2": KEY2}, active="k2")

    new = rotated.sign(LinkClaims(profile_id=ProfileId("p"), scope=Scope.all()))

    assert rotated.verify(old).profile_id == "p"
    assert new.startswith("k2.")
    with pytest.raises(TokenError):
        signer(keys={"k2": KEY2}, active="k2").verify(old)


def test_links_expire_after_their_validity_and_not_before() -> None:
    clock = FakeClock(T0)
    links = signer(clock=clock, ttl_days=90)
    token = links.sign(
        LinkClaims(profile_id=ProfileId("p"), scope=Scope.all(), delivery_id=DeliveryId("d"))
    )

    clock.now = T0 + timedelta(days=90)
    assert links.verify(token).delivery_id == "d"
    clock.now = T0 + timedelta(days=90, seconds=1)
    with pytest.raises(TokenExpiredError):
        links.verify(token)


def test_links_from_the_future_are_refused() -> None:
    token = signer(clock=FakeClock(T0 + timedelta(hours=1))).sign(
        LinkClaims(profile_id=ProfileId("p"), scope=Scope.all())
    )

    with pytest.raises(TokenExpiredError):
        signer().verify(token)


def test_a_token_carries_no_address() -> None:
    token = signer().sign(
        LinkClaims(profile_id=ProfileId("p-1"), scope=Scope.channel(Channel.EMAIL))
    )

    assert "@" not in token


@pytest.mark.parametrize(
    "secret",
    [
        {},
        {"active": "k1"},
        {"active": "k2", "k1": KEY1},
        {"active": "k1", "k1": "short"},
        {"active": "k.1", "k.1": KEY1},
    ],
)
def test_an_unusable_keyring_secret_is_refused(secret: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="key"):
        Keyring.from_secret(secret)


def test_a_keyring_secret_is_read() -> None:
    keyring = Keyring.from_secret({"active": "k2", "k1": KEY1, "k2": KEY2})

    assert keyring.active == "k2"
    assert set(keyring.keys) == {"k1", "k2"}


def old_signed_link(payload: object) -> str:
    """A link in the signed form of before sealed links, signed with KEY1."""
    serializer = URLSafeSerializer(
        KEY1, salt="consentry.link.v1", signer_kwargs={"digest_method": hashlib.sha256}
    )
    return f"k1.{serializer.dumps(payload)}"


def test_an_old_signed_link_still_verifies() -> None:
    issued = int(T0.timestamp())
    token = old_signed_link({"p": "p-1", "s": "channel:email", "d": "d-1", "i": issued})

    claims = signer().verify(token)

    assert (claims.profile_id, str(claims.scope), claims.delivery_id) == (
        "p-1",
        "channel:email",
        "d-1",
    )


@pytest.mark.parametrize(
    "payload",
    [
        {"p": 7, "s": "all", "i": 0},
        {"p": None, "s": "all", "i": 0},
        {"p": "p-1", "s": "all", "d": ["d-1"], "i": 0},
        {"p": "p-1", "s": 3, "i": 0},
        {"p": "p-1", "s": "all", "i": "yesterday"},
        {"p": "p-1", "s": "all"},
        ["p-1", "all"],
    ],
)
def test_an_old_signed_link_whose_content_is_not_understood_is_refused(payload: object) -> None:
    with pytest.raises(TokenError, match="not understood"):
        signer().verify(old_signed_link(payload))
