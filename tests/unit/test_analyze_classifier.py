"""The per-row classifier: the exclusion order, the first cause wins, duplicates and the
control group, and agreement with the real-time check (consentry.analysis.exclusion)."""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TypedDict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry.addresses.normalize import normalize, normalizer
from consentry.addresses.status import AddressState, AddressStatus
from consentry.analysis.classifier import (
    ADDRESS_DENYLISTED,
    ADDRESS_INVALID,
    ADDRESS_MISSING,
    ADDRESS_QUARANTINED,
    CAUSES,
    CONTROL_GROUP,
    DUPLICATE,
    NOT_SUBSCRIBED,
    PROFILE_OPTED_OUT,
    TARGETED,
    Rules,
    ShardClassifier,
    Suppression,
    control_sample,
    shard_of,
)
from consentry.analysis.exclusion import ExclusionCause, SendFacts, first_exclusion
from consentry.analysis.suppression import covers
from consentry.consent.rules import ConsentState
from consentry.consent.subscriptions import Subscription, SubscriptionStatus
from consentry.core.types import Address, Channel, MessageClass, ProfileId, ServiceId

EMAIL = Rules(Channel.EMAIL, MessageClass.MARKETING, "US")
NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)


def classify_rows(
    rows: Iterable[tuple[str, str]], suppression: Suppression, rules: Rules
) -> list[int]:
    """The verdict of each (profile id, address) row of one shard, in order."""
    classifier = ShardClassifier(suppression, rules)
    return [classifier(profile_id, address) for profile_id, address in rows]


def verdicts(
    rows: Iterable[tuple[str, str]], suppression: Suppression | None = None, rules: Rules = EMAIL
) -> list[int]:
    return classify_rows(rows, suppression or Suppression.of(), rules)


def test_the_eight_causes_are_numbered_in_the_order_of_the_domain() -> None:
    assert [CAUSES[n - 1] for n in range(1, 9)] == list(ExclusionCause)
    assert TARGETED == 0


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (("p-out", "  "), ADDRESS_MISSING),
        (("p-out", "not-an-address"), ADDRESS_INVALID),
        (("p-out", "deny@example.com"), ADDRESS_DENYLISTED),
        (("p-out", "Quar@Example.com "), ADDRESS_QUARANTINED),
        (("p-out", "fine@example.com"), PROFILE_OPTED_OUT),
        (("p-unsubscribed", "fine@example.com"), NOT_SUBSCRIBED),
        (("p-subscribed", "fine@example.com"), TARGETED),
    ],
)
def test_the_first_cause_that_applies_wins(row: tuple[str, str], expected: int) -> None:
    suppression = Suppression.of(
        opted_out={"p-out"},
        denylisted={"deny@example.com"},
        quarantined={"quar@example.com"},
        subscribers={"p-out", "p-subscribed"},
    )

    assert verdicts([row], suppression) == [expected]


def test_an_address_both_denylisted_and_quarantined_counts_as_denylisted() -> None:
    suppression = Suppression.of(denylisted={"a@example.com"}, quarantined={"a@example.com"})

    assert verdicts([("p", "a@example.com")], suppression) == [ADDRESS_DENYLISTED]


def test_a_later_row_with_the_same_normalized_address_is_a_duplicate() -> None:
    rows = [("p1", "Jane@Example.com"), ("p2", " jane@example.com"), ("p3", "JANE@EXAMPLE.COM")]

    assert verdicts(rows) == [TARGETED, DUPLICATE, DUPLICATE]


def test_an_excluded_row_does_not_hold_its_address_for_later_rows() -> None:
    rows = [("p-out", "jane@example.com"), ("p2", "jane@example.com")]

    assert verdicts(rows, Suppression.of(opted_out={"p-out"})) == [PROFILE_OPTED_OUT, TARGETED]


def test_a_profile_cause_comes_before_duplicate_for_a_later_row() -> None:
    rows = [("p1", "jane@example.com"), ("p-out", "jane@example.com")]

    assert verdicts(rows, Suppression.of(opted_out={"p-out"})) == [TARGETED, PROFILE_OPTED_OUT]


