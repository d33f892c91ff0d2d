"""Delivery feedback as typed values: SES notifications and inbound SMS, parsed.

One SQS message body holds one notification, wrapped in SNS's envelope or not (raw
message delivery). SES publishes two shapes: identity notifications
(`notificationType`) and event publishing (`eventType`); both carry the same `mail`,
`bounce`, `complaint` and `delivery` objects. Inbound SMS (AWS End User Messaging
two-way SMS) carries `originationNumber` and `messageBody`.

Parsing is strict about what the rules need and blind to everything else: SES
reserves the right to add fields, so unknown fields and unknown event types are
ignored, while a body that is not a notification at all is `MalformedFeedbackError`
(no retry can fix it: it belongs in the dead-letter queue). A recipient that is not
an address does not spoil its notification: it becomes a `MalformedRecipient` in the
result, its fellow recipients are applied, and only a message from which nothing can
be applied is dead-lettered. The bounce mapping is domain.md section 2.

The SES shapes are msgspec structs: each field's type and bounds are checked as the
notification is converted, without pydantic (docs/decisions.md, "SES notifications
are read with msgspec"); times must be RFC 3339, as SES writes them.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import msgspec

from consentry.addresses.events import event_key
from consentry.addresses.normalize import normalize_email, sender_number
from consentry.addresses.reasons import ErrorType, FailureReason
from consentry.core.errors import ConsentryError
from consentry.core.types import Address, Channel


class MalformedFeedbackError(ConsentryError):
    """A message that is not feedback this service can read; retrying cannot help."""


class FeedbackKind(StrEnum):
    BOUNCE = "bounce"
    COMPLAINT = "complaint"
    DELIVERY = "delivery"


# (bounceType, bounceSubType) -> what it means for the address. A sub-type SES adds
# later falls back to its bounce type's row (`None`).
_BOUNCES: dict[tuple[str, str | None], tuple[ErrorType, FailureReason]] = {
    ("Permanent", "General"): (ErrorType.HARD, FailureReason.USER_UNKNOWN),
    ("Permanent", "NoEmail"): (ErrorType.HARD, FailureReason.USER_UNKNOWN),
    ("Permanent", "Suppressed"): (ErrorType.HARD, FailureReason.REFUSED),
    ("Permanent", "OnAccountSuppressionList"): (ErrorType.HARD, FailureReason.REFUSED),
    ("Permanent", None): (ErrorType.HARD, FailureReason.USER_UNKNOWN),
    ("Transient", "MailboxFull"): (ErrorType.SOFT, FailureReason.MAILBOX_FULL),
    ("Transient", "General"): (ErrorType.SOFT, FailureReason.UNREACHABLE),
    ("Transient", "MessageTooLarge"): (ErrorType.IGNORED, FailureReason.ERROR_IGNORED),
    ("Transient", "ContentRejected"): (ErrorType.IGNORED, FailureReason.ERROR_IGNORED),
    ("Transient", "AttachmentRejected"): (ErrorType.IGNORED, FailureReason.ERROR_IGNORED),
    ("Transient", None): (ErrorType.SOFT, FailureReason.UNREACHABLE),
    ("Undetermined", None): (ErrorType.SOFT, FailureReason.UNREACHABLE),
}
_UNKNOWN_BOUNCE = (ErrorType.SOFT, FailureReason.UNREACHABLE)

NOT_SPAM = "not-spam"


def classify_bounce(bounce_type: str, sub_type: str | None) -> tuple[ErrorType, FailureReason]:
    """What an SES bounce means for the address; an unknown type is a soft error."""
    return (
        _BOUNCES.get((bounce_type, sub_type))
        or _BOUNCES.get((bounce_type, None))
        or _UNKNOWN_BOUNCE
    )


@dataclass(frozen=True, slots=True)
class AddressFeedback:
    """One recipient's outcome of one message."""

    kind: FeedbackKind
    channel: Channel
    address: Address
    at: datetime
    message_id: str
    error_type: ErrorType | None = None
    reason: FailureReason | None = None
    detail: Mapping[str, str] = field(default_factory=dict)
    """What SES said, minus anything personal (no diagnostic text: it quotes addresses)."""

    @property
    def key(self) -> str:
        """Idempotency key: the same outcome of the same message for the same recipient."""
        return event_key(self.kind.value, self.message_id, self.address)


