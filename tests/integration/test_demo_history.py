"""`make run`'s 30 days of history fill every chart of the console through the same
paths as any change: the stores, the feedback topic, the streams and the publisher."""

from __future__ import annotations

from datetime import timedelta

import pytest

from consent.logic.addresses import outages
from consentry.consent.service_store import save_service
from consentry.consent.subscriptions import Confirmation, Service
from consentry.core.clock import utc_now
from consentry.core.types import Channel, ServiceId, Source
from consentry.reporting import daily
from consentry.reporting.cells import Direction, Series
from infra.local.demo_history import DAYS, OUTAGE_DOMAIN, seed_history
from infra.local.streams import StreamPoller
from tests.conftest import REGION
from tests.integration.quarantine_support import FakeSms, FeedbackPath
from tests.integration.test_daily_counts import (  # noqa: F401 (fixtures)
    drain,
    events,
    lean_transactions,
    pollers,
)

NEWSLETTER = ServiceId("newsletter")


@pytest.mark.usefixtures("lean_transactions")
def test_the_history_gives_every_chart_something_to_show(
    pollers: list[StreamPoller],  # noqa: F811 (the fixture imported above)
) -> None:
    # Given the demo's newsletter and the feedback path
    now = utc_now()
    save_service(
        Service(
            service_id=NEWSLETTER,
            name="newsletter",
            label="Newsletter",
            public_label="Our monthly newsletter",
            channel=Channel.EMAIL,
            confirmation=Confirmation.DOUBLE_OPT_IN,
            created_at=now - timedelta(days=DAYS),
            updated_at=now - timedelta(days=DAYS),
        ),
        expected_version=None,
    )
    feedback = FeedbackPath()

    # When the history is seeded, its feedback applied and the streams read
    seeded = seed_history(NEWSLETTER, feedback.topic_arn, now=now, region=REGION)
    feedback.drain(FakeSms())
    drain(pollers)

    # Then opt-outs came from every source, on most days, on all channels and some
    today = now.date()
    by_source = daily.consent_changes(Series.CONSENT_BY_SOURCE, today=today)
    opt_outs = by_source["opt_out"]
    assert set(opt_outs.labels) == {
        s.value
        for s in (
            Source.LANDING,
            Source.ONE_CLICK,
            Source.SMS_KEYWORD,
            Source.OPERATOR,
            Source.IMPORT,
        )
    }
    days_with_opt_outs = sum(1 for day in zip(*opt_outs.lines.values(), strict=True) if any(day))
    assert days_with_opt_outs >= DAYS - 2
    assert sum(by_source["opt_in"].total(label) for label in by_source["opt_in"].labels) > 0
    counted = sum(opt_outs.total(label) for label in opt_outs.labels) + sum(
        by_source["opt_in"].total(label) for label in by_source["opt_in"].labels
    )
    assert counted == seeded.consent_changes
    by_channel = daily.consent_changes(Series.CONSENT_BY_CHANNEL, today=today)["opt_out"]
    assert set(by_channel.labels) == {"all", "email", "sms"}
    # And the quarantine has entries by several reasons, and releases
    quarantine = daily.quarantine_changes(today=today)
    assert len(quarantine[Direction.ENTERED].labels) >= 3
    assert "complaint" in quarantine[Direction.ENTERED].labels
    assert quarantine[Direction.RELEASED].total("release") == seeded.released > 0
    # And complaints and hard bounces per domain, and subscriptions pending and confirmed
    domains = daily.feedback_by_domain(today=today)
    assert sum(row.hard_bounces for row in domains) > 0
    assert sum(row.complaints for row in domains) > 0
    assert sum(row.deliveries or 0 for row in domains) == seeded.deliveries
    assert all(row.complaint_rate is not None for row in domains)
    sending = daily.feedback_by_domain(today=today, sending=True)
    assert {row.domain for row in sending} == {"mail.example.org", "promo.example.com"}
    assert sum(row.deliveries or 0 for row in sending) == seeded.deliveries
    subscriptions = daily.subscription_changes(NEWSLETTER, today=today)
    assert {"pending", "subscribed"} <= set(subscriptions.labels)
    # And today's outage is held for an operator, every one of its bounces
    held = [(o.channel, o.domain, o.holding, o.held_errors) for o in outages(utc_now).items]
    assert held == [(Channel.EMAIL, OUTAGE_DOMAIN, True, seeded.outage_bounces)]
