"""/v1/addresses and /v1/outages: the quarantine, denylist and allowlist, and the errors
the outage guard holds."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from consent.api import (
    Cursor,
    IdempotencyKey,
    Limit,
    idempotent_operation,
    not_found,
    respond_once,
)
from consent.logic import addresses
from consent.logic.addresses import (
    AddressesOut,
    AddressHistoryOut,
    AddressOut,
    AddressStatusIn,
    BulkReleaseIn,
    OutageDecisionIn,
    OutageOut,
    OutagesOut,
)
from consentry.addresses.events import Decision
from consentry.addresses.status import AddressStatus
from consentry.core.types import Channel

router = APIGatewayRouter()
NO_ADDRESS = not_found("address")
NO_OUTAGE = not_found("outage")

ChannelPath = Annotated[Channel, Path(description="The address's channel")]
AddressPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=320,
        description="The address (email, or phone number in any form; normalized here)",
    ),
]
DomainPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=253,
        pattern=r"^[^\s#@/]+$",
        description="The recipient domain (email) or number prefix (sms)",
    ),
]


@router.get(
    "/v1/addresses",
    summary="Addresses with a status, optionally of one domain and with one reason",
    tags=["addresses"],
)
def list_addresses(
    status: Annotated[AddressStatus, Query(description="Required: erroneous, quarantine, ...")],
    *,
    channel: Annotated[Channel, Query()] = Channel.EMAIL,
    reason: Annotated[str | None, Query(min_length=1, max_length=500)] = None,
    domain: Annotated[str | None, Query(min_length=1, max_length=253)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> AddressesOut:
    return addresses.list_addresses(
        channel,
        status,
        reason=reason,
        domain=domain.strip().lower() if domain else None,
        limit=limit,
        cursor=cursor,
    )


@router.post(
    "/v1/addresses/release",
    summary="Release delivery errors in bulk (by status, reason, domain, time window)",
    tags=["addresses"],
)
def release_addresses(body: BulkReleaseIn, idempotency_key: IdempotencyKey = None) -> Response[str]:
    return respond_once(
        router.current_event,
        "release_addresses",
        idempotency_key,
        actor=True,
        body=body.model_dump(mode="json", by_alias=True),
    )


@router.get(
    "/v1/addresses/<channel>/<address>",
    summary="An address: status, reason, counters and latest history",
    tags=["addresses"],
    responses=NO_ADDRESS,
)
def get_address(channel: ChannelPath, address: AddressPath) -> AddressOut:
    return addresses.get(channel, address)


@router.get(
    "/v1/addresses/<channel>/<address>/history",
    summary="An address's history, newest first",
    tags=["addresses"],
    responses=NO_ADDRESS,
)
def get_address_history(
    channel: ChannelPath, address: AddressPath, limit: Limit = 50, cursor: Cursor = None
) -> AddressHistoryOut:
    return addresses.history(channel, address, limit, cursor)


@router.put(
    "/v1/addresses/<channel>/<address>",
    summary="Set an address's status (valid releases it); a reason is required",
    tags=["addresses"],
)
def put_address(
    channel: ChannelPath,
    address: AddressPath,
    body: AddressStatusIn,
    idempotency_key: IdempotencyKey = None,
) -> Response[str]:
    return respond_once(
        router.current_event,
        "put_address",
        idempotency_key,
        actor=True,
        channel=channel.value,
        address=address,
        body=body.model_dump(mode="json", by_alias=True),
    )


@router.get(
    "/v1/outages",
    summary="Domains whose failures the outage guard holds, or held",
    tags=["outages"],
)
def list_outages() -> OutagesOut:
    return addresses.outages()


@router.get(
    "/v1/outages/<channel>/<domain>",
    summary="One domain's hold and how many errors wait for a decision",
    tags=["outages"],
    responses=NO_OUTAGE,
)
def get_outage(channel: ChannelPath, domain: DomainPath) -> OutageOut:
    return addresses.outage(channel, domain)


@router.post(
    "/v1/outages/<channel>/<domain>/release",
    summary="Release the held errors (they never count) and end the hold",
    tags=["outages"],
    responses=NO_OUTAGE,
)
def release_outage(
    channel: ChannelPath,
    domain: DomainPath,
    body: OutageDecisionIn,
    idempotency_key: IdempotencyKey = None,
) -> Response[str]:
    return _decide(channel, domain, Decision.RELEASED, body, idempotency_key)


@router.post(
    "/v1/outages/<channel>/<domain>/apply",
    summary="Apply the held errors under the counting rules and end the hold",
    tags=["outages"],
    responses=NO_OUTAGE,
)
def apply_outage(
    channel: ChannelPath,
    domain: DomainPath,
    body: OutageDecisionIn,
    idempotency_key: IdempotencyKey = None,
) -> Response[str]:
    return _decide(channel, domain, Decision.APPLIED, body, idempotency_key)


def _decide(
    channel: Channel,
    domain: str,
    decision: Decision,
    body: OutageDecisionIn,
    idempotency_key: str | None,
) -> Response[str]:
    return respond_once(
        router.current_event,
        "decide_outage",
        idempotency_key,
        actor=True,
        channel=channel.value,
        domain=domain,
        decision=decision.value,
        body=body.model_dump(mode="json", by_alias=True),
    )


@idempotent_operation("put_address")
def _put_address(channel: str, address: str, body: dict[str, Any], actor: str) -> dict[str, Any]:
    return addresses.set_status(
        Channel(channel), address, AddressStatusIn.model_validate(body), actor
    )


@idempotent_operation("release_addresses")
def _release_addresses(body: dict[str, Any], actor: str) -> dict[str, Any]:
    return addresses.release(BulkReleaseIn.model_validate(body), actor)


@idempotent_operation("decide_outage")
def _decide_outage(
    channel: str, domain: str, decision: str, body: dict[str, Any], actor: str
) -> dict[str, Any]:
    return addresses.decide(
        Channel(channel), domain, Decision(decision), OutageDecisionIn.model_validate(body), actor
    )
