"""What one stream record adds to the daily counts, as plain values.

Each record adds one to each of its cells; a cell is a series, a day and dimensions:

- `consent-by-source` `<action>#<source>` and `consent-by-channel`
  `<action>#<channel, or all>`: a consent event of scope all or a channel, opt_in or
  opt_out;
- `subscriptions` `<new state>#<service id>`: a consent event of a service's scope;
- `quarantine` `entered#<status>#<cause>`: an address event that put the address in
  quarantine or on the denylist; `released#<status it left>#<cause>`: one that took it
  out of there;
- `email-feedback` `<complaint or hard_bounce>#<recipient domain>`: an e-mail
  complaint or hard bounce, as written (held by the outage guard or not: it was said
  either way); `delivery#<domain>`: an SES delivery, counted by the feedback function
  as it applies it (a delivery writes no event unless it changes the address), see
  `cells.delivery_tally`;
- `sending-feedback`, the same by sending domain, where SES named the source.

The day is the UTC date of the event's own time (`at`): when the change was made, or
when the feedback happened. The cause of an entry is the failure reason when it is
one of the codes (`user_unknown`, `mailbox_full`, ...), otherwise the kind of event
that made it (`complaint`, `sms_keyword`, `operator`, ...); the cause of a release is
the kind of event that made it (`release`, `scheduled`, `opt_in`, `operator`, ...). An
operator's free-text reason never becomes a dimension. Only the
recipient's domain of an address is counted, never the address.

Each counted record carries a marker id, the same on every delivery of the record, so
that the store counts it once. A record this module cannot read, or whose values are
not ones it knows, is `UnreadableRecordError`: the caller skips it and says so in a
metric, since a count must never hold up the events themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from consentry.addresses.events import EventKind
from consentry.addresses.reasons import ErrorType, FailureReason
from consentry.addresses.status import AddressStatus
from consentry.consent.subscriptions import SubscriptionStatus
from consentry.core.types import Action, Channel, ScopeKind, Source
from consentry.events.changes import stored_time
from consentry.events.records import StreamRecord
from consentry.reporting import counter_store
from consentry.reporting.cells import (
    SEPARATOR,
    Cell,
    Direction,
    Feedback,
    Series,
    Tally,
    UnreadableRecordError,
    domain_of,
    feedback_cells,
    marker,
)

ALL_CHANNELS = "all"


_COUNTED_ACTIONS = frozenset({Action.OPT_IN.value, Action.OPT_OUT.value})
_BLOCKED = frozenset({AddressStatus.QUARANTINE.value, AddressStatus.DENYLISTED.value})
_REASONS = frozenset(reason.value for reason in FailureReason)


def tally_of(record: StreamRecord) -> Tally | None:
    """What a stream record adds to the daily counts, or None."""
    try:
        new = record.new
        if new is None or record.event_name == "REMOVE":
            return None
        if "seq" in record.keys:
            return _consent_tally(new) if record.event_name == "INSERT" else None
        if "address_key" in record.keys:
            old = record.old if record.event_name == "MODIFY" else None
            return _address_tally(new, old, inserted=record.event_name == "INSERT")
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        raise UnreadableRecordError(f"{type(error).__name__} reading the record") from None
    raise UnreadableRecordError("a record of neither events table")


def _consent_tally(item: Mapping[str, Any]) -> Tally | None:
    day = stored_time(item["at"]).date()
    kind, _, value = str(item["scope"]).partition(":")
    action = _known(str(item["action"]), Action)
    source = _known(str(item["source"]), Source)
    consent_marker = marker("consent", str(item["hash"]))
    if kind == ScopeKind.SERVICE.value:
        if not value:
            raise UnreadableRecordError("a service scope without its service")
        state = _known(
            str(item.get("result") or _SERVICE_STATES.get(action, "")), SubscriptionStatus
        )
        return Tally(consent_marker, (Cell(Series.SUBSCRIPTIONS, day, (state, value)),))
    if action not in _COUNTED_ACTIONS:
        return None
    if kind == ScopeKind.ALL.value and not value:
        channel = ALL_CHANNELS
    elif kind == ScopeKind.CHANNEL.value:
        channel = _known(value, Channel)
    else:
        raise UnreadableRecordError("a scope that is none of all, channel or service")
    return Tally(
        consent_marker,
        (
            Cell(Series.CONSENT_BY_SOURCE, day, (action, source)),
            Cell(Series.CONSENT_BY_CHANNEL, day, (action, channel)),
        ),
    )


_SERVICE_STATES = {
    Action.SUBSCRIBE.value: SubscriptionStatus.PENDING.value,
    Action.CONFIRM.value: SubscriptionStatus.SUBSCRIBED.value,
    Action.UNSUBSCRIBE.value: SubscriptionStatus.UNSUBSCRIBED.value,
}


def _address_tally(
    item: Mapping[str, Any], old: Mapping[str, Any] | None, *, inserted: bool
) -> Tally | None:
    address_key = str(item["address_key"])
    channel_text, _, address = address_key.partition(SEPARATOR)
    channel = _known(channel_text, Channel)
    day = stored_time(item["at"]).date()
    kind = _known(str(item["kind"]), EventKind)
    detail = item.get("detail") or {}
    cells: list[Cell] = []
    if inserted and channel == Channel.EMAIL.value:
        feedback = _feedback_of(kind, item.get("error_type"))
        if feedback is not None:
            sender = detail.get("sender_domain")
            cells.extend(feedback_cells(feedback, day, domain_of(address), sender))
    status = detail.get("status")
    previous = (
        detail.get("previous_status") if old is None else (old.get("detail") or {}).get("status")
    )
    if item.get("held_domain") is None and status is not None and previous not in (None, status):
        status, previous = _known(str(status), AddressStatus), _known(str(previous), AddressStatus)
        reason = item.get("reason")
        if status in _BLOCKED:
            cause = reason if reason in _REASONS else kind
            cells.append(Cell(Series.QUARANTINE, day, (Direction.ENTERED, status, str(cause))))
        elif previous in _BLOCKED:
            cells.append(Cell(Series.QUARANTINE, day, (Direction.RELEASED, previous, kind)))
    if not cells:
        return None
    # An INSERT is one event; a MODIFY that changed the status (an operator deciding
    # held feedback) is one more change of the same event, told apart by its version.
    occurrence = "insert" if inserted else f"modify:{detail.get('version', '')}"
    return Tally(marker("address", address_key, str(item["event_id"]), occurrence), tuple(cells))


def _feedback_of(kind: str, error_type: Any) -> Feedback | None:
    if kind == EventKind.COMPLAINT.value:
        return Feedback.COMPLAINT
    if kind == EventKind.BOUNCE.value and error_type == ErrorType.HARD.value:
        return Feedback.HARD_BOUNCE
    return None


def _known(value: str, values: type[StrEnum]) -> str:
    if value not in values._value2member_map_:
        raise UnreadableRecordError(f"an unknown {values.__name__}")
    return value


@dataclass(frozen=True)
class RecordsCounted:
    counted: int
    repeated: int
    unreadable: int
    """Records skipped because they could not be read (`cells.UnreadableRecordError`)."""


def count_records(records: Iterable[StreamRecord], now: datetime) -> RecordsCounted:
    """Add what each stream record tallies, once."""
    tallies: list[Tally] = []
    unreadable = 0
    for record in records:
        try:
            tally = tally_of(record)
        except UnreadableRecordError:
            unreadable += 1
            continue
        if tally is not None:
            tallies.append(tally)
    done = counter_store.add(tallies, now)
    return RecordsCounted(done.counted, done.repeated, unreadable)
