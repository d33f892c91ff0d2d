"""The dashboard's charts: each an SVG image from a route of its own, for a signed-in
user only, with the same numbers as a table on the page, read from the daily counts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from consentry.core.clock import utc_now
from consentry.reporting import counter_store
from consentry.reporting.cells import Cell, Direction, Feedback, Series, Tally
from console.routes.charts import DAILY, DOMAINS
from tests.integration.console_support import ConsoleClient, header

TODAY = utc_now().date()
CHARTS = sorted([*DAILY, *DOMAINS])


def tally(marker: str, *cells: tuple[Series, int, tuple[str, ...]]) -> Tally:
    return Tally(
        marker,
        tuple(Cell(series, TODAY - timedelta(days=ago), dims) for series, ago, dims in cells),
    )


@pytest.fixture
def counted(seeded: ConsoleClient) -> ConsoleClient:
    """A few days of changes, as the publisher and the feedback function count them."""
    counter_store.add(
        [
            *(
                tally(
                    f"opt-out-{n}",
                    (Series.CONSENT_BY_SOURCE, 2, ("opt_out", "one_click")),
                    (Series.CONSENT_BY_CHANNEL, 2, ("opt_out", "email")),
                )
                for n in range(7)
            ),
            *(
                tally(
                    f"opt-in-{n}",
                    (Series.CONSENT_BY_SOURCE, 0, ("opt_in", "landing")),
                    (Series.CONSENT_BY_CHANNEL, 0, ("opt_in", "sms")),
                )
                for n in range(3)
            ),
            *(
                tally(
                    f"quarantined-{n}",
                    (Series.QUARANTINE, 1, (Direction.ENTERED, "quarantine", "mailbox_full")),
                )
                for n in range(5)
            ),
            tally("released", (Series.QUARANTINE, 0, (Direction.RELEASED, "quarantine", "time"))),
            *(
                tally(
                    f"delivered-{n}",
                    (Series.EMAIL_FEEDBACK, 1, (Feedback.DELIVERY, "example.net")),
                    (Series.SENDING_FEEDBACK, 1, (Feedback.DELIVERY, "news.example.com")),
                )
                for n in range(40)
            ),
            tally(
                "complaint",
                (Series.EMAIL_FEEDBACK, 1, (Feedback.COMPLAINT, "example.net")),
                (Series.SENDING_FEEDBACK, 1, (Feedback.COMPLAINT, "news.example.com")),
            ),
        ],
        utc_now(),
    )
    return seeded


@pytest.mark.parametrize("name", CHARTS)
def test_each_chart_is_an_svg_image_for_a_signed_in_viewer(
    counted: ConsoleClient, name: str
) -> None:
    counted.sign_in("watcher")

    response = counted.get(f"/console/charts/{name}.svg")

    assert response["statusCode"] == 200
    assert header(response, "Content-Type").startswith("image/svg+xml")
    assert "style-src 'unsafe-inline'" in header(response, "Content-Security-Policy")
    assert response["body"].startswith("<svg")
    assert "<script" not in response["body"]


@pytest.mark.parametrize("name", CHARTS)
def test_a_chart_without_a_session_sends_to_the_sign_in_page(
    counted: ConsoleClient, name: str
) -> None:
    response = counted.get(f"/console/charts/{name}.svg")

    assert response["statusCode"] in (302, 303, 401)
    assert "<svg" not in (response.get("body") or "")


@pytest.mark.parametrize(
    "name", ["nope.svg", "analyses", "analyses.svg.svg", "..%2f.svg", "a" * 300]
)
def test_an_unknown_chart_is_a_404_page(counted: ConsoleClient, name: str) -> None:
    counted.sign_in("watcher")

    assert counted.get(f"/console/charts/{name}")["statusCode"] == 404


def test_the_dashboard_shows_each_chart_with_its_numbers_in_a_table(
    counted: ConsoleClient,
) -> None:
    counted.sign_in("watcher")

    body = counted.get("/console/")["body"]

    for name in CHARTS:
        assert f'<img src="/console/charts/{name}.svg" alt="Chart: ' in body, name
    two_days_ago = (TODAY - timedelta(days=2)).isoformat()
    assert f'<tr><th scope="row">{two_days_ago}</th><td class="num">7</td></tr>' in body
    assert f'<tr><th scope="row">{TODAY.isoformat()}</th><td class="num">3</td></tr>' in body
    assert "mailbox full" in body
    assert (
        '<tr><th scope="row">news.example.com</th><td class="num">1</td>'
        '<td class="num">0</td><td class="num">40</td><td class="num">2.50%</td>'
    ) in body
    assert '<th scope="row">example.net</th>' in body
    assert "d-console-1" in body
