"""The exclusion order of domain.md section 6, over the rows of one shard.

This is the hot path of an analysis: one call per audience row, no I/O, no logging,
nothing allocated per row beyond the normalized address. `consentry.analysis.exclusion.
first_exclusion` applies the same order to one send; a property test holds the two
together.

A verdict is a small int: 0 for a targeted row, n for the n-th cause of
`ExclusionCause` (1 `address_missing` ... 8 `control_group`).
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from consentry.addresses.normalize import normalizer
from consentry.analysis.exclusion import ExclusionCause
from consentry.core.types import Address, Channel, MessageClass

CAUSES: tuple[ExclusionCause, ...] = tuple(ExclusionCause)
"""Verdict n (1..8) is CAUSES[n - 1]."""
TARGETED = 0
(
    ADDRESS_MISSING,
    ADDRESS_INVALID,
    ADDRESS_DENYLISTED,
    ADDRESS_QUARANTINED,
    PROFILE_OPTED_OUT,
    NOT_SUBSCRIBED,
    DUPLICATE,
    CONTROL_GROUP,
) = range(1, len(CAUSES) + 1)
VERDICTS = len(CAUSES) + 1


@dataclass(frozen=True)
class Suppression:
    """What the consent store says about the delivery's channel, as plain sets.

    `blocked` maps a normalized address to ADDRESS_DENYLISTED or ADDRESS_QUARANTINED
    (allowlisted addresses are not in it); `opted_out` holds the profiles whose opt-out
    covers the channel; `subscribers` the service's active subscribers, None when the
    delivery is not for a service.
    """

    opted_out: frozenset[str]
    blocked: Mapping[str, int]
    subscribers: frozenset[str] | None = None
    erased: Mapping[str, int] = field(default_factory=dict)
    """Fingerprints of erased addresses of the channel (`consentry.privacy`), each with
    the verdict it keeps; matched by `erased_verdict`, which the step sets when any."""
    erased_verdict: Callable[[str], int] | None = None
    """The verdict an erased address keeps (0: none), from its normalized form."""

    @classmethod
    def of(
        cls,
        *,
        opted_out: Iterable[str] = (),
        denylisted: Iterable[str] = (),
        quarantined: Iterable[str] = (),
        subscribers: Iterable[str] | None = None,
        erased: Mapping[str, int] | None = None,
    ) -> Suppression:
        blocked = dict.fromkeys(quarantined, ADDRESS_QUARANTINED)
        blocked.update(dict.fromkeys(denylisted, ADDRESS_DENYLISTED))
        return cls(
            opted_out=frozenset(opted_out),
            blocked=blocked,
            subscribers=None if subscribers is None else frozenset(subscribers),
            erased=dict(erased or {}),
        )


class _SeenOrErased(set[str]):
    """The `seen` set of a shard when erased addresses exist: an address not seen yet is
    looked up by its fingerprint once; a match becomes blocked with the verdict it keeps
    (so every loop that reads `seen` and `blocked` applies it, in the exclusion order:
    after the address's own status, before the profile's)."""

    def __init__(
        self, initial: Iterable[str], blocked: dict[str, int], verdict: Callable[[str], int]
    ) -> None:
        super().__init__(initial)
        self._blocked = blocked
        self._verdict = verdict

    def __contains__(self, address: object) -> bool:
        if set.__contains__(self, address):
            return True
        code = self._verdict(str(address))
        if code:
            self._blocked[str(address)] = code
            self.add(str(address))
            return True
        return False


@dataclass(frozen=True)
class Rules:
    """The delivery's side of the verdict."""

    channel: Channel
    message_class: MessageClass
    default_region: str
    control_percent: float | None = None
    control_seed: str = ""
    smtputf8: bool = False
    """The sender supports SMTPUTF8 (`Settings.sender_smtputf8`)."""
    sms_any_number_type: bool = False
    """Texts may go to any valid number (`Settings.sms_any_number_type`)."""

    def normalizer(self) -> Callable[[str], Address | None]:
        """`consentry.addresses.normalize.normalize` for the delivery's channel and settings."""
        return normalizer(
            self.channel,
            self.default_region,
            smtputf8=self.smtputf8,
            sms_receivers_only=not self.sms_any_number_type,
        )


def shard_of(raw_address: str, shards: int, normalize: Callable[[str], Address | None]) -> int:
    """The shard of a row: by its normalized address, so that duplicates meet in one shard.

    Rows whose address does not parse go by their trimmed text; they never meet others.
    """
    if shards == 1:
        return 0
    trimmed = raw_address.strip()
    key = (normalize(trimmed) if trimmed else None) or trimmed
    return zlib.crc32(key.encode()) % shards


def control_sample(percent: float, seed: str) -> Callable[[str], bool]:
    """Whether an address falls in the control group: a keyed hash of the address below
    `percent`, so the sample is the same for the same seed whatever the sharding."""
    key = hashlib.blake2b(seed.encode(), digest_size=32).digest()
    threshold = int(percent / 100 * 2**64)

    def in_sample(address: str) -> bool:
        digest = hashlib.blake2b(address.encode(), digest_size=8, key=key).digest()
        return int.from_bytes(digest) < threshold

    return in_sample


def _address_level(verdict: Callable[[str], int]) -> Callable[[str], int]:
    """Only what stops any message: an erased owner's opt-out stops marketing alone."""

    def kept(address: str) -> int:
        code = verdict(address)
        return code if code in (ADDRESS_DENYLISTED, ADDRESS_QUARANTINED) else 0

    return kept


class ShardClassifier:
    """The classifier of one shard: call it for the shard's rows in audience order.

    It remembers the addresses earlier rows hold, so it must see every row of the shard
    and no row of another shard (duplicates are found within the shard; partitioning
    by address puts all rows of an address in one shard). `consentry.analysis.classify_csv`
    runs the same rules over CSV lines without a call per row.
    """

    def __init__(self, suppression: Suppression, rules: Rules) -> None:
        marketing = rules.message_class is MessageClass.MARKETING
        self.email = rules.channel is Channel.EMAIL
        self.normalize = rules.normalizer()
        self.opted_out = suppression.opted_out if marketing else frozenset()
        self.subscribers = suppression.subscribers if marketing else None
        self.in_control = (
            control_sample(rules.control_percent, rules.control_seed)
            if rules.control_percent
            else None
        )
        self.blocked: Mapping[str, int] = suppression.blocked
        self.seen: set[str] = set(suppression.blocked)
        """The blocked addresses, and those that an earlier row holds (targeted or in
        the control group)."""
        verdict = suppression.erased_verdict
        if suppression.erased and verdict is not None:
            blocked = dict(suppression.blocked)
            kept = verdict if marketing else _address_level(verdict)
            self.blocked = blocked
            self.seen = _SeenOrErased(blocked, blocked, kept)

    def __call__(self, profile_id: str, raw_address: str) -> int:  # noqa: PLR0911 (one return per rule, in order)
        raw = raw_address.strip()
        if not raw:
            return ADDRESS_MISSING
        address = self.normalize(raw)
        if address is None:
            return ADDRESS_INVALID
        held = address in self.seen
        if held:
            cause = self.blocked.get(address)
            if cause:
                return cause
        if profile_id in self.opted_out:
            return PROFILE_OPTED_OUT
        if self.subscribers is not None and profile_id not in self.subscribers:
            return NOT_SUBSCRIBED
        if held:
            return DUPLICATE
        self.seen.add(address)
        if self.in_control is not None and self.in_control(address):
            return CONTROL_GROUP
        return TARGETED
