"""/v1/addresses and /v1/outages: the quarantine, denylist and allowlist, and the errors
the outage guard holds."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from consent.api import (
    Cursor,
    IdempotencyKey,
    Limit,
    answers,
    dependencies,
    etag,
    not_found,
    operator_identity,
)
from consent.logic import addresses
from consent.logic.addresses import DecideOutage, ReleaseAddresses, SetAddressStatus
from consent.schemas.addresses import (
    AddressesOut,
    AddressHistoryOut,
    AddressStatusIn,
    AddressWithHistoryOut,
    BulkReleaseIn,
    BulkReleaseOut,
    OutageDecisionIn,
    OutageDecisionOut,
    OutageOut,
    OutagesOut,
)
from consent.schemas.fields import MAX_REASON
from consentry.addresses.events import Decision
from consentry.addresses.status import AddressStatus
from consentry.core.types import Address, Channel

router = APIGatewayRouter()
ListedStatus = Literal["erroneous", "quarantine", "denylisted", "allowlisted"]
"""The statuses of the sparse by-status index: a valid address is read by address."""
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
    responses=answers(AddressesOut),
)
def list_addresses(
    status: Annotated[
        ListedStatus, Query(description="Addresses that are not plainly valid, by status")
    ],
    *,
    channel: Annotated[Channel, Query()] = Channel.EMAIL,
    reason: Annotated[str | None, Query(min_length=1, max_length=MAX_REASON)] = None,
    domain: Annotated[str | None, Query(min_length=1, max_length=253)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> AddressesOut:
    wired = dependencies(router)
    return addresses.list_addresses(
        channel,
        AddressStatus(status),
        reason=reason,
        domain=domain.strip().lower() if domain else None,
        limit=limit,
        cursor=cursor,
        now=wired.clock(),
        policy=wired.quarantine_policy,
    )


@router.post(
    "/v1/addresses/release",
    summary="Release delivery errors in bulk (by status, reason, domain, time window)",
    tags=["addresses"],
    responses=answers(BulkReleaseOut),
)
def release_addresses(
    body: BulkReleaseIn, idempotency_key: IdempotencyKey = None
) -> BulkReleaseOut:
    return addresses.release(
        command=ReleaseAddresses(
            actor=operator_identity(router.current_event),
            idempotency_key=idempotency_key,
            body=body,
        ),
        clock=dependencies(router).clock,
    )


@router.get(
    "/v1/addresses/<channel>/<address>",
    summary="An address: status, reason, counters and latest history",
    tags=["addresses"],
    responses=answers(AddressWithHistoryOut, errors=NO_ADDRESS),
)
def get_address(channel: ChannelPath, address: AddressPath) -> Response[AddressWithHistoryOut]:
    wired = dependencies(router)
    found = addresses.get(
        channel, _address(channel, address), now=wired.clock(), policy=wired.quarantine_policy
    )
    return Response(200, "application/json", found, headers=etag(found.version))


@router.get(
    "/v1/addresses/<channel>/<address>/history",
    summary="An address's history, newest first",
    tags=["addresses"],
    responses=answers(AddressHistoryOut, errors=NO_ADDRESS),
)
def get_address_history(
    channel: ChannelPath, address: AddressPath, limit: Limit = 50, cursor: Cursor = None
) -> AddressHistoryOut:
    return addresses.history(channel, _address(channel, address), limit, cursor)


@router.put(
    "/v1/addresses/<channel>/<address>",
    summary="Set an address's status (valid releases it); a reason is required",
    tags=["addresses"],
    responses=answers(AddressWithHistoryOut),
)
def put_address(
    channel: ChannelPath,
    address: AddressPath,
    body: AddressStatusIn,
    idempotency_key: IdempotencyKey = None,
) -> Response[AddressWithHistoryOut]:
    updated = addresses.set_status(
        command=SetAddressStatus(
            actor=operator_identity(router.current_event),
            idempotency_key=idempotency_key,
            channel=channel,
            address=_address(channel, address),
            body=body,
        ),
        clock=dependencies(router).clock,
    )
    return Response(200, "application/json", updated, headers=etag(updated.version))


@router.get(
    "/v1/outages",
    summary="Domains whose failures the outage guard holds, or held",
    tags=["outages"],
    responses=answers(OutagesOut),
)
def list_outages() -> OutagesOut:
    return addresses.outages(dependencies(router).clock)


@router.get(
    "/v1/outages/<channel>/<domain>",
    summary="One domain's hold and how many errors wait for a decision",
    tags=["outages"],
    responses=answers(OutageOut, errors=NO_OUTAGE),
)
def get_outage(channel: ChannelPath, domain: DomainPath) -> OutageOut:
    return addresses.outage(channel, domain, dependencies(router).clock)


@router.post(
    "/v1/outages/<channel>/<domain>/release",
    summary="Release the held errors (they never count) and end the hold",
    tags=["outages"],
    responses=answers(OutageDecisionOut, errors=NO_OUTAGE),
)
def release_outage(
    channel: ChannelPath,
    domain: DomainPath,
    body: OutageDecisionIn,
    idempotency_key: IdempotencyKey = None,
) -> OutageDecisionOut:
    return _decide(channel, domain, Decision.RELEASED, body, idempotency_key)


@router.post(
    "/v1/outages/<channel>/<domain>/apply",
    summary="Apply the held errors under the counting rules and end the hold",
    tags=["outages"],
    responses=answers(OutageDecisionOut, errors=NO_OUTAGE),
)
def apply_outage(
    channel: ChannelPath,
    domain: DomainPath,
    body: OutageDecisionIn,
    idempotency_key: IdempotencyKey = None,
) -> OutageDecisionOut:
    return _decide(channel, domain, Decision.APPLIED, body, idempotency_key)


def _decide(
    channel: Channel,
    domain: str,
    decision: Decision,
    body: OutageDecisionIn,
    idempotency_key: str | None,
) -> OutageDecisionOut:
    wired = dependencies(router)
    return addresses.decide(
        command=DecideOutage(
            actor=operator_identity(router.current_event),
            idempotency_key=idempotency_key,
            channel=channel,
            domain=domain,
            decision=decision,
            body=body,
        ),
        policy=wired.quarantine_policy,
        clock=wired.clock,
    )


def _address(channel: Channel, raw: str) -> Address:
    settings = dependencies(router).settings
    return addresses.address_of(
        channel, raw, settings.default_phone_region, smtputf8=settings.sender_smtputf8
    )
