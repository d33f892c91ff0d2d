"""Address normalization: an address's verdict is the libraries' answer with the
project's settings, whatever way it is written (docs/analysis-contract.md "Addresses")."""

import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import example, given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from consentry.addresses import normalize as n
from consentry.core.types import Channel

FULLWIDTH = str.maketrans("+0123456789", "\uff0b" + "".join(chr(0xFF10 + d) for d in range(10)))
"""Plus and digits in their fullwidth forms, as East Asian input methods write them."""


def email_validator_answer(raw: str, *, smtputf8: bool = False) -> str | None:
    """email-validator's answer with the project's settings (strict: the local part at
    most 64 long, in octets; SMTPUTF8 only if the sender has it), the domain in IDNA form."""
    try:
        checked = validate_email(
            raw.strip().lower(), check_deliverability=False, strict=True, allow_smtputf8=smtputf8
        )
    except EmailNotValidError:
        return None
    if len(checked.local_part.encode()) > 64:  # RFC 5321 4.5.3.1.1, in octets
        return None
    return f"{checked.local_part}@{checked.ascii_domain}".lower()


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("  Jane.Doe@Example.COM ", "jane.doe@example.com"),
        ("a@b.co", "a@b.co"),
        ("user+tag@sub.example.org", "user+tag@sub.example.org"),
        ("a@xn--bcher-kva.de", "a@xn--bcher-kva.de"),
        ("a@Bücher.de", "a@xn--bcher-kva.de"),
        ("a" * 64 + "@example.com", "a" * 64 + "@example.com"),
    ],
)
def test_emails_are_normalized(raw: str, normal: str) -> None:
    assert n.normalize_email(raw) == normal


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "plain",
        "a@example",
        "a..b@x.com",
        ".a@x.com",
        "a@-x.com",
        "a@x.123",
        "a@foo.test",
        "a@localhost",
        '"q"@x.com',
        "a@[1.2.3.4]",
        "a@x.com.",
        "a@b@c.com",
    ],
)
def test_non_emails_are_refused(raw: str) -> None:
    assert n.normalize_email(raw) is None


@pytest.mark.parametrize(
    "raw",
    ["a" * 65 + "@example.com", "A" * 65 + "@Bücher.de", "b" * 70 + "@x.de"],
)
def test_a_local_part_past_64_characters_is_refused(raw: str) -> None:
    assert n.normalize_email(raw) is None
    assert n.normalize_email(raw, smtputf8=True) is None
    assert n.normalize(Channel.EMAIL, raw, "US") is None


def test_internationalized_local_parts_need_a_sender_with_smtputf8() -> None:
    assert n.normalize(Channel.EMAIL, "Üser@example.com", "US") is None
    assert n.normalize_email("Ä@x.de") is None
    assert n.normalize(Channel.EMAIL, "Üser@example.com", "US", smtputf8=True) == (
        "üser@example.com"
    )
    assert n.normalize_email("Üser@Bücher.de", smtputf8=True) == "üser@xn--bcher-kva.de"


def test_with_smtputf8_the_local_part_is_held_to_64_octets() -> None:
    assert n.normalize_email("ü" * 32 + "@example.com", smtputf8=True) == "ü" * 32 + "@example.com"
    assert n.normalize_email("ü" * 33 + "@example.com", smtputf8=True) is None


@given(
    st.emails()
    | st.text(max_size=40)
    | st.from_regex(r"[A-Za-z0-9.+_-]{1,20}@[A-Za-z0-9.-]{1,20}\.[a-z]{2,5}", fullmatch=True),
    st.booleans(),
)
@example("a@xn--80ak6aa92e.com", False)
@example("A@B.LOCAL", False)
@example("üser@example.com", False)
def test_the_fast_path_gives_the_same_answer_as_email_validator(raw: str, smtputf8: bool) -> None:
    assert n.normalize_email(raw, smtputf8=smtputf8) == email_validator_answer(
        raw, smtputf8=smtputf8
    )


