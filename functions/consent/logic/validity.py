"""The daily end of services whose validity has ended: their subscribers are unsubscribed.

Each unsubscription is an ordinary consent change (profile, chained event and
subscription in one transaction), so it is in the profile's history like any other.
A re-run finds nothing left to end and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from consentry.consent import profile_store, service_store
from consentry.consent.rules import ConsentChange, Scope
from consentry.consent.subscriptions import Service, SubscriptionStatus
from consentry.core.clock import Clock
from consentry.core.errors import ConflictError, ConsentryError, StoreUnavailableError
from consentry.core.observability import logger
from consentry.core.types import MAX_PAGE, Action, Source

ACTOR = "consentry:service-validity"
REASON = "the service's validity ended"


@dataclass(frozen=True, kw_only=True)
class ValidityRun:
    """What one run did."""

    services: int
    """Services whose validity has ended (all of them, also those ended earlier)."""
    unsubscribed: int
    """Subscriptions this run ended."""
    failed: int = 0
    """Subscriptions that could not be ended this time; the next run retries them."""


class IncompleteRunError(ConsentryError):
    """Some subscriptions could not be ended; failing the run raises the job alarm."""


def end_ended_services(*, clock: Clock) -> ValidityRun:
    """Unsubscribe every pending or subscribed profile of each service that has ended."""
    services = service_store.ended_services(clock())
    unsubscribed = failed = 0
    for service in services:
        ended, not_ended = _unsubscribe_all(service, clock)
        unsubscribed += ended
        failed += not_ended
    return ValidityRun(services=len(services), unsubscribed=unsubscribed, failed=failed)


def _unsubscribe_all(service: Service, clock: Clock) -> tuple[int, int]:
    """(ended, failed) over all the service's subscribers, page by page."""
    change = ConsentChange(
        scope=Scope.service(service.service_id),
        action=Action.UNSUBSCRIBE,
        source=Source.API,
        actor=ACTOR,
        reason=REASON,
    )
    ended = failed = 0
    cursor: str | None = None
    while True:
        page = service_store.list_subscribers(service.service_id, MAX_PAGE, cursor, None)
        for subscription in page.items:
            if subscription.status is SubscriptionStatus.UNSUBSCRIBED:
                continue
            try:
                result = profile_store.record_change(subscription.profile_id, change, clock=clock)
            except (ConflictError, StoreUnavailableError):
                # One profile's trouble must not keep the others subscribed; the run
                # fails at the end and the next one retries this profile.
                logger.exception(
                    "could not end a subscription",
                    extra={"service_id": service.service_id, "profile_id": subscription.profile_id},
                )
                failed += 1
                continue
            if result.events:
                ended += 1
        if page.cursor is None:
            return ended, failed
        cursor = page.cursor
