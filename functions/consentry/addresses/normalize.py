"""Address normalization, shared by the API, the feedback ingestion and the analysis.

Email: trimmed, lower-cased, syntax checked by email-validator (no DNS). Phone: E.164,
national numbers read in a configurable default region by phonenumbers. The analysis
calls this once per audience row, so input that is already in normal form takes a fast
path that gives the same answer without the library (a property test holds the two
paths together).
"""

from __future__ import annotations

import re
from functools import lru_cache

from consentry.core.types import Address, Channel

# The fast path accepts a plain address: a dot-atom local part of at most 64 characters
# and a domain of LDH labels under an alphabetic, not special-use TLD, with no label
# that has hyphens in its third and fourth places (`xn--`, which email-validator turns
# into Unicode, and the other reserved R-LDH labels, which it refuses). The domain's
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
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
PLAIN_DOMAINS: dict[str, bool] = {}
"""The remembered verdicts of `plain_domain`; read it before calling that."""


def normalize_email(raw: str) -> Address | None:
    """The normalized address, or None when it is not an email address."""
    candidate = raw.strip().lower()
    local, at, domain = candidate.partition("@")
    if (
        at
        and (PLAIN_DOMAINS.get(domain) or plain_domain(domain))
        and len(local) <= MAX_LOCAL_PART
        and LOCAL_PART.fullmatch(local)
    ):
        return Address(candidate)
    return _validated_email(candidate)


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
def _validated_email(candidate: str) -> Address | None:
    # Imported off the fast path: the library and its tables are a tenth of a cold start.
    from email_validator import EmailNotValidError, validate_email  # noqa: PLC0415

    try:
        checked = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError:
        return None
    return Address(checked.normalized.lower())


def normalize_phone(raw: str, default_region: str) -> Address | None:
    """The number in E.164, or None when it is not a possible phone number."""
    candidate = raw.strip()
    if _E164.fullmatch(candidate):
        return Address(candidate)
    return _parsed_phone(candidate, default_region)


@lru_cache(maxsize=4096)
def _parsed_phone(candidate: str, default_region: str) -> Address | None:
    import phonenumbers  # noqa: PLC0415 (off the fast path, as email-validator)

    try:
        number = phonenumbers.parse(candidate, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return Address(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def normalize(channel: Channel, raw: str, default_region: str) -> Address | None:
    """The normalized address for a channel, or None when it does not parse.

    Channels without a syntax of their own (direct mail, push) are trimmed only.
    """
    if channel is Channel.EMAIL:
        return normalize_email(raw)
    if channel in (Channel.SMS, Channel.PHONE):
        return normalize_phone(raw, default_region)
    trimmed = raw.strip()
    return Address(trimmed) if trimmed else None