class SmsKeyword(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"


OPT_OUT_WORDS = frozenset(
    {
        "STOP",
        "STOPALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "REVOKE",
        "OPTOUT",
        "OPT-OUT",
        "REMOVE",
        "ARRET",
        "AFMELDEN",
        "STOPPEN",
    }
)
OPT_IN_WORDS = frozenset({"START", "UNSTOP", "YES"})
HELP_WORDS = frozenset({"HELP", "INFO"})

_FIRST_WORD = re.compile(r"\s*(\S+)")
_EDGE_PUNCTUATION = ".,;:!?\"'()[]"


def sms_keyword(body: str) -> SmsKeyword | None:
    """The keyword of an inbound text: its first word, any case, accents and
    surrounding punctuation ignored (`Stop.`, `arrêt`)."""
    match = _FIRST_WORD.match(body)
    if match is None:
        return None
    decomposed = unicodedata.normalize("NFKD", match.group(1))
    word = "".join(c for c in decomposed if not unicodedata.combining(c))
    word = word.strip(_EDGE_PUNCTUATION).upper()
    if word in OPT_OUT_WORDS:
        return SmsKeyword.OPT_OUT
    if word in OPT_IN_WORDS:
        return SmsKeyword.OPT_IN
    if word in HELP_WORDS:
        return SmsKeyword.HELP
    return None


@dataclass(frozen=True, slots=True)
class InboundSms:
    """A text a recipient sent to one of our numbers."""

    message_id: str
    number: Address
    """The sender, in E.164: the address the keyword is about."""
    our_number: str
    """The number (or identity) the text was sent to: replies go out from it."""
    keyword: SmsKeyword | None
    at: datetime

    @property
    def key(self) -> str:
        return event_key("sms", self.message_id, self.number)


@dataclass(frozen=True, slots=True)
class MalformedRecipient:
    """A recipient of a notification that is not an address: recorded, never applied.

    It keeps no trace of what was written there (it may be half an address)."""

    kind: FeedbackKind
    message_id: str


Feedback = AddressFeedback | InboundSms
Parsed = Feedback | MalformedRecipient


def parse_body(body: str, *, received_at: datetime, default_region: str) -> list[Parsed]:
    """The feedback one queue message carries, one item per recipient (a recipient
    that is not an address is a `MalformedRecipient`); empty for notifications that
    carry none (opens, clicks, sends, SNS subscription confirmations, SES's own test
    message).

    `received_at` dates inbound texts, which carry no time of their own.
    """
    document = _json_object(body)
    if "Type" in document and "TopicArn" in document:
        if document["Type"] != "Notification":
            return []
        message = document.get("Message")
        if not isinstance(message, str):
            raise MalformedFeedbackError("SNS notification without a Message")
        received_at = _timestamp(document.get("Timestamp")) or received_at
        document = _json_object(message)
    return parse_notification(document, received_at=received_at, default_region=default_region)


def parse_notification(
    document: Mapping[str, Any], *, received_at: datetime, default_region: str
) -> list[Parsed]:
    kind = document.get("notificationType", document.get("eventType"))
    if kind is None:
        if "originationNumber" in document:
            return [_inbound_sms(document, received_at, default_region)]
        raise MalformedFeedbackError("neither an SES notification nor an inbound SMS")
    try:
        if kind == "Bounce":
            return list(_bounces(msgspec.convert(document, _SesBounceNotification)))
        if kind == "Complaint":
            return list(_complaints(msgspec.convert(document, _SesComplaintNotification)))
        if kind == "Delivery":
            return list(_deliveries(msgspec.convert(document, _SesDeliveryNotification)))
    except msgspec.ValidationError as error:  # names the field, never its value
        raise MalformedFeedbackError(f"{kind} notification: {error}") from None
    return []


# ------------------------------------------------------------------ the SES shapes
class _Ses(msgspec.Struct, rename="camel", frozen=True, kw_only=True):
    """A part of an SES notification: camelCase, fields we do not read ignored."""


NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]


class _Mail(_Ses, frozen=True, kw_only=True):
    message_id: NonEmpty
    timestamp: datetime
    source: Any = None
    """The sending address; its domain is what mailbox providers rate a sender by. Not
    needed by the rules: whatever it holds never spoils the notification."""

    @property
    def sender(self) -> dict[str, str]:
        """`sender_domain` for a feedback's detail, when the source is an address."""
        address = normalize_email(self.source) if isinstance(self.source, str) else None
        return {"sender_domain": address.rpartition("@")[2]} if address else {}


class _BouncedRecipient(_Ses, frozen=True, kw_only=True):
    email_address: str
    status: str | None = None


class _Bounce(_Ses, frozen=True, kw_only=True):
    bounce_type: str
    bounce_sub_type: str | None = None
    bounced_recipients: Annotated[list[_BouncedRecipient], msgspec.Meta(min_length=1)]
    timestamp: datetime | None = None


