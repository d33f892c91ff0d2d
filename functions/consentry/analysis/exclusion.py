"""The exclusion order of domain.md section 6 for one send, as a plain function.

The real-time checks use it as it is; the delivery analysis applies the same order to
whole audiences in its own loop, and a property test holds the two together.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from consentry.addresses.status import AddressStatus
from consentry.core.types import MessageClass

if TYPE_CHECKING:
    # Only named: the analysis contract takes ExclusionCause from here, and a step that
    # reads no profile need not load the consent rules.
    from consentry.addresses.status import AddressState
    from consentry.consent.rules import ConsentState
    from consentry.core.types import Address, Channel


class ExclusionCause(StrEnum):
    """Why a row or a send is excluded, in the order the rules apply (domain.md section 6)."""

    ADDRESS_MISSING = "address_missing"
    ADDRESS_INVALID = "address_invalid"
    ADDRESS_DENYLISTED = "address_denylisted"
    ADDRESS_QUARANTINED = "address_quarantined"
    PROFILE_OPTED_OUT = "profile_opted_out"
    NOT_SUBSCRIBED = "not_subscribed"
    DUPLICATE = "duplicate"
    CONTROL_GROUP = "control_group"


def address_cause(state: AddressState) -> ExclusionCause | None:
    """What an address's status excludes, for any message class (allowlisted: nothing)."""
    status = state.status
    if status is AddressStatus.DENYLISTED:
        return ExclusionCause.ADDRESS_DENYLISTED
    if status is AddressStatus.QUARANTINE:
        return ExclusionCause.ADDRESS_QUARANTINED
    return None


_ADDRESS_CAUSES = frozenset({ExclusionCause.ADDRESS_DENYLISTED, ExclusionCause.ADDRESS_QUARANTINED})


@dataclass(frozen=True)
class SendFacts:
    """What is known about one intended send."""

    channel: Channel
    message_class: MessageClass
    raw_address: str
    address: Address | None
    """The normalized address; None when it does not parse."""
    address_state: AddressState | None
    consent: ConsentState | None
    for_service: bool
    subscribed: bool
    """A confirmed, unexpired subscription to the delivery's service."""
    erased: ExclusionCause | None = None
    """What the address stopped when its owner was erased (kept as a fingerprint)."""


def first_exclusion(facts: SendFacts) -> ExclusionCause | None:  # noqa: PLR0911 (one return per rule, in order)
    """The first cause that excludes the send, or None when it may go out."""
    if not facts.raw_address.strip():
        return ExclusionCause.ADDRESS_MISSING
    if facts.address is None:
        return ExclusionCause.ADDRESS_INVALID
    if facts.address_state is not None:
        cause = address_cause(facts.address_state)
        if cause is not None:
            return cause
    if facts.erased in _ADDRESS_CAUSES:
        return facts.erased
    if facts.message_class is MessageClass.TRANSACTIONAL:
        return None
    if facts.erased is ExclusionCause.PROFILE_OPTED_OUT:
        return facts.erased
    if facts.consent is not None and facts.consent.blocks(facts.channel, facts.message_class):
        return ExclusionCause.PROFILE_OPTED_OUT
    if facts.for_service and not facts.subscribed:
        return ExclusionCause.NOT_SUBSCRIBED
    return None
