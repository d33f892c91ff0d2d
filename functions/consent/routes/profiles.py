"""/v1/profiles: registration, consent, history and its verification, export."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from consent.api import (
    Cursor,
    IdempotencyKey,
    IfMatch,
    Limit,
    ProfileIdPath,
    etag,
    expected_version,
    idempotent_operation,
    not_found,
    respond_once,
)
from consent.logic import profiles
from consent.schemas import ConsentOut, ConsentPatch, ExportOut, HistoryOut, ProfileIn, VerifyOut
from consentry.core.types import ProfileId

router = APIGatewayRouter()
NOT_FOUND = not_found("profile")


@router.put(
    "/v1/profiles/<profileId>",
    summary="Register or update a profile's addresses and locale",
    tags=["profiles"],
)
def put_profile(
    profileId: ProfileIdPath,
    body: ProfileIn,
    idempotency_key: IdempotencyKey = None,
) -> Response[str]:
    return respond_once(
        router.current_event,
        "put_profile",
        idempotency_key,
        profile_id=profileId,
        body=body.model_dump(mode="json"),
    )


@router.get(
    "/v1/profiles/<profileId>/consent",
    summary="A profile's consent and latest events",
    tags=["profiles"],
    responses=NOT_FOUND,
)
def get_consent(profileId: ProfileIdPath) -> Response[ConsentOut]:
    consent = profiles.consent_of(ProfileId(profileId))
    return Response(200, "application/json", consent, headers=etag(consent.version))


@router.patch(
    "/v1/profiles/<profileId>/consent",
    summary="Change a profile's consent (If-Match: version)",
    tags=["profiles"],
)
def patch_consent(
    profileId: ProfileIdPath,
    body: ConsentPatch,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response[str]:
    return respond_once(
        router.current_event,
        "patch_consent",
        idempotency_key,
        actor=True,
        profile_id=profileId,
        patch=body.model_dump(mode="json", by_alias=True),
        version=expected_version(if_match),
    )


@router.get(
    "/v1/profiles/<profileId>/history",
    summary="The proof of consent, oldest first",
    tags=["profiles"],
    responses=NOT_FOUND,
)
def get_history(profileId: ProfileIdPath, limit: Limit = 50, cursor: Cursor = None) -> HistoryOut:
    return profiles.history_of(ProfileId(profileId), limit, cursor)


@router.get(
    "/v1/profiles/<profileId>/history/verify",
    summary="Check the hash chain of the history",
    tags=["profiles"],
    responses=NOT_FOUND,
)
def verify_history(profileId: ProfileIdPath) -> VerifyOut:
    return profiles.verify(ProfileId(profileId))


@router.get(
    "/v1/profiles/<profileId>/export",
    summary="Everything held about a profile",
    tags=["profiles"],
    responses=NOT_FOUND,
)
def export_profile(profileId: ProfileIdPath) -> ExportOut:
    return profiles.export(ProfileId(profileId))


@idempotent_operation("put_profile")
def _put_profile(profile_id: str, body: dict[str, Any]) -> dict[str, Any]:
    return profiles.register(ProfileId(profile_id), ProfileIn.model_validate(body))


@idempotent_operation("patch_consent")
def _patch_consent(
    profile_id: str, patch: dict[str, Any], actor: str, version: int | None
) -> dict[str, Any]:
    return profiles.change_consent(
        ProfileId(profile_id), ConsentPatch.model_validate(patch), actor, version
    )