def test_transactional_messages_ignore_opt_outs_and_services_but_not_bad_addresses() -> None:
    rules = Rules(Channel.EMAIL, MessageClass.TRANSACTIONAL, "US")
    suppression = Suppression.of(opted_out={"p1"}, quarantined={"q@example.com"}, subscribers=set())

    result = verdicts([("p1", "a@example.com"), ("p2", "q@example.com")], suppression, rules)

    assert result == [TARGETED, ADDRESS_QUARANTINED]


def test_phone_numbers_are_compared_in_e164() -> None:
    rules = Rules(Channel.SMS, MessageClass.MARKETING, "NL")
    rows = [("p1", "06 12345678"), ("p2", "+31612345678"), ("p3", "12")]

    assert verdicts(rows, rules=rules) == [TARGETED, DUPLICATE, ADDRESS_INVALID]


def test_phone_numbers_that_cannot_exist_are_invalid_however_written() -> None:
    rules = Rules(Channel.PHONE, MessageClass.MARKETING, "US")
    rows = [("p1", "+9991234567890"), ("p2", "+1 012 345 6789"), ("p3", "+1 202 555 0143 x12")]

    assert verdicts(rows, rules=rules) == [ADDRESS_INVALID] * 3


def test_texts_to_numbers_that_cannot_receive_them_are_invalid_unless_allowed() -> None:
    rows = [("p1", "+1 800 356 9377"), ("p2", "+44 20 7946 0958"), ("p3", "+44 7911 123456")]
    sms = Rules(Channel.SMS, MessageClass.MARKETING, "US")
    allowed = Rules(Channel.SMS, MessageClass.MARKETING, "US", sms_any_number_type=True)
    voice = Rules(Channel.PHONE, MessageClass.MARKETING, "US")

    assert verdicts(rows, rules=sms) == [ADDRESS_INVALID, ADDRESS_INVALID, TARGETED]
    assert verdicts(rows, rules=allowed) == [TARGETED] * 3
    assert verdicts(rows, rules=voice) == [TARGETED] * 3


def test_the_control_group_is_a_keyed_sample_of_about_the_asked_share() -> None:
    rules = Rules(Channel.EMAIL, MessageClass.MARKETING, "US", 10.0, "seed-1")
    rows = [(f"p{n}", f"user{n}@example.com") for n in range(5000)]

    first, again = verdicts(rows, rules=rules), verdicts(rows, rules=rules)
    other_seed = verdicts(rows, rules=Rules(Channel.EMAIL, MessageClass.MARKETING, "US", 10.0, "x"))

    assert first == again
    assert first != other_seed
    assert 400 < first.count(CONTROL_GROUP) < 600
    assert set(first) == {TARGETED, CONTROL_GROUP}


def test_a_control_group_row_holds_its_address() -> None:
    in_sample = control_sample(50.0, "s")
    address = next(f"u{n}@example.com" for n in range(100) if in_sample(f"u{n}@example.com"))
    rules = Rules(Channel.EMAIL, MessageClass.MARKETING, "US", 50.0, "s")

    assert verdicts([("p1", address), ("p2", address)], rules=rules) == [CONTROL_GROUP, DUPLICATE]


def test_rows_of_one_address_go_to_one_shard_whatever_their_spelling() -> None:
    normalize = normalizer(Channel.EMAIL, "US")

    shards = {shard_of(a, 7, normalize) for a in ("A@b.co", " a@b.co", "a@B.CO ")}

    assert len(shards) == 1


# ---------------------------------------------------------------- against first_exclusion

PROFILES = [ProfileId(f"p{n}") for n in range(6)]
RAW_ADDRESSES = [
    "a@example.com",
    "A@Example.com ",
    "b@example.org",
    "c@example.net",
    "",
    "  ",
    "nope",
    "d@x.test",
    "+31612345678",
    "06 12345678",
    "e@example.com",
]
CHANNELS = [Channel.EMAIL, Channel.SMS, Channel.PUSH]


class StoredFields(TypedDict):
    """The fields of a stored address state that decide its verdict."""

    error_status: AddressStatus
    denylist_origins: frozenset[str]
    allowlisted: bool


