"""The console's charts: SVG without script, in the colour-blind-safe palette, and their
text alternatives holding the same numbers."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest

from consentry.reporting.daily import DailySeries, DomainFeedback
from console.charts import (
    OTHER,
    PALETTE,
    SENDING_DOMAINS,
    SVG_HEADERS,
    daily_chart,
    daily_table,
    domain_chart,
    domain_table,
    folded,
)

SVG = "{http://www.w3.org/2000/svg}"
DAYS = tuple(date(2026, 11, 3) + timedelta(days=n) for n in range(30))


def series(lines: int = 3, title: str = "Opt-outs per day by source") -> DailySeries:
    return DailySeries(
        title,
        DAYS,
        {f"source_{k}": tuple((n * (k + 1)) % 5 for n in range(len(DAYS))) for k in range(lines)},
    )


def parsed(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 (our own output)


def scripting(svg: str) -> list[str]:
    """Every element or attribute through which an SVG could run script."""
    found = []
    for element in parsed(svg).iter():
        if element.tag.removeprefix(SVG).lower() in {"script", "foreignobject", "iframe"}:
            found.append(element.tag)
        for name, value in element.attrib.items():
            if name.lower().startswith("on") or "javascript:" in value.lower():
                found.append(name)
    return found


def test_a_daily_chart_is_an_svg_document_without_script() -> None:
    svg = daily_chart(series())

    root = parsed(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("viewBox") == "0 0 800 400"
    assert scripting(svg) == []
    assert "<script" not in svg.lower()
    assert not svg.startswith("<?xml")
    assert "<desc" not in svg  # the tooltips' data, read only by the script
    assert "<!--" not in svg


def test_each_line_has_its_own_colour_of_the_palette() -> None:
    svg = daily_chart(series(lines=5))

    used = {colour.lower() for colour in re.findall(r"#[0-9a-fA-F]{6}", svg)}
    assert {colour.lower() for colour in PALETTE[:5]} <= used


def test_the_table_holds_the_numbers_of_the_chart_day_by_day() -> None:
    shown = series()

    table = daily_table(shown)

    assert table.caption == shown.title
    assert table.headers == ("Day", "source 0", "source 1", "source 2")
    assert [row[0] for row in table.rows] == [day.isoformat() for day in DAYS]
    for number, row in enumerate(table.rows):
        assert [int(cell) for cell in row[1:]] == [
            shown.lines[label][number] for label in shown.lines
        ]


def test_more_lines_than_colours_fold_the_smallest_into_other_in_chart_and_table() -> None:
    many = series(lines=11)

    shown = folded(many)
    table = daily_table(many)

    assert len(shown.lines) == len(PALETTE)
    assert list(shown.lines)[-1] == OTHER
    for number in range(len(DAYS)):
        assert sum(line[number] for line in shown.lines.values()) == sum(
            line[number] for line in many.lines.values()
        )
    assert table.headers[1:] == tuple(label.replace("_", " ") for label in shown.lines)
    series_drawn = set(re.findall(r'class="series serie-(\d+) color-\d+"', daily_chart(many)))
    assert len(series_drawn) == len(PALETTE)


def test_labels_from_data_are_text_not_markup() -> None:
    hostile = DailySeries(
        "Subscriptions",
        DAYS[:2],
        {'<script>alert(1)</script>"': (1, 2), "<img src=x onerror=alert(1)>": (0, 1)},
    )

    svg = daily_chart(hostile)

    assert scripting(svg) == []
    assert "<script>" not in svg


def test_an_empty_series_says_so_instead_of_failing() -> None:
    svg = daily_chart(DailySeries("Releases per day by reason", DAYS, {}))

    assert "Nothing in these days" in svg
    assert daily_table(DailySeries("Releases", DAYS, {})).rows[0] == (DAYS[0].isoformat(),)


def test_the_domain_chart_and_its_table_show_the_same_domains_and_counts() -> None:
    rows = [DomainFeedback("example.org", 2, 7), DomainFeedback("example.com", 0, 3)]

    svg = domain_chart(rows)
    table = domain_table(rows)

    assert scripting(svg) == []
    assert "example.org" in svg
    assert table.rows == (
        ("example.org", "2", "7", "unknown", "unknown", "unknown"),
        ("example.com", "0", "3", "unknown", "unknown", "unknown"),
    )


def test_rates_show_where_deliveries_are_known() -> None:
    (row,) = domain_table([DomainFeedback("example.org", 1, 4, deliveries=1000)]).rows

    assert row[3:] == ("1000", "0.10%", "0.40%")


def test_the_sending_domains_chart_says_so_in_its_title_and_caption() -> None:
    rows = [DomainFeedback("mail.example.org", 1, 2, deliveries=50)]

    assert SENDING_DOMAINS in domain_chart(rows, SENDING_DOMAINS)
    assert domain_table(rows, SENDING_DOMAINS).caption == SENDING_DOMAINS


@pytest.mark.parametrize("header", ["Content-Security-Policy", "X-Content-Type-Options"])
def test_a_chart_route_answers_with_a_policy_of_its_own(header: str) -> None:
    assert header in SVG_HEADERS
    assert "script" not in SVG_HEADERS["Content-Security-Policy"]
    assert SVG_HEADERS["Content-Type"].startswith("image/svg+xml")
