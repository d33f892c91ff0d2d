"""Inbound SMS keywords (domain.md section 2): STOP and its kin denylist the number on
`sms`, START/UNSTOP/YES lift exactly the entry a keyword made, HELP gets help text.

Replies go out through AWS End User Messaging SMS (`pinpoint-sms-voice-v2`
SendTextMessage). The number's opt-outs must be self-managed for the pool or number
(otherwise AWS answers STOP itself, and the recipient would get two texts).

Exactly one confirmation per opt-out: a keyword that changes the address writes its
event, marked `reply: pending`, in the same transaction as the change; the reply is
sent after, and the event marked `sent`. A redelivered keyword finds the event: it
sends only when the reply is still pending (the earlier attempt failed before sending,
or after sending but before marking it: the one case that can send twice). A repeated
STOP for a number already stopped changes nothing and sends nothing.

A reply that fails is logged (the number masked) and counted (`SmsRepliesFailed`).
A failure that may pass (throttling, a server error, no connection: what botocore
retried already) fails the message, so the redelivery sends the reply. A refusal
(any other 4xx: a bad origination identity, no permission, no such service) would
refuse every redelivery too: the event is marked `reply: failed` and the message is
done, since the keyword's change is applied and recorded; nothing is dead-lettered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import ClientError

from consentry.addresses import history_store
from consentry.addresses.decisions import current_state
from consentry.addresses.events import AddressEvent, EventKind, event_id
from consentry.addresses.feedback import InboundSms, SmsKeyword
from consentry.addresses.status import (
    SMS_KEYWORD_ORIGIN,
    AddressState,
    with_origin,
    without_origins,
)
from consentry.core.clock import Clock
from consentry.core.observability import logger, mask_address, metrics
from consentry.core.persistence import LostRace, optimistically
from consentry.core.types import RECIPIENT_ACTOR, Channel

PENDING, SENT, NOT_SENT, FAILED = "pending", "sent", "not_sent", "failed"
OPTED_OUT_AT_AWS = "DESTINATION_PHONE_NUMBER_OPTED_OUT"
_MAY_PASS = frozenset(
    {"ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded", "Throttling"}
)


def _refused(error: ClientError) -> bool:
    """A 4xx that will be refused again: not worth a redelivery."""
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    code = error.response.get("Error", {}).get("Code", "")
    return 400 <= status < 500 and status != 429 and code not in _MAY_PASS


class TextSender(Protocol):
    """The part of the `pinpoint-sms-voice-v2` client this uses."""

    def send_text_message(self, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class ReplyTexts:
    opt_out: str
    opt_in: str
    help: str

    def for_keyword(self, keyword: SmsKeyword) -> str:
        if keyword is SmsKeyword.OPT_OUT:
            return self.opt_out
        if keyword is SmsKeyword.OPT_IN:
            return self.opt_in
        return self.help


class SmsKeywords:
    def __init__(
        self,
        sender: TextSender,
        texts: ReplyTexts,
        *,
        origination_identity: str | None,
        clock: Clock,
    ) -> None:
        self._sender = sender
        self._texts = texts
        self._origination_identity = origination_identity
        self._clock = clock

    def handle(self, sms: InboundSms) -> None:
        if sms.keyword is None:
            return  # a conversation, not a keyword: nothing to do
        event = self._record(sms, sms.keyword)
        if event.detail.get("reply") == PENDING:
            self._reply(sms, sms.keyword, event)

    def _record(self, sms: InboundSms, keyword: SmsKeyword) -> AddressEvent:
        """The keyword's event, written now with its change or found from before."""

        def attempt() -> AddressEvent:
            current = current_state(Channel.SMS, sms.number)
            updated = _apply(current, keyword, sms)
            changed = updated != current
            replies = changed or keyword is SmsKeyword.HELP
            event = AddressEvent(
                channel=Channel.SMS,
                address=sms.number,
                event_id=event_id(sms.at, sms.key),
                at=sms.at,
                kind=EventKind.SMS_KEYWORD,
                reason=keyword.value,
                message_id=sms.message_id,
                actor=RECIPIENT_ACTOR,
                detail={
                    "keyword": keyword.value,
                    "changed": changed,
                    "reply": PENDING if replies else None,
                },
            )
            if history_store.record(current, updated, event):
                return event
            stored = history_store.find_event(Channel.SMS, sms.number, event.event_id)
            if stored is None:
                raise LostRace("the keyword's event went missing: read the number again")
            return stored

        return optimistically(attempt, "the number")

    def _reply(self, sms: InboundSms, keyword: SmsKeyword, event: AddressEvent) -> None:
        outcome = SENT
        try:
            self._sender.send_text_message(
                DestinationPhoneNumber=sms.number,
                OriginationIdentity=self._origination_identity or sms.our_number,
                MessageBody=self._texts.for_keyword(keyword),
                MessageType="TRANSACTIONAL",
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if error.response.get("Reason") == OPTED_OUT_AT_AWS:  # a modeled field
                # AWS keeps its own opt-out list for this number and has answered already.
                outcome = NOT_SENT
                logger.warning(
                    "keyword reply not sent: the number is on AWS's opt-out list",
                    extra={"number": mask_address(sms.number)},
                )
            elif _refused(error):
                outcome = FAILED
                self._failed(sms, code, retried=False)
            else:
                self._failed(sms, code, retried=True)
                raise
        except Exception as error:
            self._failed(sms, type(error).__name__, retried=True)
            raise
        history_store.update_event_detail(event, {"reply": outcome, "replied_at": self._clock()})

    @staticmethod
    def _failed(sms: InboundSms, error: str, *, retried: bool) -> None:
        metrics.add_metric(name="SmsRepliesFailed", unit="Count", value=1)
        logger.warning(
            "keyword reply failed: sent again on the redelivery"
            if retried
            else "keyword reply failed and refused: not sent again",
            extra={"number": mask_address(sms.number), "error": error},
        )


def _apply(state: AddressState, keyword: SmsKeyword, sms: InboundSms) -> AddressState:
    if keyword is SmsKeyword.OPT_OUT:
        return with_origin(state, SMS_KEYWORD_ORIGIN, sms.at)
    if keyword is SmsKeyword.OPT_IN:
        return without_origins(state, frozenset({SMS_KEYWORD_ORIGIN}), sms.at)
    return state
