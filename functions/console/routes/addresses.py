"""/console/addresses: the quarantine and the denylist, and one address at a time.

    GET  /console/addresses                     a status's addresses (channel, status,
                                                reason, domain), a page at a time
    GET  /console/addresses/csv                 the same list as CSV (every page, up to
                                                CSV_MAX_ROWS)
    GET  /console/addresses/view/<ref>          one address: status, counts, history
    POST /console/addresses/release             operators: the confirmation page
    POST /console/addresses/release/confirm     operators: release it (valid), with a reason
    POST /console/addresses/bulk-release        operators: how many the list's filters
                                                cover (counted as /v1's dry run counts)
    POST /console/addresses/bulk-release/confirm
                                                operators: release them, with a reason

An address travels in URLs only as a sealed reference (console.references), and a
list's cursor too (it holds the last address of its page).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import ValidationError

from consent.logic import addresses
from consent.logic.addresses import ReleaseAddresses, SetAddressStatus
from consent.schemas.addresses import AddressesOut, AddressStatusIn, BulkReleaseIn, ReleaseScope
from consent.schemas.fields import MAX_REASON
from consentry.addresses.status import AddressStatus, owner_origin
from consentry.core.errors import InvalidInputError, NotFoundError
from consentry.core.types import Address, Channel, ProfileId
from console.pages import CONSOLE
from console.references import References
from console.web import Visit, visit

router = APIGatewayRouter()
ADDRESSES = f"{CONSOLE}/addresses"
LISTED = ("quarantine", "denylisted", "erroneous", "allowlisted")
RELEASABLE = ("quarantine", "erroneous")
BULK_PAGE = 500
BULK_MAX = 5000
"""Addresses one confirmed bulk release changes in one request; the rest is offered again."""
PAGE_SIZE = 50
CSV_MAX_ROWS = 10_000
_ADDRESS = "address"
OWNER_PREFIX = owner_origin(ProfileId(""))
"""How a denylisting by a profile's own opt-out names that profile."""
_FORMULA_STARTS = ("=", "@", "-", "\t", "\r")
_CURSOR = "cursor"
FILTER = "filter_"
"""How a form repeats a list's filters (its own `reason` is the change's)."""


def profile_path(profile_id: str) -> str:
    return f"{CONSOLE}/profiles/{quote(profile_id, safe='')}"


