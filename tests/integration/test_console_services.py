"""/console/services: the services with their subscription changes, and one service's
subscribers and changes over time, on /v1's logic and the daily counts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from consentry.core.clock import utc_now
from consentry.reporting import counter_store
from consentry.reporting.cells import Cell, Series, Tally
from tests.integration.analysis_support import create_service, subscribe
from tests.integration.console_support import ConsoleClient, header

TODAY = utc_now().date()


@pytest.fixture
def with_services(seeded: ConsoleClient) -> ConsoleClient:
    create_service("news")
    create_service("offers")
    subscribe("p-reader-1", "news")
    subscribe("p-reader-2", "news", confirm=False)
    counter_store.add(
        [
            Tally(
                f"sub-{n}",
                (Cell(Series.SUBSCRIPTIONS, TODAY - timedelta(days=3), ("subscribed", "news")),),
            )
            for n in range(4)
        ]
        + [Tally("pending", (Cell(Series.SUBSCRIPTIONS, TODAY, ("pending", "news")),))],
        utc_now(),
    )
    return seeded


def test_the_services_list_each_service_with_its_changes(with_services: ConsoleClient) -> None:
    with_services.sign_in("watcher")

    body = with_services.get("/console/services")["body"]

    assert 'href="/console/services/news"' in body
    assert 'href="/console/services/offers"' in body
    assert '<td class="num">4</td>' in body


def test_a_service_shows_its_subscribers_and_its_changes_per_day(
    with_services: ConsoleClient,
) -> None:
    with_services.sign_in("watcher")

    body = with_services.get("/console/services/news")["body"]

    assert 'href="/console/profiles/p-reader-1"' in body
    assert 'href="/console/profiles/p-reader-2"' in body
    assert '<img src="/console/services/news/changes.svg" alt="Chart: ' in body
    three_days_ago = (TODAY - timedelta(days=3)).isoformat()
    assert f'<th scope="row">{three_days_ago}</th><td class="num">0</td><td class="num">4</td>' in (
        body
    )


def test_pending_confirmations_are_a_filter_of_the_subscribers(
    with_services: ConsoleClient,
) -> None:
    with_services.sign_in("watcher")

    body = with_services.get("/console/services/news?status=pending")["body"]

    assert "p-reader-2" in body
    assert "p-reader-1" not in body


def test_any_state_is_the_whole_list(with_services: ConsoleClient) -> None:
    with_services.sign_in("watcher")

    body = with_services.get("/console/services/news?status=")["body"]

    assert "p-reader-1" in body
    assert "p-reader-2" in body


def test_a_services_chart_is_an_svg_image(with_services: ConsoleClient) -> None:
    with_services.sign_in("watcher")

    response = with_services.get("/console/services/news/changes.svg")

    assert response["statusCode"] == 200
    assert header(response, "Content-Type").startswith("image/svg+xml")
    assert response["body"].startswith("<svg")


def test_without_a_session_the_service_pages_send_to_the_sign_in_page(
    with_services: ConsoleClient,
) -> None:
    for path in (
        "/console/services",
        "/console/services/news",
        "/console/services/news/changes.svg",
    ):
        response = with_services.get(path)

        assert response["statusCode"] in (302, 303, 401), path


@pytest.mark.parametrize(
    "path",
    [
        "/console/services/no-such-service",
        "/console/services/no-such-service/changes.svg",
        "/console/services/%00",
        "/console/services/" + "s" * 300,
    ],
)
def test_an_unknown_service_is_a_404_page(with_services: ConsoleClient, path: str) -> None:
    with_services.sign_in("watcher")

    assert with_services.get(path)["statusCode"] == 404


@pytest.mark.parametrize(
    "query",
    [
        "status=nope",
        "status=",
        "cursor=garbage",
        "cursor=" + "c" * 5000,
        "cursor=eyJzZXJ2aWNlX2lkIjogeyJTIjogIm90aGVyIn19",
    ],
)
def test_odd_queries_are_pages_never_server_errors(
    with_services: ConsoleClient, query: str
) -> None:
    with_services.sign_in("watcher")

    for path in ("/console/services/news", "/console/services"):
        assert with_services.get(f"{path}?{query}")["statusCode"] < 500, (path, query)
