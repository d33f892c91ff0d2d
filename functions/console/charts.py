"""The console's charts: SVG drawn on the server by pygal, each with its numbers as a table.

A chart is a standalone SVG document without any script (pygal's own is taken out of
the tree before it is written). Its look is a `<style>` element inside the SVG, which
the console pages' Content-Security-Policy (`style-src 'self'`, as the recipient
pages') would refuse inline; so a page shows a chart as `<img src="...svg">` from a
route of its own (`img-src 'self'` allows it), answered with `SVG_HEADERS`: an image
runs no script whatever it holds, and its own policy allows only its inline style.
Under the image the page puts the chart's text alternative, `*_table`: the same
numbers (the same lines, folded the same way) as rows of an HTML table.

Colours are the Okabe-Ito palette, which stays distinguishable with every common form
of colour blindness; a chart shows at most as many lines as the palette has colours,
the smallest folded into "other".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pygal
from pygal.etree import etree
from pygal.style import Style

from consentry.reporting.daily import DailySeries, DomainFeedback

PALETTE = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#000000",  # black
    "#F0E442",  # yellow (last: the weakest on white)
)
"""Okabe & Ito, "Color Universal Design" (2008)."""
OTHER = "other"
SVG_HEADERS = {
    "Content-Type": "image/svg+xml; charset=utf-8",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}
"""The headers of a chart's own route."""

_STYLE = Style(
    colors=PALETTE,
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1a1a1a",
    foreground_strong="#1a1a1a",
    foreground_subtle="#6b6b6b",
    font_family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    title_font_size=18,
    label_font_size=12,
    major_label_font_size=12,
    legend_font_size=13,
    opacity="1",
    opacity_hover="1",
    transition="0ms",
)
_COMMON: dict[str, Any] = {
    "style": _STYLE,
    "js": [],
    "disable_xml_declaration": True,
    "legend_at_bottom": True,
    "truncate_legend": -1,
    "truncate_label": -1,
    "width": 800,
    "height": 400,
    "margin": 16,
    "no_data_text": "Nothing in these days",
    "print_values": False,
}
_SVG_NS = "{http://www.w3.org/2000/svg}"


@dataclass(frozen=True)
class Table:
    """A chart's text alternative: a caption, the column headings and the rows."""

    caption: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def folded(series: DailySeries, lines: int = len(PALETTE)) -> DailySeries:
    """`series` with at most `lines` lines: the largest by total, then "other" for the
    rest added up (each day's sum kept)."""
    if len(series.lines) <= lines:
        return series
    ranked = sorted(series.lines, key=lambda label: (-series.total(label), label))
    kept, rest = ranked[: lines - 1], ranked[lines - 1 :]
    other = tuple(sum(day) for day in zip(*(series.lines[label] for label in rest), strict=True))
    return DailySeries(
        series.title,
        series.days,
        {**{label: series.lines[label] for label in sorted(kept)}, OTHER: other},
    )


def daily_chart(series: DailySeries) -> str:
    """Stacked bars, a bar per day, a colour per line."""
    shown = folded(series)
    chart = pygal.StackedBar(
        title=series.title,
        x_labels=[day.strftime("%d %b") for day in shown.days],
        x_labels_major_every=7,
        show_minor_x_labels=False,
        x_label_rotation=0,
        **_COMMON,
    )
    for label, counts in shown.lines.items():
        chart.add(_label(label), list(counts))
    return _svg(chart)


def daily_table(series: DailySeries) -> Table:
    """The numbers of `daily_chart(series)`: a row per day, a column per line."""
    shown = folded(series)
    return Table(
        caption=series.title,
        headers=("Day", *(_label(label) for label in shown.lines)),
        rows=tuple(
            (day.isoformat(), *(str(counts[number]) for counts in shown.lines.values()))
            for number, day in enumerate(shown.days)
        ),
    )


RECIPIENT_DOMAINS = "Complaints and hard bounces by recipient domain"
SENDING_DOMAINS = "Complaints and hard bounces by sending domain"


def domain_chart(rows: Sequence[DomainFeedback], title: str = RECIPIENT_DOMAINS) -> str:
    """Horizontal bars: complaints and hard bounces of each domain."""
    chart = pygal.HorizontalBar(title=title, x_labels=[row.domain for row in rows], **_COMMON)
    chart.add("complaints", [row.complaints for row in rows])
    chart.add("hard bounces", [row.hard_bounces for row in rows])
    return _svg(chart)


def domain_table(rows: Sequence[DomainFeedback], title: str = RECIPIENT_DOMAINS) -> Table:
    """The numbers of `domain_chart(rows, title)`, with the deliveries and the rates
    where deliveries are known."""
    return Table(
        caption=title,
        headers=(
            "Domain",
            "Complaints",
            "Hard bounces",
            "Deliveries",
            "Complaint rate",
            "Hard bounce rate",
        ),
        rows=tuple(
            (
                row.domain,
                str(row.complaints),
                str(row.hard_bounces),
                "unknown" if row.deliveries is None else str(row.deliveries),
                _rate(row.complaint_rate),
                _rate(row.hard_bounce_rate),
            )
            for row in rows
        ),
    )


def _rate(rate: float | None) -> str:
    return "unknown" if rate is None else f"{rate:.2%}"


def _label(label: str) -> str:
    """A dimension's value as people read it (`one_click` -> `one click`)."""
    return label.replace("_", " ")


_DROPPED = frozenset({"script", "desc"})
"""pygal's script, and the tooltips' data only its script reads (half the bytes)."""


def _svg(chart: Any) -> str:
    """The chart as an SVG document with no script in it."""
    root = chart.render_tree()
    for parent in list(root.iter()):
        for child in list(parent):
            if not isinstance(child.tag, str) or child.tag.removeprefix(_SVG_NS) in _DROPPED:
                parent.remove(child)  # comments (a callable tag), script, tooltip data
    root.set("role", "img")
    svg: str = etree.tostring(root, encoding="unicode")
    return svg