def spreadsheet_safe(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (a phone number's + stays)."""
    risky = text.startswith(_FORMULA_STARTS) or (text[:1] == "+" and not text[1:].isdigit())
    return "'" + text if risky else text


def address_view_path(references: References, channel: Channel, address: str) -> str:
    return f"{ADDRESSES}/view/{references.seal(_ADDRESS, f'{channel.value}:{address}')}"


def _address_of(
    references: References, reference: str | None, *, field: str
) -> tuple[Channel, Address]:
    text = references.open(_ADDRESS, reference or "", field=field)
    channel, _, address = text.partition(":")
    return Channel(channel), Address(address)


@dataclass(frozen=True)
class Filters:
    channel: Channel
    status: AddressStatus
    reason: str | None
    domain: str | None

    @classmethod
    def of(cls, here: Visit) -> Filters:
        return cls.read(here.event.get_query_string_value)

    @classmethod
    def read(cls, query: Callable[[str], str | None]) -> Filters:
        """The filters a list's query (or a form that repeats them) names."""
        try:
            channel = Channel(query("channel") or Channel.EMAIL.value)
        except ValueError:
            raise InvalidInputError("channel", "choose a channel") from None
        status_text = query("status") or "quarantine"
        if status_text not in LISTED:
            raise InvalidInputError("status", "choose a listed status")
        reason = (query("reason") or "").strip() or None
        if reason is not None and len(reason) > MAX_REASON:
            raise InvalidInputError("reason", "too long")
        domain = (query("domain") or "").strip().lower() or None
        if domain is not None and (len(domain) > 253 or any(c in domain for c in " #@/")):
            raise InvalidInputError("domain", "not a domain")
        return cls(channel, AddressStatus(status_text), reason, domain)

    def query(self) -> dict[str, str]:
        shown = {"channel": self.channel.value, "status": self.status.value}
        if self.reason:
            shown["reason"] = self.reason
        if self.domain:
            shown["domain"] = self.domain
        return shown

    @property
    def releasable(self) -> bool:
        """A bulk release resets delivery errors: quarantines and counted errors only."""
        return self.status.value in RELEASABLE

    def scope(self) -> ReleaseScope:
        """The bulk release of what the list shows: every address with the status when
        no reason or domain narrows it, as /v1 asks it to be said."""
        if not self.releasable:
            raise InvalidInputError("status", "only quarantined or erroneous addresses")
        try:
            return ReleaseScope(
                channel=self.channel,
                status=self.status.value,
                failure_reason=self.reason,
                domain=self.domain,
                all=not (self.reason or self.domain),
            )
        except ValidationError:
            raise InvalidInputError("domain", "not a domain") from None

    def page(self, here: Visit, size: int, cursor: str | None) -> AddressesOut:
        return addresses.list_addresses(
            self.channel,
            self.status,
            reason=self.reason,
            domain=self.domain,
            limit=size,
            cursor=cursor,
            now=here.wiring.clock(),
            policy=here.wiring.quarantine_policy,
        )


@router.get(ADDRESSES)
def list_page() -> Response[str]:
    here = visit(router)
    page = here.signed_in()
    filters = Filters.of(here)
    references = here.wiring.references()
    sealed = here.event.get_query_string_value(_CURSOR)
    cursor = references.open(_CURSOR, sealed, field=_CURSOR) if sealed else None
    found = filters.page(here, PAGE_SIZE, cursor)
    return page.respond(
        "addresses.html",
        filters=filters,
        query=filters.query(),
        channels=list(Channel),
        statuses=LISTED,
        items=[
            (item, address_view_path(references, item.channel, item.address))
            for item in found.items
        ],
        next_cursor=references.seal(_CURSOR, found.next_cursor) if found.next_cursor else None,
        released=count_of(here.event.get_query_string_value("released")),
        remaining=count_of(here.event.get_query_string_value("remaining")),
    )


def count_of(text: str | None) -> int | None:
    return int(text) if text and text.isascii() and text.isdigit() and len(text) < 10 else None


@router.get(f"{ADDRESSES}/csv")
def list_csv() -> Response[str]:
    here = visit(router)
    page = here.signed_in()
    filters = Filters.of(here)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        [
            "channel",
            "address",
            "status",
            "reason",
            "error_count",
            "last_error_at",
            "release_at",
            "updated_at",
        ]
    )
    cursor: str | None = None
    written = 0
    while written < CSV_MAX_ROWS:
        found = filters.page(here, min(100, CSV_MAX_ROWS - written), cursor)
        for item in found.items:
            writer.writerow(
                [
                    item.channel.value,
                    spreadsheet_safe(item.address),
                    item.status.value,
                    spreadsheet_safe(item.reason or ""),
                    item.error_count,
                    item.last_error_at.isoformat() if item.last_error_at else "",
                    item.release_at.isoformat() if item.release_at else "",
                    item.updated_at.isoformat() if item.updated_at else "",
                ]
            )
        written += len(found.items)
        cursor = found.next_cursor
        if cursor is None:
            break
    name = f"{filters.channel.value}-{filters.status.value}.csv"
    return page.download(out.getvalue(), "text/csv; charset=utf-8", name)


@router.get(f"{ADDRESSES}/view/<reference>")
def address_page(reference: str) -> Response[str]:
    here = visit(router)
    page = here.signed_in()
    references = here.wiring.references()
    try:
        channel, address = _address_of(references, reference, field="reference")
    except InvalidInputError:
        raise NotFoundError("address", "reference") from None
    found = addresses.get(
        channel, address, now=here.wiring.clock(), policy=here.wiring.quarantine_policy
    )
    owners = [
        origin.removeprefix(OWNER_PREFIX)
        for origin in found.denylist_origins
        if origin.startswith(OWNER_PREFIX)
    ]
    return page.respond(
        "address.html",
        address=found,
        owners=[(owner, profile_path(owner)) for owner in owners],
        reference=reference,
        released=here.event.get_query_string_value("released") == "1",
    )


@router.post(f"{ADDRESSES}/release")
def release_confirmation() -> Response[str]:
    here = visit(router)
    page, form = here.change()
    reference = form.first("reference")
    channel, address = _address_of(here.wiring.references(), reference, field="reference")
    found = addresses.get(
        channel, address, now=here.wiring.clock(), policy=here.wiring.quarantine_policy
    )
    return page.respond("release.html", address=found, reference=reference)


@router.post(f"{ADDRESSES}/release/confirm")
def release() -> Response[str]:
    here = visit(router)
    page, form = here.change()
    reference = form.first("reference") or ""
    channel, address = _address_of(here.wiring.references(), reference, field="reference")
    try:
        body = AddressStatusIn.model_validate(
            {"status": "valid", "reason": form.first("reason") or ""}
        )
    except ValidationError:
        raise InvalidInputError("reason", "say why (up to 500 characters)") from None
    session = page.session
    if session is None:  # here.change() makes sure there is one
        raise InvalidInputError("session", "sign in again")
    addresses.set_status(
        command=SetAddressStatus(actor=session.actor, channel=channel, address=address, body=body),
        clock=here.wiring.clock,
    )
    return page.redirect(f"{ADDRESSES}/view/{reference}?released=1")


@router.post(f"{ADDRESSES}/bulk-release")
def bulk_release_confirmation() -> Response[str]:
    here = visit(router)
    page, form = here.change()
    filters = Filters.read(lambda name: form.first(FILTER + name))
    matched = addresses.releasable(filters.scope())
    return page.respond(
        "bulk_release.html", filters=filters, query=filters.query(), matched=matched
    )


@router.post(f"{ADDRESSES}/bulk-release/confirm")
def bulk_release() -> Response[str]:
    here = visit(router)
    page, form = here.change()
    filters = Filters.read(lambda name: form.first(FILTER + name))
    scope = filters.scope()
    session = page.session
    if session is None:  # here.change() makes sure there is one
        raise InvalidInputError("session", "sign in again")
    try:
        first = BulkReleaseIn.model_validate(
            {**scope.model_dump(), "reason": form.first("reason") or "", "limit": BULK_PAGE}
        )
    except ValidationError:
        raise InvalidInputError("reason", "say why (up to 500 characters)") from None
    released, cursor = 0, None
    while released < BULK_MAX:
        done = addresses.release(
            command=ReleaseAddresses(
                actor=session.actor, body=first.model_copy(update={"cursor": cursor})
            ),
            clock=here.wiring.clock,
        )
        released += done.released
        cursor = done.next_cursor
        if cursor is None:
            break
    remaining = addresses.releasable(scope)
    shown = {**filters.query(), "released": str(released), "remaining": str(remaining)}
    return page.redirect(f"{ADDRESSES}?{urlencode(shown)}")
