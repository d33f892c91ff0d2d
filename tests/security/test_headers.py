"""Pages ask browsers to stay on HTTPS when they were reached over it: on AWS (API Gateway
says so in X-Forwarded-Proto), never on the local stack's plain HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from consentry.consent.rules import Scope
from consentry.consent.tokens import LinkClaims, LinkSigner
from consentry.core.types import ProfileId
from tests.integration.conftest import lambda_context
from tests.security.conftest import proxy_event

HSTS = "Strict-Transport-Security"


def get(path: str, proto: str | None) -> dict[str, Any]:
    from landing.handler import lambda_handler

    headers = {"X-Forwarded-Proto": proto} if proto else {}
    response: dict[str, Any] = lambda_handler(
        proxy_event("GET", path, headers=headers), lambda_context("landing")
    )
    return response


@pytest.mark.parametrize("path", ["/p/{token}", "/u/{token}", "/p/assets/site.css", "/p/nope"])
def test_an_answer_over_https_carries_hsts_and_one_over_http_does_not(
    path: str, signer: LinkSigner
) -> None:
    token = signer.sign(LinkClaims(profile_id=ProfileId("p-1"), scope=Scope.all()))

    secure = get(path.format(token=token), "https")
    plain = get(path.format(token=token), None)

    assert secure["multiValueHeaders"][HSTS] == ["max-age=31536000; includeSubDomains"]
    assert HSTS not in plain["multiValueHeaders"]
