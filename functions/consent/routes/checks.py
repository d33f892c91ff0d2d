"""/v1/checks: verdicts for real-time and transactional sends."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from consent.api import answers, dependencies
from consent.logic import checks
from consent.schemas.checks import ChecksIn, ChecksOut

router = APIGatewayRouter()


@router.post(
    "/v1/checks",
    summary="Allowed or blocked, with the reason, for up to 100 sends",
    tags=["checks"],
    responses=answers(ChecksOut),
)
def post_checks(body: ChecksIn) -> ChecksOut:
    wired = dependencies(router)
    settings = wired.settings
    return checks.check(
        body.items,
        default_region=settings.default_phone_region,
        policy=wired.quarantine_policy,
        clock=wired.clock,
        keyring=wired.erasure_keyring(),
        smtputf8=settings.sender_smtputf8,
        sms_any_number_type=settings.sms_any_number_type,
    )
