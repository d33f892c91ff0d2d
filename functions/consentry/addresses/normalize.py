"""Address normalization, shared by the API, the feedback ingestion and the analysis.

An address is valid only if the sender can deliver to it, whatever way it is written
(domain.md section 6, docs/analysis-contract.md "Addresses"):

- Email: trimmed, lower-cased, checked by email-validator (no DNS) with a local part of
  at most 64 octets, in ASCII unless the sender supports SMTPUTF8 (SES does not), the
  domain in its IDNA (ASCII) form. The analysis calls this once per audience row, so an
  address already in normal form takes a fast path that gives the library's answer
  without it (a property test holds the two together).
- Phone: E.164, read by phonenumbers in a configurable default region, valid only if
  phonenumbers says the number can exist (`is_valid_number`). A number written with an
  extension or with letters is refused. The verdict on an SMS send also refuses a
  number whose type cannot receive a text (fixed line, toll-free, premium rate) unless
  the deployment allows it. There is no fast path: every number goes through the
  library (remembered per text), as no shortcut gives its answer on every input.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache, partial

from consentry.core.types import Address, Channel

# The fast path accepts a plain address: a dot-atom local part of at most 64 characters
# and a domain of LDH labels under an alphabetic, not special-use TLD, with no label
# that has hyphens in its third and fourth places (`xn--`, whose punycode only the
# library checks, and the other reserved R-LDH labels, which it refuses). The domain's
# verdict is remembered: audiences repeat few domains many times.
# The quantifiers are possessive: the runs of atext cannot hold a dot, so backtracking
# into them never finds a match, and sre spends about a quarter less time without it.
LOCAL_PART = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~-]++(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]++)*+")
_PLAIN_DOMAIN = re.compile(r"(?:(?!..--)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
_SPECIAL_USE = ("arpa", "invalid", "local", "localhost", "onion", "test")
MAX_LOCAL_PART = 64
_MAX_DOMAIN = 254 - MAX_LOCAL_PART - 1
"""Longer domains take the library's path, so that a fast answer is at most 254 long."""
_DOMAINS_KEPT = 65536
_NOT_FOR_SMS = frozenset({"FIXED_LINE", "TOLL_FREE", "PREMIUM_RATE"})
"""Number types (phonenumbers' `PhoneNumberType` names) that phonenumbers knows and that
cannot receive a text. Numbers it cannot place (FIXED_LINE_OR_MOBILE, as most North
American numbers are) may."""
_TEL_URI = "tel:"
PLAIN_DOMAINS: dict[str, bool] = {}
"""The remembered verdicts of `plain_domain`; read it before calling that."""


def normalize_email(raw: str, *, smtputf8: bool = False) -> Address | None:
    """The normalized address, or None when it is not one the sender can deliver to.

    `smtputf8`: the sender supports SMTPUTF8, so local parts may hold non-ASCII letters.
    The fast path takes ASCII addresses only, whose answer does not depend on it."""
    candidate = raw.strip().lower()
    local, at, domain = candidate.partition("@")
    if (
        at
        and (PLAIN_DOMAINS.get(domain) or plain_domain(domain))
        and len(local) <= MAX_LOCAL_PART
        and LOCAL_PART.fullmatch(local)
    ):
        return Address(candidate)
    return _validated_email(candidate, smtputf8)


def plain_domain(domain: str) -> bool:
    """Whether the fast path may take an address at `domain` (remembered).

    Callers read `PLAIN_DOMAINS` first and come here on a miss or a remembered no; a
    no is answered from memory here, off the path of plain domains."""
    remembered = PLAIN_DOMAINS.get(domain)
    if remembered is not None:
        return remembered
    plain = (
        len(domain) <= _MAX_DOMAIN
        and _PLAIN_DOMAIN.fullmatch(domain) is not None
        and domain.rpartition(".")[2] not in _SPECIAL_USE
    )
    if len(PLAIN_DOMAINS) >= _DOMAINS_KEPT:
        PLAIN_DOMAINS.clear()
    PLAIN_DOMAINS[domain] = plain
    return plain


