"""A console page reads DynamoDB a fixed number of times, whatever the number of
profiles: every read is by key or by index partition, never a scan of anything that
grows with them."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from pynamodb.connection.base import Connection

from consentry.consent.profile_store import register_profile
from consentry.core.types import Channel, ProfileId
from tests.integration.console_support import PROFILE, ConsoleClient

PAGES = (
    "/console",
    f"/console/profiles/{PROFILE}",
    "/console/addresses?status=quarantine",
    "/console/deliveries/d-console-1",
    "/console/services",
    "/console/imports",
    "/console/charts/opt-outs-by-source.svg",
)


@pytest.fixture
def dynamodb_calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    calls: Counter[str] = Counter()
    dispatch = Connection.dispatch

    def counted(self: Connection, operation_name: str, operation_kwargs: dict[str, Any]) -> Any:
        calls[operation_name] += 1
        return dispatch(self, operation_name, operation_kwargs)

    monkeypatch.setattr(Connection, "dispatch", counted)
    return calls


def reads_per_page(console: ConsoleClient, calls: Counter[str]) -> dict[str, Counter[str]]:
    reads = {}
    for path in PAGES:
        calls.clear()
        assert console.get(path)["statusCode"] == 200, path
        reads[path] = Counter(calls)
    return reads


def test_the_pages_read_as_much_with_many_profiles_as_with_few(
    seeded: ConsoleClient,
    dynamodb_calls: Counter[str],
) -> None:
    seeded.sign_in("watcher")
    few = reads_per_page(seeded, dynamodb_calls)
    for number in range(300):
        register_profile(
            ProfileId(f"p-more-{number}"), {Channel.EMAIL: f"more.{number}@example.com"}, "en"
        )

    many = reads_per_page(seeded, dynamodb_calls)

    assert many == few
    # /v1/services pages the services table with a Scan: it holds services, never profiles.
    assert all("Scan" not in reads for path, reads in many.items() if path != "/console/services")
