"""Steps several integration tests take."""

from typing import Any, TypeVar

from consentry.consent.rules import Scope
from consentry.consent.tokens import LinkClaims, LinkSigner
from consentry.core.types import ProfileId
from tests.integration.conftest import LandingCall

T = TypeVar("T")


def present(value: T | None) -> T:
    """`value`, which the test expects to exist: None fails the test."""
    assert value is not None
    return value


def one_click(
    landing: LandingCall, signer: LinkSigner, profile_id: str, scope: Scope | None = None
) -> dict[str, Any]:
    token = signer.sign(LinkClaims(profile_id=ProfileId(profile_id), scope=scope or Scope.all()))
    response = landing("one_click_post", token=token)
    assert response["statusCode"] == 200
    return response
