"""Subscribing with double opt-in: the unknown visitor of `/s/{serviceId}`, and the
confirmation emails of every subscription that waits for one.

A visitor is known by nothing but the address they type. Their profile id is a keyed
hash of the normalized address (HMAC-SHA256 under a deployment secret), so the same
address is always the same profile, no address is in clear in an id, and an id cannot
be reversed by hashing guesses without the key. Whatever the service's own policy, a
visitor's subscription starts `pending`; only the button behind the link in the
confirmation email confirms it (GET never does).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, replace
from datetime import datetime

from consentry.addresses.address_store import find_address
from consentry.addresses.counting import released_by_time
from consentry.addresses.normalize import normalize_email
from consentry.addresses.status import AddressStatus
from consentry.consent import links, profile_store, service_store
from consentry.consent.rules import ConsentChange, ConsentState, Scope
from consentry.consent.subscriptions import Service, Subscription, SubscriptionStatus
from consentry.consent.tokens import Keyring, LinkClaims, LinkSigner
from consentry.core.errors import InvalidInputError, NotFoundError
from consentry.core.observability import mask_address
from consentry.core.types import (
    RECIPIENT_ACTOR,
    Action,
    Address,
    Channel,
    ProfileId,
    ServiceId,
    Source,
)
from consentry.privacy import fingerprints
from landing.mailer import Mail, OncePerPending
from landing.pages import render_mail
from landing.preferences import Applied, Outcome

VISITOR_PREFIX = "vis-"


class NotAnAddressError(InvalidInputError):
    """What the visitor typed is not an email address."""

    def __init__(self) -> None:
        super().__init__("email", "not an email address")


def visitor_profile_id(key: bytes, address: Address) -> ProfileId:
    """The profile id of the visitor with this (normalized) email address."""
    digest = hmac.new(key, b"email\x1f" + address.encode(), hashlib.sha256).hexdigest()
    return ProfileId(VISITOR_PREFIX + digest[:32])


def load_profile_id_key(secret_name: str, *, max_age_s: int) -> bytes:
    """The key of visitors' profile ids (a secret that never rotates: ids must stay)."""
    from aws_lambda_powertools.utilities import parameters  # noqa: PLC0415 (imports boto3)

    value = parameters.get_secret(secret_name, max_age=max_age_s)
    if not isinstance(value, str) or len(value) < 32:
        raise RuntimeError("the profile-id key secret holds no usable key")
    return value.encode()


def open_service(service_id: str, at: datetime) -> Service:
    """A service a visitor can subscribe to here: open now, and sent by email."""
    service = service_store.get_service(ServiceId(service_id))
    if not service.open_at(at) or service.channel is not Channel.EMAIL:
        raise NotFoundError("service", service_id)
    return service


@dataclass(frozen=True)
class Confirmer:
    """What sending a confirmation email needs: the signer of the link it carries,
    where links point, the From address, and the once-an-hour sender."""

    signer: LinkSigner
    base_url: str
    sender: str | None
    outbox: OncePerPending
    erasures: Keyring
    """The keys of erased addresses' fingerprints: an erased address gets no mail."""

    def _undeliverable(self, address: Address, at: datetime) -> bool:
        """A quarantined address would bounce (unless its quarantine ended by itself by
        `at`); a denylisted one stays reachable here, since a confirmed double opt-in is
        how its owner may come back; an erased one, whatever it still stops, is never
        written to again (only an operator's lift frees it)."""
        found = find_address(Channel.EMAIL, address)
        if (
            found is not None
            and found.status is AddressStatus.QUARANTINE
            and not released_by_time(found, at)
        ):
            return True
        return fingerprints.find_one(self.erasures, Channel.EMAIL, address) is not None

    def send(
        self,
        state: ConsentState,
        service: Service,
        subscription: Subscription,
        language: str,
        at: datetime,
    ) -> str | None:
        """Mail the confirmation link to the profile's email address; its masked form,
        or None when there is nowhere (or no one) to send it from or to."""
        address = state.addresses.get(Channel.EMAIL)
        if not address or not self.sender or self._undeliverable(Address(address), at):
            return None
        token = self.signer.sign(
            LinkClaims(
                profile_id=state.profile_id,
                scope=Scope.service(service.service_id),
                issued_at=at,
            )
        )
        url = self.base_url + links.confirm_path(service.service_id, token)
        subject, text, html = render_mail(
            language, "confirm", {"service": service.public_label, "url": url}
        )
        key = f"{state.profile_id}|{service.service_id}|{subscription.updated_at.isoformat()}"
        self.outbox.send(
            key, Mail(sender=self.sender, to=address, subject=subject, text=text, html=html)
        )
        return mask_address(address)


@dataclass(frozen=True)
class Visitor:
    ip: str | None
    user_agent: str | None
    language: str
    wording_version: str
    requested_at: datetime | None = None


def visitor_address(raw: str, *, smtputf8: bool = False) -> Address:
    """The address a visitor typed, normalized; NotAnAddressError when it is none or
    one the sender cannot deliver to (`smtputf8`: `Settings.sender_smtputf8`)."""
    address = normalize_email(raw, smtputf8=smtputf8)
    if address is None:
        raise NotAnAddressError
    return address


def request_subscription(
    service: Service, address: Address, visitor: Visitor, *, key: bytes
) -> tuple[ConsentState, Subscription | None]:
    """Record the visitor's address and a `pending` subscription (a repeat changes
    nothing); the profile and the subscription as they now are."""
    profile_id = visitor_profile_id(key, address)
    state = profile_store.find_consent(profile_id)
    if state is None or state.addresses.get(Channel.EMAIL) != address:
        known = dict(state.addresses) if state else {}
        state = profile_store.register_profile(
            profile_id,
            {**known, Channel.EMAIL: address},
            (state.locale if state else None) or visitor.language,
        )
    result = profile_store.record_change(
        profile_id,
        ConsentChange(
            scope=Scope.service(service.service_id),
            action=Action.SUBSCRIBE,
            source=Source.LANDING,
            actor=RECIPIENT_ACTOR,
            ip=visitor.ip,
            user_agent=visitor.user_agent,
            requested_at=visitor.requested_at,
            wording_version=visitor.wording_version,
            requested=SubscriptionStatus.PENDING,
        ),
    )
    subscription = result.subscription or service_store.find_subscription(
        service.service_id, profile_id
    )
    return result.state, subscription


def with_confirmations(
    confirmer: Confirmer, profile_id: ProfileId, applied: Applied, language: str, at: datetime
) -> tuple[Outcome, ...]:
    """Send the confirmation email of each subscription the change left waiting for
    one; the outcomes, each with where its email went."""
    if not applied.pending:
        return applied.outcomes
    state = profile_store.find_consent(profile_id)
    sent: dict[str, str | None] = {}
    for service_id in applied.pending:
        subscription = service_store.find_subscription(service_id, profile_id)
        if state is None or subscription is None:
            continue
        service = service_store.get_service(service_id)
        sent[str(Scope.service(service_id))] = confirmer.send(
            state, service, subscription, language, at
        )
    return tuple(
        replace(outcome, confirmation_to=sent.get(str(outcome.step.scope)))
        for outcome in applied.outcomes
    )
