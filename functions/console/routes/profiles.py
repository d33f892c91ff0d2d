"""/console/profiles: a profile's consent and its proof, and the search that finds one.

GET  /console/profiles                      the search forms
GET  /console/profiles?profileId=...        opens that profile
POST /console/search                        by address: normalized, looked up, opened
                                            (a POST, and a sealed reference after it:
                                            the address is never in a URL)
GET  /console/profiles/<profileId>          addresses, consent, subscriptions, history
                                            with the chain's verification
GET  /console/profiles/<profileId>/export   everything held, as JSON (as /v1's export)
POST /console/profiles/<profileId>/consent  operators: change consent, with a reason and
                                            the version the form was rendered at
POST /console/profiles/<profileId>/erase    operators: what an erasure erases and keeps
POST /console/profiles/<profileId>/erase/confirm
                                            operators: erase it (as DELETE /v1/profiles/..),
                                            with a reason
GET  /console/erased-addresses              the form that lifts an erased address's
POST /console/erased-addresses/lift         kept suppression (address and reason in the
                                            body, never in a URL)

An erased profile's page shows its erasure (what, when, by whom) and its proof of
consent, which erasure leaves verifiable.
"""

from __future__ import annotations

import re

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import ValidationError

from consent.api import received_at
from consent.logic import profiles
from consent.logic.profiles import ChangeConsent
from consent.schemas.erasure import ErasureIn, LiftErasedIn
from consent.schemas.profiles import ConsentPatch
from consentry.addresses.normalize import normalize
from consentry.core.errors import GoneError, InvalidInputError, NotFoundError
from consentry.core.types import IDENTIFIER_PATTERN, Channel, ProfileId
from console.pages import CONSOLE
from console.routes import addresses as address_routes
from console.routes.addresses import address_view_path
from console.web import visit

router = APIGatewayRouter()
PROFILES = f"{CONSOLE}/profiles"
SCOPES = ("all", *(channel.value for channel in Channel))
CHOICES = {"opt_out": True, "opt_in": False}
_IDENTIFIER = re.compile(IDENTIFIER_PATTERN)
MAX_ADDRESS = 320
HISTORY_SHOWN = 200


def profile_path(profile_id: str, tail: str = "") -> str:
    return address_routes.profile_path(profile_id) + tail


def profile_id_of(text: str | None) -> ProfileId:
    if not text or len(text) > 128 or not _IDENTIFIER.fullmatch(text):
        raise InvalidInputError("profileId", "not a profile id")
    return ProfileId(text)


def _known(profile_id: str) -> ProfileId:
    """A path's profile id; a path that cannot name a profile names none (404)."""
    if len(profile_id) > 128 or not _IDENTIFIER.fullmatch(profile_id):
        raise NotFoundError("profile", profile_id[:128])
    return ProfileId(profile_id)


@router.get(PROFILES)
def search() -> Response[str]:
    here = visit(router)
    page = here.signed_in()
    wanted = here.event.get_query_string_value("profileId")
    if wanted is None:
        return page.respond("search.html", channels=list(Channel))
    return page.redirect(profile_path(profile_id_of(wanted.strip())))


@router.post(f"{CONSOLE}/search")
def search_address() -> Response[str]:
    here = visit(router)
    page = here.signed_in()
    form = here.posted(page)
    try:
        channel = Channel(form.first("channel") or "")
    except ValueError:
        raise InvalidInputError("channel", "choose a channel") from None
    raw = (form.first("address") or "").strip()
    settings = here.wiring.settings
    address = (
        normalize(channel, raw, settings.default_phone_region, smtputf8=settings.sender_smtputf8)
        if raw and len(raw) <= MAX_ADDRESS
        else None
    )
    if address is None:
        raise InvalidInputError("address", f"not a valid {channel.value} address")
    return page.redirect(address_view_path(here.wiring.references(), channel, address))


@router.get(f"{PROFILES}/<profileId>")
def profile(profileId: str) -> Response[str]:
    here = visit(router)
    page = here.signed_in()
    profile_id = _known(profileId)
    wiring = here.wiring
    try:
        everything = profiles.export(profile_id, wiring.clock, wiring.quarantine_policy)
    except GoneError as gone:
        history = profiles.history_of(profile_id, HISTORY_SHOWN, None, newest_first=True)
        return page.respond(
            "profile_erased.html",
            profile_id=profile_id,
            erasure=gone.erasure,
            chain=profiles.verify(profile_id),
            history=history.items,
            erased=here.event.get_query_string_value("erased") == "1",
        )
    chain = profiles.verify(profile_id)
    references = wiring.references()
    return page.respond(
        "profile.html",
        profile=everything,
        chain=chain,
        history=list(reversed(everything.events))[:HISTORY_SHOWN],
        address_links={
            (a.channel, a.address): address_view_path(references, a.channel, a.address)
            for a in everything.addresses
        },
        scopes=SCOPES,
        profile_url=page.url(profile_path(profile_id)),
        changed=here.event.get_query_string_value("changed") == "1",
    )


