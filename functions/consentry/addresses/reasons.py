"""What a failed delivery means for its address: the error's type and the failure
reason, with the codes Adobe Campaign gives them (domain.md section 2).

Their own module, apart from the feedback's parsing (consentry.addresses.feedback):
the counting rules, the address decisions and the daily counters speak of them, and
the functions that count or decide without parsing feedback (the analysis steps, the
operator API) load these alone.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorType(StrEnum):
    HARD = "hard"
    """Quarantines at once."""
    SOFT = "soft"
    """Counted; the policy's threshold quarantines."""
    IGNORED = "ignored"
    """A problem of the message, not the address: never counts."""


class FailureReason(StrEnum):
    """Failure reasons, with the codes Adobe Campaign gives them (domain.md section 2)."""

    USER_UNKNOWN = "user_unknown"
    INVALID_DOMAIN = "invalid_domain"
    UNREACHABLE = "unreachable"
    ACCOUNT_DISABLED = "account_disabled"
    MAILBOX_FULL = "mailbox_full"
    NOT_CONNECTED = "not_connected"
    ADDRESS_NOT_SPECIFIED = "address_not_specified"
    DENYLISTED_ADDRESS = "denylisted_address"
    ADDRESS_IN_QUARANTINE = "address_in_quarantine"
    DUPLICATE = "duplicate"
    REFUSED = "refused"
    ERROR_IGNORED = "error_ignored"

    @property
    def code(self) -> int:
        return _REASON_CODES[self]


_REASON_CODES = {
    FailureReason.USER_UNKNOWN: 1,
    FailureReason.INVALID_DOMAIN: 2,
    FailureReason.UNREACHABLE: 3,
    FailureReason.ACCOUNT_DISABLED: 4,
    FailureReason.MAILBOX_FULL: 5,
    FailureReason.NOT_CONNECTED: 6,
    FailureReason.ADDRESS_NOT_SPECIFIED: 7,
    FailureReason.DENYLISTED_ADDRESS: 8,
    FailureReason.ADDRESS_IN_QUARANTINE: 9,
    FailureReason.DUPLICATE: 10,
    FailureReason.REFUSED: 20,
    FailureReason.ERROR_IGNORED: 25,
}