@lru_cache(maxsize=4096)
def _validated_email(candidate: str, smtputf8: bool = False) -> Address | None:
    """email-validator's answer: `strict` holds the local part to 64 characters, and
    without SMTPUTF8 those are ASCII; with it, the limit is 64 octets (RFC 6531 3.3)."""
    # Imported off the fast path: the library and its tables are a tenth of a cold start.
    from email_validator import EmailNotValidError, validate_email  # noqa: PLC0415

    try:
        checked = validate_email(
            candidate, check_deliverability=False, strict=True, allow_smtputf8=smtputf8
        )
    except EmailNotValidError:
        return None
    local = checked.local_part
    if len(local.encode()) > MAX_LOCAL_PART:
        return None
    return Address(f"{local}@{checked.ascii_domain}".lower())


def normalize_phone(
    raw: str, default_region: str, *, sms_receivers_only: bool = False
) -> Address | None:
    """The number in E.164, or None when it is not a phone number one can reach.

    Refused: a number phonenumbers does not hold valid, one written with an extension
    or with letters (vanity numbers, a trailing `x`); with `sms_receivers_only`, one
    whose known type cannot receive a text. Accepted as phonenumbers reads them: a
    `tel:` URI, fullwidth digits and plus signs, a doubled plus."""
    return _parsed_phone(raw.strip(), default_region, sms_receivers_only)


@lru_cache(maxsize=4096)
def _parsed_phone(candidate: str, default_region: str, sms_types_only: bool) -> Address | None:
    text = candidate[len(_TEL_URI) :] if candidate[:4].lower() == _TEL_URI else candidate
    if any(character.isalpha() for character in text):
        return None
    import phonenumbers  # noqa: PLC0415 (off the fast path, as email-validator)

    try:
        number = phonenumbers.parse(candidate, default_region)
    except phonenumbers.NumberParseException:
        return None
    if number.extension is not None:
        return None
    if sms_types_only:
        # number_type is UNKNOWN exactly when is_valid_number is false (both match the
        # number against its region's patterns): one lookup of the region, not two.
        kind = phonenumbers.number_type(number)
        if kind == phonenumbers.PhoneNumberType.UNKNOWN or kind in _types_not_for_sms():
            return None
    elif not phonenumbers.is_valid_number(number):
        return None
    return Address(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


@lru_cache(maxsize=1)
def _types_not_for_sms() -> frozenset[int]:
    import phonenumbers  # noqa: PLC0415 (off the fast path, as email-validator)

    return frozenset(getattr(phonenumbers.PhoneNumberType, name) for name in _NOT_FOR_SMS)


def sender_number(raw: str, default_region: str) -> Address | None:
    """The E.164 form of the number a carrier names as a text's sender, or None when it
    is not a phone number at all.

    The number exists (a text came from it), so only its form is checked: a possible
    number, not a valid one, as phonenumbers' data may lag a new range, and a STOP from
    it must not be lost. For a valid number this is `normalize_phone`'s answer."""
    import phonenumbers  # noqa: PLC0415 (off the fast path, as email-validator)

    try:
        number = phonenumbers.parse(raw.strip(), default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return Address(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def normalize(
    channel: Channel,
    raw: str,
    default_region: str,
    *,
    smtputf8: bool = False,
    sms_receivers_only: bool = False,
) -> Address | None:
    """The normalized address for a channel, or None when it does not parse.

    Channels without a syntax of their own (direct mail, push) are trimmed only.
    `smtputf8` is `Settings.sender_smtputf8`. `sms_receivers_only` is for verdicts on
    a send (the analysis, the checks), which set it unless `Settings.
    sms_any_number_type`: an SMS number whose type cannot receive a text is then refused.
    An address as a key (the stores, the feedback) does not depend on it.
    """
    return normalizer(
        channel, default_region, smtputf8=smtputf8, sms_receivers_only=sms_receivers_only
    )(raw)


def normalizer(
    channel: Channel,
    default_region: str,
    *,
    smtputf8: bool = False,
    sms_receivers_only: bool = False,
) -> Callable[[str], Address | None]:
    """`normalize` with the channel and the settings chosen once, not per address."""
    if channel is Channel.EMAIL:
        return partial(normalize_email, smtputf8=True) if smtputf8 else normalize_email
    if channel in (Channel.SMS, Channel.PHONE):
        return partial(
            normalize_phone,
            default_region=default_region,
            sms_receivers_only=sms_receivers_only and channel is Channel.SMS,
        )
    return _trimmed


def _trimmed(raw: str) -> Address | None:
    trimmed = raw.strip()
    return Address(trimmed) if trimmed else None
