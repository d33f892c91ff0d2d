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
"""

from __future__ import annotations

import re

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import ValidationError

from consent.api import received_at
from consent.logic import profiles
from consent.logic.profiles import ChangeConsent
from consent.schemas import ConsentPatch
from consentry.addresses.normalize import normalize
from consentry.core.errors import InvalidInputError, NotFoundError
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
    everything = profiles.export(profile_id, wiring.clock, wiring.quarantine_policy)
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
