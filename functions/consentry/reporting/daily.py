"""Reading the daily counts back: a series of days, one Query per series.

Every read is one Query of one series' partition over a range of days (the sort key
starts with the day), so a page that shows the last 30 days costs the same reads with
a thousand profiles or a hundred million: what grows with the traffic is the counts,
not the items. What can add pages is the number of distinct dimensions a series holds
per day (recipient domains, above all): a Query page holds 1 MB, some 10,000 cells, so
30 days of up to ~300 domains a day are still one call. Days without a change read as
zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from consentry.core.errors import InvalidInputError
from consentry.core.persistence import dynamodb
from consentry.reporting.cells import SEPARATOR, Direction, Feedback, Series
from consentry.reporting.tables import DailyCountModel

DEFAULT_DAYS = 30
MAX_DAYS = 366
_AFTER_SEPARATOR = chr(ord(SEPARATOR) + 1)
"""Sorts after every cell of a day (`<day>#...`), before the next day."""


@dataclass(frozen=True)
class DailyCounts:
    """One series' cells over a range of days: dimensions -> the count of each day."""

    days: tuple[date, ...]
    cells: Mapping[tuple[str, ...], tuple[int, ...]]

    def lines(
        self, *, by: int, where: Mapping[int, str] | None = None
    ) -> dict[str, tuple[int, ...]]:
        """Counts per day for each value of dimension `by`, over the cells whose other
        dimensions are as `where` says (position -> value); labels in order."""
        summed: dict[str, list[int]] = {}
        for dimensions, counts in self.cells.items():
            if len(dimensions) <= by or any(
                len(dimensions) <= position or dimensions[position] != value
                for position, value in (where or {}).items()
            ):
                continue
            line = summed.setdefault(dimensions[by], [0] * len(self.days))
            for number, count in enumerate(counts):
                line[number] += count
        return {label: tuple(summed[label]) for label in sorted(summed)}


@dataclass(frozen=True)
class DailySeries:
    """What one chart shows: a count per day for each line, the days oldest first."""

    title: str
    days: tuple[date, ...]
    lines: Mapping[str, tuple[int, ...]]

    def total(self, label: str) -> int:
        return sum(self.lines.get(label, ()))

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.lines)


@dataclass(frozen=True)
class DomainFeedback:
    """Complaints and hard bounces of one recipient domain over the days read."""

    domain: str
    complaints: int
    hard_bounces: int
    deliveries: int | None = None
    """None when no delivery of the domain was counted (SES sends delivery notifications
    only where the configuration set asks for them): its rates are then unknown."""

    @property
    def complaint_rate(self) -> float | None:
        return self.complaints / self.deliveries if self.deliveries else None

    @property
    def hard_bounce_rate(self) -> float | None:
        return self.hard_bounces / self.deliveries if self.deliveries else None


def day_range(today: date, days: int) -> tuple[date, ...]:
    """The `days` days that end with `today`, oldest first."""
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInputError("days", f"must be 1 to {MAX_DAYS}")
    return tuple(today - timedelta(days=back) for back in range(days - 1, -1, -1))


def daily_counts(series: Series, *, today: date, days: int = DEFAULT_DAYS) -> DailyCounts:
    """Every cell of `series` in the `days` days up to `today`: one Query."""
    span = day_range(today, days)
    index = {day.isoformat(): number for number, day in enumerate(span)}
    cells: dict[tuple[str, ...], list[int]] = {}
    with dynamodb():
        for item in DailyCountModel.query(
            series.value,
            range_key_condition=DailyCountModel.cell.between(
                span[0].isoformat(), span[-1].isoformat() + _AFTER_SEPARATOR
            ),
        ):
            day, _, rest = item.cell.partition(SEPARATOR)
            if day not in index or not rest:
                continue
            dimensions = tuple(rest.split(SEPARATOR, _FREE_TEXT_AT.get(series, -1)))
            counts = cells.setdefault(dimensions, [0] * len(span))
            counts[index[day]] += int(item.total or 0)
    return DailyCounts(span, {dimensions: tuple(counts) for dimensions, counts in cells.items()})


_FREE_TEXT_AT = {Series.SUBSCRIPTIONS: 1, Series.EMAIL_FEEDBACK: 1, Series.SENDING_FEEDBACK: 1}
"""Series whose last dimension is an identifier that may hold the separator: split
only this many times."""


def consent_changes(by: Series, *, today: date, days: int = DEFAULT_DAYS) -> dict[str, DailySeries]:
    """Opt-ins and opt-outs per day (`opt_in`, `opt_out`), each by source
    (`Series.CONSENT_BY_SOURCE`) or by channel (`Series.CONSENT_BY_CHANNEL`, `all` for
    every channel at once): one Query."""
    if by not in (Series.CONSENT_BY_SOURCE, Series.CONSENT_BY_CHANNEL):
        raise InvalidInputError("by", "must be consent-by-source or consent-by-channel")
    counts = daily_counts(by, today=today, days=days)
    what = "source" if by is Series.CONSENT_BY_SOURCE else "channel"
    return {
        action: DailySeries(
            f"{title} per day by {what}", counts.days, counts.lines(by=1, where={0: action})
        )
        for action, title in (("opt_in", "Opt-ins"), ("opt_out", "Opt-outs"))
    }