address_states: st.SearchStrategy[StoredFields] = st.builds(
    lambda error, origins, allow: {
        "error_status": error,
        "denylist_origins": origins,
        "allowlisted": allow,
    },
    st.sampled_from([AddressStatus.VALID, AddressStatus.ERRONEOUS, AddressStatus.QUARANTINE]),
    st.frozensets(st.sampled_from(["complaint", "operator", "owner:p1"]), max_size=2),
    st.booleans(),
)
consents = st.builds(
    lambda all_, channels: (all_, frozenset(channels)),
    st.booleans(),
    st.sets(st.sampled_from(list(Channel)), max_size=2),
)
subscriptions = st.one_of(
    st.none(),
    st.builds(
        lambda status, days: (status, None if days is None else NOW + timedelta(days=days)),
        st.sampled_from(list(SubscriptionStatus)),
        st.one_of(st.none(), st.integers(-3, 3)),
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    channel=st.sampled_from(CHANNELS),
    message_class=st.sampled_from(list(MessageClass)),
    for_service=st.booleans(),
    rows=st.lists(
        st.tuples(st.sampled_from(PROFILES), st.sampled_from(RAW_ADDRESSES)), max_size=25
    ),
    states=st.dictionaries(st.sampled_from(RAW_ADDRESSES), address_states),
    profile_consents=st.dictionaries(st.sampled_from(PROFILES), consents),
    profile_subscriptions=st.dictionaries(st.sampled_from(PROFILES), subscriptions),
)
def test_every_row_gets_the_verdict_of_the_real_time_check(  # noqa: PLR0917 (hypothesis)
    channel: Channel,
    message_class: MessageClass,
    for_service: bool,
    rows: list[tuple[ProfileId, str]],
    states: dict[str, StoredFields],
    profile_consents: dict[ProfileId, tuple[bool, frozenset[Channel]]],
    profile_subscriptions: dict[ProfileId, tuple[SubscriptionStatus, datetime | None] | None],
) -> None:
    """Causes 1-6 are first_exclusion's; a row it lets through is targeted, or a duplicate
    of the first such row with its address."""
    region = "NL"
    stored = {}
    for raw, fields in states.items():
        address = normalize(channel, raw, region)
        if address is not None:
            stored[address] = AddressState(channel=channel, address=address, **fields)
    consent = {
        p: ConsentState(profile_id=p, opt_out_all=all_, opt_out_channels=channels)
        for p, (all_, channels) in profile_consents.items()
    }
    subscription = {
        p: Subscription(
            service_id=ServiceId("s"),
            profile_id=p,
            status=status,
            expires_at=expires,
            updated_at=NOW,
        )
        for p, value in profile_subscriptions.items()
        if value is not None
        for status, expires in [value]
    }
    # The snapshot, as consentry.analysis.suppression derives it from the stored items.
    suppression = Suppression.of(
        opted_out={
            p
            for p, c in consent.items()
            if covers(c.opt_out_all, {ch.value for ch in c.opt_out_channels}, channel)
        },
        denylisted={a for a, s in stored.items() if s.status is AddressStatus.DENYLISTED},
        quarantined={a for a, s in stored.items() if s.status is AddressStatus.QUARANTINE},
        subscribers={p for p, s in subscription.items() if s.active(NOW)} if for_service else None,
    )

    result = classify_rows(rows, suppression, Rules(channel, message_class, region))

    held: set[Address | None] = set()
    for (profile_id, raw), verdict in zip(rows, result, strict=True):
        address = normalize(channel, raw, region) if raw.strip() else None
        expected = first_exclusion(
            SendFacts(
                channel=channel,
                message_class=message_class,
                raw_address=raw,
                address=address,
                address_state=stored.get(address) if address else None,
                consent=consent.get(profile_id),
                for_service=for_service,
                subscribed=profile_id in subscription and subscription[profile_id].active(NOW),
            )
        )
        if expected is not None:
            assert (CAUSES[verdict - 1] if verdict else None) is expected
        elif address in held:
            assert verdict == DUPLICATE
        else:
            assert verdict == TARGETED
            held.add(address)