@pytest.mark.parametrize(
    ("raw", "region", "normal"),
    [
        ("+31612345678", "US", "+31612345678"),
        (" +31 6 1234 5678 ", "US", "+31612345678"),
        ("06 12345678", "NL", "+31612345678"),
        ("(202) 555-0143", "US", "+12025550143"),
        ("+44 20 7946 0958", "NL", "+442079460958"),
    ],
)
def test_phones_are_normalized_to_e164(raw: str, region: str, normal: str) -> None:
    assert n.normalize_phone(raw, region) == normal


@pytest.mark.parametrize("raw", ["", "abc", "12", "+0123456789", "0612345678901234567", "+31 6"])
def test_non_phones_are_refused(raw: str) -> None:
    assert n.normalize_phone(raw, "NL") is None


def test_a_compact_number_is_written_in_e164() -> None:
    assert n.normalize_phone("+4407911123456", "US") == "+447911123456"


@pytest.mark.parametrize(
    "raw",
    [
        "+1 012 345 6789",
        "+1 (112) 456-7890",
        "+999 123 456 7890",
        "+1 234 567",
        "+299 9999",
        "+44 12345",
    ],
)
def test_numbers_that_cannot_exist_are_refused_however_written(raw: str) -> None:
    compact = "+" + "".join(c for c in raw if c.isdigit())

    assert n.normalize_phone(raw, "US") is None
    assert n.normalize_phone(compact, "US") is None


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("tel:+1-202-555-0143", "+12025550143"),
        ("TEL:+1-202-555-0143", "+12025550143"),
        ("\uff0b1 202 555 0143", "+12025550143"),
        ("+1 202 555 0143".translate(FULLWIDTH), "+12025550143"),
        ("++1 202 555 0143", "+12025550143"),
        ("+1 202 555 0143 x", None),
        ("+12025550143x", None),
        ("+1 202 555 0143 ext. 12", None),
        ("+1 202 555 0143 x12", None),
        ("tel:+1-202-555-0143;ext=12", None),
        ("1 800 FLOWERS", None),
        ("+1 800 FLOWERS", None),
    ],
)
def test_written_forms_have_the_documented_verdict(raw: str, normal: str | None) -> None:
    """docs/analysis-contract.md "Addresses": a tel: URI, fullwidth characters and a
    doubled plus are read as the number; an extension (a bare trailing x too) and
    letters are refused, on every phone channel."""
    for channel in (Channel.PHONE, Channel.SMS):
        assert n.normalize(channel, raw, "US") == normal
        assert n.normalize(channel, raw, "US", sms_receivers_only=True) == normal


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("+1 800 356 9377", PhoneNumberType.TOLL_FREE),
        ("+44 20 7946 0958", PhoneNumberType.FIXED_LINE),
        ("+1 900 555 0143", PhoneNumberType.PREMIUM_RATE),
        ("+49 30 1234567", PhoneNumberType.FIXED_LINE),
    ],
)
def test_texts_do_not_go_to_numbers_that_cannot_receive_them(raw: str, kind: int) -> None:
    normal = "+" + "".join(c for c in raw if c.isdigit())
    assert phonenumbers.number_type(phonenumbers.parse(raw)) == kind

    assert n.normalize(Channel.SMS, raw, "US", sms_receivers_only=True) is None
    assert n.normalize(Channel.SMS, raw, "US") == normal
    assert n.normalize(Channel.PHONE, raw, "US", sms_receivers_only=True) == normal


@pytest.mark.parametrize("raw", ["+44 7911 123456", "+31 6 12345678", "+1 202 555 0143"])
def test_texts_go_to_mobile_numbers_and_numbers_of_either_kind(raw: str) -> None:
    assert phonenumbers.number_type(phonenumbers.parse(raw)) in (
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )
    normal = "+" + "".join(c for c in raw if c.isdigit())
    assert n.normalize(Channel.SMS, raw, "US", sms_receivers_only=True) == normal