def quarantine_changes(*, today: date, days: int = DEFAULT_DAYS) -> dict[Direction, DailySeries]:
    """Addresses put in quarantine or on the denylist, and taken out, per day by cause:
    one Query."""
    counts = daily_counts(Series.QUARANTINE, today=today, days=days)
    return {
        Direction.ENTERED: DailySeries(
            "Quarantine and denylist entries per day by reason",
            counts.days,
            counts.lines(by=2, where={0: Direction.ENTERED.value}),
        ),
        Direction.RELEASED: DailySeries(
            "Releases per day by reason",
            counts.days,
            counts.lines(by=2, where={0: Direction.RELEASED.value}),
        ),
    }


def subscription_changes(
    service_id: str | None = None, *, today: date, days: int = DEFAULT_DAYS
) -> DailySeries:
    """Subscription changes per day by the state they led to (`pending`: a double
    opt-in sent; `subscribed`; `unsubscribed`), of one service or all: one Query."""
    counts = daily_counts(Series.SUBSCRIPTIONS, today=today, days=days)
    where = {1: service_id} if service_id is not None else None
    return DailySeries("Subscription changes per day", counts.days, counts.lines(by=0, where=where))


def subscription_changes_by_service(
    *, today: date, days: int = DEFAULT_DAYS
) -> dict[str, dict[str, int]]:
    """Each service's subscription changes over the days, by the state they led to
    (service id -> state -> count; a service without a change is absent): one Query."""
    counts = daily_counts(Series.SUBSCRIPTIONS, today=today, days=days)
    totals: dict[str, dict[str, int]] = {}
    for state in sorted({dimensions[0] for dimensions in counts.cells}):
        for service_id, line in counts.lines(by=1, where={0: state}).items():
            totals.setdefault(service_id, {})[state] = sum(line)
    return totals


def feedback_by_domain(
    *, today: date, days: int = DEFAULT_DAYS, limit: int = 10, sending: bool = False
) -> list[DomainFeedback]:
    """Complaints, hard bounces and deliveries per recipient domain over the days (per
    sending domain with `sending`), the `limit` domains with the most complaints and
    hard bounces first (then the most deliveries): one Query."""
    series = Series.SENDING_FEEDBACK if sending else Series.EMAIL_FEEDBACK
    counts = daily_counts(series, today=today, days=days)
    totals = {
        feedback: {
            domain: sum(line)
            for domain, line in counts.lines(by=1, where={0: feedback.value}).items()
        }
        for feedback in Feedback
    }
    domains = set().union(*(set(found) for found in totals.values()))
    delivered = totals[Feedback.DELIVERY]
    found = [
        DomainFeedback(
            domain=domain,
            complaints=totals[Feedback.COMPLAINT].get(domain, 0),
            hard_bounces=totals[Feedback.HARD_BOUNCE].get(domain, 0),
            deliveries=delivered.get(domain),
        )
        for domain in domains
    ]
    found.sort(
        key=lambda row: (-(row.complaints + row.hard_bounces), -(row.deliveries or 0), row.domain)
    )
    return found[:limit]


def analyses(*, today: date, days: int = DEFAULT_DAYS) -> DailySeries:
    """Delivery analyses that ended each day, by how (`succeeded`, `failed`): one Query."""
    counts = daily_counts(Series.ANALYSES, today=today, days=days)
    return DailySeries("Analyses per day", counts.days, counts.lines(by=0))


@dataclass(frozen=True)
class Dashboard:
    """Every daily figure of the console's dashboard, for the same days."""

    opt_ins_by_source: DailySeries
    opt_outs_by_source: DailySeries
    opt_ins_by_channel: DailySeries
    opt_outs_by_channel: DailySeries
    quarantine_entries: DailySeries
    quarantine_releases: DailySeries
    domains: list[DomainFeedback]
    """By recipient domain."""
    sending_domains: list[DomainFeedback]
    analyses: DailySeries


def dashboard(*, today: date, days: int = DEFAULT_DAYS) -> Dashboard:
    """The dashboard's figures: six Queries, whatever the number of profiles."""
    by_source = consent_changes(Series.CONSENT_BY_SOURCE, today=today, days=days)
    by_channel = consent_changes(Series.CONSENT_BY_CHANNEL, today=today, days=days)
    quarantine = quarantine_changes(today=today, days=days)
    return Dashboard(
        opt_ins_by_source=by_source["opt_in"],
        opt_outs_by_source=by_source["opt_out"],
        opt_ins_by_channel=by_channel["opt_in"],
        opt_outs_by_channel=by_channel["opt_out"],
        quarantine_entries=quarantine[Direction.ENTERED],
        quarantine_releases=quarantine[Direction.RELEASED],
        domains=feedback_by_domain(today=today, days=days),
        sending_domains=feedback_by_domain(today=today, days=days, sending=True),
        analyses=analyses(today=today, days=days),
    )