class _ComplainedRecipient(_Ses, frozen=True, kw_only=True):
    email_address: str


class _Complaint(_Ses, frozen=True, kw_only=True):
    complained_recipients: Annotated[list[_ComplainedRecipient], msgspec.Meta(min_length=1)]
    complaint_feedback_type: str | None = None
    complaint_sub_type: str | None = None
    timestamp: datetime | None = None


class _Delivery(_Ses, frozen=True, kw_only=True):
    recipients: Annotated[list[str], msgspec.Meta(min_length=1)]
    timestamp: datetime | None = None


class _SesBounceNotification(_Ses, frozen=True, kw_only=True):
    mail: _Mail
    bounce: _Bounce


class _SesComplaintNotification(_Ses, frozen=True, kw_only=True):
    mail: _Mail
    complaint: _Complaint


class _SesDeliveryNotification(_Ses, frozen=True, kw_only=True):
    mail: _Mail
    delivery: _Delivery


def _bounces(notification: _SesBounceNotification) -> list[Parsed]:
    bounce, mail = notification.bounce, notification.mail
    error_type, reason = classify_bounce(bounce.bounce_type, bounce.bounce_sub_type)
    at = _utc(bounce.timestamp or mail.timestamp)
    detail = {
        "bounce_type": bounce.bounce_type,
        "bounce_sub_type": bounce.bounce_sub_type or "",
        **mail.sender,
    }
    return [
        AddressFeedback(
            kind=FeedbackKind.BOUNCE,
            channel=Channel.EMAIL,
            address=address,
            at=at,
            message_id=mail.message_id,
            error_type=error_type,
            reason=reason,
            detail={**detail, "smtp_status": recipient.status} if recipient.status else detail,
        )
        if address
        else MalformedRecipient(FeedbackKind.BOUNCE, mail.message_id)
        for recipient in bounce.bounced_recipients
        for address in [normalize_email(recipient.email_address)]
    ]


def _complaints(notification: _SesComplaintNotification) -> list[Parsed]:
    complaint, mail = notification.complaint, notification.mail
    if complaint.complaint_feedback_type == NOT_SPAM:
        return []
    at = _utc(complaint.timestamp or mail.timestamp)
    detail = {
        name: value
        for name, value in (
            ("feedback_type", complaint.complaint_feedback_type),
            ("sub_type", complaint.complaint_sub_type),
        )
        if value
    } | mail.sender
    return [
        AddressFeedback(
            kind=FeedbackKind.COMPLAINT,
            channel=Channel.EMAIL,
            address=address,
            at=at,
            message_id=mail.message_id,
            detail=detail,
        )
        if address
        else MalformedRecipient(FeedbackKind.COMPLAINT, mail.message_id)
        for recipient in complaint.complained_recipients
        for address in [normalize_email(recipient.email_address)]
    ]


def _deliveries(notification: _SesDeliveryNotification) -> list[Parsed]:
    delivery, mail = notification.delivery, notification.mail
    at = _utc(delivery.timestamp or mail.timestamp)
    return [
        AddressFeedback(
            kind=FeedbackKind.DELIVERY,
            channel=Channel.EMAIL,
            address=address,
            at=at,
            message_id=mail.message_id,
            detail=mail.sender,
        )
        if address
        else MalformedRecipient(FeedbackKind.DELIVERY, mail.message_id)
        for recipient in delivery.recipients
        for address in [normalize_email(recipient)]
    ]


def _inbound_sms(
    document: Mapping[str, Any], received_at: datetime, default_region: str
) -> InboundSms:
    origination = document.get("originationNumber")
    message_id = document.get("inboundMessageId")
    destination = document.get("destinationNumber")
    body = document.get("messageBody")
    if not (
        isinstance(origination, str)
        and isinstance(message_id, str)
        and message_id
        and isinstance(destination, str)
        and destination
        and isinstance(body, str)
    ):
        raise MalformedFeedbackError(
            "inbound SMS needs originationNumber, destinationNumber, inboundMessageId "
            "and messageBody"
        )
    number = sender_number(origination, default_region)
    if number is None:
        raise MalformedFeedbackError("inbound SMS from something that is not a phone number")
    return InboundSms(
        message_id=message_id,
        number=number,
        our_number=destination,
        keyword=sms_keyword(body),
        at=_utc(received_at),
    )


def _json_object(text: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except ValueError:
        raise MalformedFeedbackError("not JSON") from None
    if not isinstance(document, dict):
        raise MalformedFeedbackError("not a JSON object")
    return document


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return _utc(datetime.fromisoformat(value))
    except ValueError:
        return None


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