@router.get(f"{PROFILES}/<profileId>/export")
def export(profileId: str) -> Response[str]:
    here = visit(router)
    page = here.signed_in()
    profile_id = _known(profileId)
    everything = profiles.export(profile_id, here.wiring.clock, here.wiring.quarantine_policy)
    return page.download(
        everything.model_dump_json(by_alias=True, indent=2),
        "application/json",
        f"profile-{profile_id}.json" if len(profile_id) <= 64 else "profile.json",
    )


@router.post(f"{PROFILES}/<profileId>/consent")
def change_consent(profileId: str) -> Response[str]:
    here = visit(router)
    page, form = here.change()
    profile_id = _known(profileId)
    scope = form.first("scope") or ""
    if scope not in SCOPES:
        raise InvalidInputError("scope", "choose all channels or one channel")
    choice = form.first("choice") or ""
    if choice not in CHOICES:
        raise InvalidInputError("choice", "choose to stop or to allow contact")
    version_text = form.first("version") or ""
    if not (version_text.isascii() and version_text.isdigit() and len(version_text) <= 15):
        raise InvalidInputError("version", "the form names no version of the profile")
    try:
        patch = ConsentPatch.model_validate(
            {
                "noLongerContact": {scope: CHOICES[choice]},
                "reason": form.first("reason") or "",
                "source": "operator",
            }
        )
    except ValidationError:
        raise InvalidInputError("reason", "say why (up to 500 characters)") from None
    session = page.session
    if session is None:  # here.change() makes sure there is one
        raise InvalidInputError("session", "sign in again")
    profiles.change_consent(
        command=ChangeConsent(
            actor=session.actor,
            profile_id=profile_id,
            patch=patch,
            expected_version=int(version_text),
        ),
        requested_at=received_at(here.event),
    )
    return page.redirect(profile_path(profile_id, "?changed=1"))


@router.post(f"{PROFILES}/<profileId>/erase")
def erase_confirmation(profileId: str) -> Response[str]:
    here = visit(router)
    page, _ = here.change()
    profile_id = _known(profileId)
    everything = profiles.export(profile_id, here.wiring.clock, here.wiring.quarantine_policy)
    return page.respond("erase.html", profile=everything, profile_id=profile_id)


@router.post(f"{PROFILES}/<profileId>/erase/confirm")
def erase(profileId: str) -> Response[str]:
    here = visit(router)
    page, form = here.change()
    profile_id = _known(profileId)
    try:
        body = ErasureIn.model_validate({"reason": form.first("reason") or ""})
    except ValidationError:
        raise InvalidInputError("reason", "say why (up to 500 characters)") from None
    session = page.session
    if session is None:  # here.change() makes sure there is one
        raise InvalidInputError("session", "sign in again")
    profiles.erase(
        profile_id,
        body.reason,
        actor=session.actor,
        keyring=here.wiring.erasure_keyring(),
        clock=here.wiring.clock,
        requested_at=received_at(here.event),
    )
    return page.redirect(profile_path(profile_id, "?erased=1"))


@router.get(f"{CONSOLE}/erased-addresses")
def lift_form() -> Response[str]:
    here = visit(router)
    page = here.signed_in()
    return page.respond("lift.html", channels=list(Channel), lifted=None)


@router.post(f"{CONSOLE}/erased-addresses/lift")
def lift() -> Response[str]:
    here = visit(router)
    page, form = here.change()
    try:
        body = LiftErasedIn.model_validate(
            {
                "channel": form.first("channel") or "",
                "address": (form.first("address") or "").strip(),
                "reason": form.first("reason") or "",
            }
        )
    except ValidationError as invalid:
        field = str(invalid.errors()[0]["loc"][0]) if invalid.errors() else "form"
        raise InvalidInputError(field, "check the channel, the address and the reason") from None
    session = page.session
    if session is None:  # here.change() makes sure there is one
        raise InvalidInputError("session", "sign in again")
    lifted = profiles.lift_erased(
        body,
        default_region=here.wiring.settings.default_phone_region,
        actor=session.actor,
        keyring=here.wiring.erasure_keyring(),
        clock=here.wiring.clock,
    )
    return page.respond("lift.html", channels=list(Channel), lifted=lifted)
