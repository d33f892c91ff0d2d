"""Steps several integration tests take."""

from consentry.consent.rules import Scope
from consentry.consent.tokens import LinkClaims
from consentry.core.types import ProfileId


def one_click(landing, signer, profile_id, scope=None):
    token = signer.sign(LinkClaims(profile_id=ProfileId(profile_id), scope=scope or Scope.all()))
    response = landing("one_click_post", token=token)
    assert response["statusCode"] == 200
    return response