def phonenumbers_answer(raw: str, region: str) -> str | None:
    """phonenumbers' answer: E.164 when the number is valid and has no extension, else None."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if number.extension is not None or not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


NOT_FOR_TEXTS = (
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE,
)
"""The types docs/analysis-contract.md says cannot receive a text."""


def number_type(e164: str) -> int:
    return int(phonenumbers.number_type(phonenumbers.parse(e164)))


def spaced(digits: str, cuts: list[int]) -> str:
    """`digits` with a space at each cut (positions into it)."""
    places = sorted({cut % (len(digits) + 1) for cut in cuts})
    bounds = zip([0, *places], [*places, len(digits)], strict=True)
    pieces = [digits[start:end] for start, end in bounds]
    return " ".join(piece for piece in pieces if piece)


_CALLING_CODES = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
_EXAMPLES = sorted(
    phonenumbers.format_number(number, PhoneNumberFormat.E164)[1:]
    for region in phonenumbers.SUPPORTED_REGIONS
    for kind in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE, PhoneNumberType.TOLL_FREE)
    if (number := phonenumbers.example_number_for_type(region, kind)) is not None
)
numbers = st.one_of(
    # a calling code that exists and any national digits: mostly numbers that cannot
    st.builds(
        lambda code, rest: f"{code}{rest}",
        st.sampled_from(_CALLING_CODES),
        st.from_regex(r"[0-9]{2,14}", fullmatch=True),
    ),
    # phonenumbers' own example numbers with a few digits changed or cut: valid and not
    st.builds(
        lambda example, at, swap, keep: (example[:at] + swap + example[at + len(swap) :])[:keep],
        st.sampled_from(_EXAMPLES),
        st.integers(1, 15),
        st.from_regex(r"[0-9]{0,2}", fullmatch=True),
        st.integers(3, 17),
    ),
    # anything of the shape the E.164 form has
    st.from_regex(r"[1-9][0-9]{6,14}", fullmatch=True),
)


@settings(max_examples=1500, deadline=None)
@given(numbers, st.lists(st.integers(0, 20), max_size=4), st.sampled_from(["US", "NL", "GB"]))
@example("9991234567890", [3, 6, 9], "US")
@example("1234567", [1, 4], "US")
@example("2999999", [3], "US")
@example("4412345", [2], "US")
def test_a_number_s_verdict_is_phonenumbers_whether_compact_or_spaced(
    digits: str, cuts: list[int], region: str
) -> None:
    compact, with_spaces = f"+{digits}", f"+{spaced(digits, cuts)}"
    answer = phonenumbers_answer(compact, region)

    assert phonenumbers_answer(with_spaces, region) == answer
    assert n.normalize_phone(compact, region) == answer
    assert n.normalize_phone(with_spaces, region) == answer
    assert n.normalize(Channel.PHONE, f" {with_spaces} ", region) == answer
    texts = None if answer is None or number_type(answer) in NOT_FOR_TEXTS else answer
    assert n.normalize(Channel.SMS, compact, region, sms_receivers_only=True) == texts
    assert n.normalize(Channel.SMS, with_spaces, region, sms_receivers_only=True) == texts


@settings(max_examples=300, deadline=None)
@given(numbers, st.sampled_from(["US", "NL", "GB"]))
def test_a_sender_s_number_is_kept_in_the_form_a_valid_number_gets(
    digits: str, region: str
) -> None:
    valid = n.normalize_phone(f"+{digits}", region)
    sender = n.sender_number(f"+{digits}", region)

    assert valid is None or sender == valid


def test_each_channel_has_its_rule() -> None:
    assert n.normalize(Channel.EMAIL, "A@B.CO", "US") == "a@b.co"
    assert n.normalize(Channel.SMS, "06 12345678", "NL") == "+31612345678"
    assert n.normalize(Channel.PHONE, "nope", "NL") is None
    assert n.normalize(Channel.PUSH, " device-token ", "NL") == "device-token"
    assert n.normalize(Channel.DIRECT_MAIL, "  ", "NL") is None
