"""/v1/profiles: registration, consent, history and its verification, export."""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from consent.api import (
    JSON,
    PRECONDITION_FAILED,
    Cursor,
    IdempotencyKey,
    IfMatch,
    Limit,
    ProfileIdPath,
    answers,
    dependencies,
    etag,
    expected_version,
    not_found,
    operator_identity,
    received_at,
)
from consent.logic import profiles
from consent.logic.profiles import ChangeConsent, SaveProfile
from consent.schemas.erasure import ErasedSuppressionOut, ErasureIn, ErasureOut, LiftErasedIn
from consent.schemas.profiles import (
    ConsentChangeOut,
    ConsentOut,
    ConsentPatch,
    ExportOut,
    HistoryOut,
    ProfileIn,
    VerifyOut,
)
from consentry.core.types import ProfileId

router = APIGatewayRouter()
NOT_FOUND = not_found("profile")


@router.put(
    "/v1/profiles/<profileId>",
    summary="Register or update a profile's addresses and locale",
    tags=["profiles"],
    responses={
        **answers(ConsentOut, description="The profile was updated"),
        **answers(ConsentOut, status=201, description="The profile was created"),
    },
)
def put_profile(
    profileId: ProfileIdPath, body: ProfileIn, idempotency_key: IdempotencyKey = None
) -> Response[ConsentOut]:
    saved = profiles.save(
        command=SaveProfile(
            actor=operator_identity(router.current_event),
            idempotency_key=idempotency_key,
            profile_id=ProfileId(profileId),
            body=body,
            default_region=dependencies(router).settings.default_phone_region,
            smtputf8=dependencies(router).settings.sender_smtputf8,
        )
    )
    status = HTTPStatus.CREATED if saved.created else HTTPStatus.OK
    answer = ConsentOut.model_validate(saved.model_dump(exclude={"created"}))
    return Response(status.value, JSON, answer, headers=etag(answer.version))


@router.get(
    "/v1/profiles/<profileId>/consent",
    summary="A profile's consent and latest events",
    tags=["profiles"],
    responses=answers(ConsentOut, errors=NOT_FOUND),
)
def get_consent(profileId: ProfileIdPath) -> Response[ConsentOut]:
    consent = profiles.consent_of(ProfileId(profileId))
    return Response(200, JSON, consent, headers=etag(consent.version))


@router.patch(
    "/v1/profiles/<profileId>/consent",
    summary="Change a profile's consent (If-Match: version)",
    tags=["profiles"],
    responses=answers(ConsentChangeOut, errors={**NOT_FOUND, **PRECONDITION_FAILED}),
)
def patch_consent(
    profileId: ProfileIdPath,
    body: ConsentPatch,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response[ConsentChangeOut]:
    consent = profiles.change_consent(
        command=ChangeConsent(
            actor=operator_identity(router.current_event),
            idempotency_key=idempotency_key,
            profile_id=ProfileId(profileId),
            patch=body,
            expected_version=expected_version(if_match),
        ),
        requested_at=received_at(router.current_event),
    )
    return Response(200, JSON, consent, headers=etag(consent.version))


@router.get(
    "/v1/profiles/<profileId>/history",
    summary="The proof of consent, oldest first",
    tags=["profiles"],
    responses=answers(HistoryOut, errors=NOT_FOUND),
)
def get_history(profileId: ProfileIdPath, limit: Limit = 50, cursor: Cursor = None) -> HistoryOut:
    return profiles.history_of(ProfileId(profileId), limit, cursor)


@router.get(
    "/v1/profiles/<profileId>/history/verify",
    summary="Check the hash chain of the history",
    tags=["profiles"],
    responses=answers(VerifyOut, errors=NOT_FOUND),
)
def verify_history(profileId: ProfileIdPath) -> VerifyOut:
    return profiles.verify(ProfileId(profileId))


@router.get(
    "/v1/profiles/<profileId>/export",
    summary="Everything held about a profile",
    tags=["profiles"],
    responses=answers(ExportOut, errors=NOT_FOUND),
)
def export_profile(profileId: ProfileIdPath) -> ExportOut:
    wired = dependencies(router)
    return profiles.export(ProfileId(profileId), wired.clock, wired.quarantine_policy)


@router.delete(
    "/v1/profiles/<profileId>",
    summary="Erase a profile's personal data, keeping what it opted out of",
    tags=["profiles"],
    responses=answers(ErasureOut, description="The profile is erased (now, or before)"),
)
def erase_profile(profileId: ProfileIdPath, body: ErasureIn) -> ErasureOut:
    here = dependencies(router)
    return profiles.erase(
        ProfileId(profileId),
        body.reason,
        actor=operator_identity(router.current_event),
        keyring=here.erasure_keyring(),
        clock=here.clock,
        requested_at=received_at(router.current_event),
    )


@router.post(
    "/v1/erased-addresses/lift",
    summary="Lift what an erased address still stops (the address and a reason)",
    tags=["profiles"],
    responses=answers(
        ErasedSuppressionOut,
        description="The suppression that was lifted",
        errors={404: "The address carries no suppression kept from an erasure"},
    ),
)
def lift_erased(body: LiftErasedIn) -> ErasedSuppressionOut:
    here = dependencies(router)
    return profiles.lift_erased(
        body,
        default_region=here.settings.default_phone_region,
        actor=operator_identity(router.current_event),
        keyring=here.erasure_keyring(),
        clock=here.clock,
    )
