"""Thirty days of backdated history for `make run`, so every chart of the console shows
something on first start.

Everything goes through the product's own paths with a clock set back: opt-outs and
opt-ins from every source through the consent store, subscriptions to the demo
newsletter, operators' quarantines and their releases through the address decisions,
and deliveries, hard bounces and complaints as SES notifications on the feedback
topic, which the quarantine function applies when the stack's queue pollers start. The daily counts
then fill from the tables' streams like any change's. Deterministic: the same history
on every start (relative to the day it starts).

The history ends with a provider outage, now: soft bounces for more addresses of one
domain than the outage guard lets through, so the guard holds them and the console's
outage holds page has a domain to release or apply.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from consentry.addresses.decisions import put_status, release
from consentry.addresses.reasons import FailureReason
from consentry.addresses.status import AddressState, AddressStatus
from consentry.consent.profile_store import record_change
from consentry.consent.rules import ConsentChange, Scope
from consentry.consent.subscriptions import SubscriptionStatus
from consentry.core.settings import get_settings
from consentry.core.types import Action, Address, Channel, ProfileId, ServiceId, Source

DAYS = 30
DOMAINS = ("example.com", "example.org", "example.net", "mail.example", "post.example.de")
OPERATOR = "demo.operator@example.com"
SENDERS = ("news@mail.example.org", "offers@promo.example.com")
"""Two sending identities, so the chart by sending domain has two bars."""
OUTAGE_DOMAIN = "down.example"
"""The domain of the outage: none of `DOMAINS`, whose deliveries would dilute its failures."""
OUTAGE_MARGIN = 10
"""Bounces of the outage beyond the guard's threshold: held as they come, not retroactively."""
_SOURCES = (
    (Source.ONE_CLICK, 4),
    (Source.LANDING, 3),
    (Source.SMS_KEYWORD, 1),
    (Source.OPERATOR, 1),
    (Source.IMPORT, 1),
)
_REASONS = (
    FailureReason.USER_UNKNOWN,
    FailureReason.MAILBOX_FULL,
    FailureReason.INVALID_DOMAIN,
    FailureReason.ACCOUNT_DISABLED,
    FailureReason.REFUSED,
)
RELEASE_AFTER = timedelta(days=3)


@dataclass
class Seeded:
    """How many changes of each kind the history wrote (feedback: published)."""

    consent_changes: int = 0
    subscription_changes: int = 0
    quarantined: int = 0
    released: int = 0
    feedback: int = 0
    """SES notifications published."""
    deliveries: int = 0
    outage_bounces: int = 0
    """Soft bounces of the outage at `OUTAGE_DOMAIN`, for the outage guard to hold."""


def seed_history(
    newsletter: ServiceId, feedback_topic_arn: str, *, now: datetime, region: str
) -> Seeded:
    """Write 30 days of history up to `now`, oldest first (a few hundred writes), then
    the outage."""
    sns = boto3.client("sns", region_name=region)
    history = _History(newsletter, feedback_topic_arn, sns, now)
    for back in range(DAYS - 1, -1, -1):
        history.day(now - timedelta(days=back))
    history.outage(get_settings().outage_min_failures + OUTAGE_MARGIN)
    return history.seeded


@dataclass
class _History:
    newsletter: ServiceId
    topic_arn: str
    sns: Any
    _now: datetime
    seeded: Seeded = field(default_factory=Seeded)
    rng: random.Random = field(default_factory=lambda: random.Random(14))  # noqa: S311 (demo data)
    serial: Iterator[int] = field(default_factory=lambda: iter(range(1_000_000)))
    opted_out: list[tuple[ProfileId, Scope]] = field(default_factory=list)
    pending: list[ProfileId] = field(default_factory=list)
    to_release: list[tuple[datetime, AddressState]] = field(default_factory=list)
    _day: datetime = field(init=False)

    def day(self, day: datetime) -> None:
        self._day = day
        self._consent()
        self._subscriptions()
        self._quarantine()
        self._feedback()

    def at(self) -> datetime:
        """A time of the day, never after now."""
        hour, minute = self.rng.randint(7, 21), self.rng.randint(0, 59)
        return min(self._day.replace(hour=hour, minute=minute), self._now)

    def profile(self) -> ProfileId:
        return ProfileId(f"history-{next(self.serial):04d}")

    def mail(self, addresses: list[str]) -> dict[str, Any]:
        """SES's `mail` object of a message sent to `addresses` today."""
        return {
            "timestamp": _iso(self.at()),
            "source": self.rng.choice(SENDERS),
            "messageId": f"history-{next(self.serial)}",
            "destination": addresses,
        }

    def address(self) -> str:
        return f"history.{next(self.serial)}@{self.rng.choice(DOMAINS)}"

    def _consent(self) -> None:
        sources = [source for source, _ in _SOURCES]
        weights = [weight for _, weight in _SOURCES]
        for _ in range(self.rng.randint(2, 6)):
            source = self.rng.choices(sources, weights)[0]
            scope = (
                Scope.channel(Channel.SMS)
                if source is Source.SMS_KEYWORD
                else self.rng.choice([Scope.all(), Scope.all(), Scope.channel(Channel.EMAIL)])
            )
            profile = self.profile()
            _change(profile, scope, Action.OPT_OUT, source, self.at())
            self.seeded.consent_changes += 1
            self.opted_out.append((profile, scope))
        for _ in range(self.rng.randint(0, 2)):
            if not self.opted_out:
                break
            profile, scope = self.opted_out.pop(self.rng.randrange(len(self.opted_out)))
            source = self.rng.choice([Source.LANDING, Source.OPERATOR, Source.IMPORT])
            _change(profile, scope, Action.OPT_IN, source, self.at())
            self.seeded.consent_changes += 1

    def _subscriptions(self) -> None:
        scope = Scope.service(self.newsletter)
        for profile in list(self.pending):
            if self.rng.random() < 0.7:
                _change(profile, scope, Action.CONFIRM, Source.LANDING, self.at())
                self.seeded.subscription_changes += 1
                self.pending.remove(profile)
        for _ in range(self.rng.randint(0, 3)):
            profile = self.profile()
            _change(
                profile,
                scope,
                Action.SUBSCRIBE,
                Source.LANDING,
                self.at(),
                requested=SubscriptionStatus.SUBSCRIBED,
            )
            self.seeded.subscription_changes += 1
            self.pending.append(profile)

    def _quarantine(self) -> None:
        for due, state in list(self.to_release):
            if due <= self._day:
                self.to_release.remove((due, state))
                if release(state, "mailbox reachable again", OPERATOR, min(due, self._now)):
                    self.seeded.released += 1
        for _ in range(self.rng.randint(0, 2)):
            reason = self.rng.choice(_REASONS)
            listed = put_status(
                Channel.EMAIL,
                Address(self.address()),
                AddressStatus.QUARANTINE,
                reason.value,
                actor=OPERATOR,
                clock=_clock(self.at()),
            )
            if listed is None:
                continue
            self.seeded.quarantined += 1
            if reason is FailureReason.MAILBOX_FULL or self.rng.random() < 0.3:
                self.to_release.append((self._day + RELEASE_AFTER, listed))

    def _feedback(self) -> None:
        """A day's mail, one message each (SES lists every recipient of a message in
        one notification): some deliveries, a few hard bounces, now and then a
        complaint. Few notifications, so the queue is through them seconds after start."""
        bounced = [self.address() for _ in range(self.rng.randint(1, 3))]
        delivered = [self.address() for _ in range(self.rng.randint(5, 10))]
        notifications = [
            _bounce(bounced, self.mail(bounced)),
            _delivery(delivered, self.mail(delivered)),
        ]
        if self.rng.random() < 0.3:
            complained = self.address()
            notifications.append(_complaint(complained, self.mail([complained])))
        self.seeded.deliveries += len(delivered)
        for notification in notifications:
            self.publish(notification)

    def outage(self, bounces: int) -> None:
        """One message to `bounces` addresses of `OUTAGE_DOMAIN`, soft-bounced for each
        of them just now: a provider that is down, not bad addresses."""
        addresses = [f"history.{next(self.serial)}@{OUTAGE_DOMAIN}" for _ in range(bounces)]
        mail = {**self.mail(addresses), "timestamp": _iso(self._now)}
        self.publish(_soft_bounce(addresses, mail))
        self.seeded.outage_bounces += bounces

    def publish(self, notification: dict[str, Any]) -> None:
        self.sns.publish(TopicArn=self.topic_arn, Message=json.dumps(notification))
        self.seeded.feedback += 1


def _clock(at: datetime) -> Callable[[], datetime]:
    return lambda: at


def _change(
    profile: ProfileId,
    scope: Scope,
    action: Action,
    source: Source,
    at: datetime,
    *,
    requested: SubscriptionStatus | None = None,
) -> None:
    actor = {Source.OPERATOR: OPERATOR, Source.IMPORT: "local-demo-import"}.get(source, "recipient")
    record_change(
        profile,
        ConsentChange(scope=scope, action=action, source=source, actor=actor, requested=requested),
        clock=_clock(at),
    )


def _delivery(addresses: list[str], mail: dict[str, Any]) -> dict[str, Any]:
    return {
        "notificationType": "Delivery",
        "mail": mail,
        "delivery": {"recipients": addresses, "timestamp": mail["timestamp"]},
    }


def _bounce(addresses: list[str], mail: dict[str, Any]) -> dict[str, Any]:
    return {
        "notificationType": "Bounce",
        "mail": mail,
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [
                {"emailAddress": address, "status": "5.1.1"} for address in addresses
            ],
            "timestamp": mail["timestamp"],
        },
    }


def _soft_bounce(addresses: list[str], mail: dict[str, Any]) -> dict[str, Any]:
    return {
        "notificationType": "Bounce",
        "mail": mail,
        "bounce": {
            "bounceType": "Transient",
            "bounceSubType": "General",
            "bouncedRecipients": [
                {"emailAddress": address, "status": "4.4.7"} for address in addresses
            ],
            "timestamp": mail["timestamp"],
        },
    }


def _complaint(address: str, mail: dict[str, Any]) -> dict[str, Any]:
    return {
        "notificationType": "Complaint",
        "mail": mail,
        "complaint": {
            "complainedRecipients": [{"emailAddress": address}],
            "complaintFeedbackType": "abuse",
            "timestamp": mail["timestamp"],
        },
    }


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
