"""The operator API over real HTTP on the local stack: concurrency and a fuzz run."""

import re
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.conftest import ROOT
from tests.stack import Stack, running_stack
from tests.tally import TALLY

pytestmark = pytest.mark.stack

WRITERS = 20


@pytest.fixture
def table_names() -> None:
    """Overrides the package's autouse moto setup: these tests talk to the stack's own moto."""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("api-stack")) as started:
        yield started


def register(stack: Stack, profile: str) -> int:
    response = requests.put(
        f"{stack.api_url}/v1/profiles/{profile}",
        json={"addresses": {"email": f"{profile}@example.com"}, "locale": "en"},
        timeout=10,
    )
    assert response.status_code == 201
    version: int = response.json()["version"]
    return version


def patch(
    stack: Stack, profile: str, flags: dict[str, bool], reason: str, if_match: int | None = None
) -> requests.Response:
    headers = {"If-Match": str(if_match)} if if_match is not None else {}
    return requests.patch(
        f"{stack.api_url}/v1/profiles/{profile}/consent",
        json={"noLongerContact": flags, "reason": reason},
        headers=headers,
        timeout=30,
    )


def history(stack: Stack, profile: str) -> list[dict[str, Any]]:
    events, cursor = [], None
    while True:
        params = {"limit": "100"} | ({"cursor": cursor} if cursor else {})
        body = requests.get(
            f"{stack.api_url}/v1/profiles/{profile}/history", params=params, timeout=10
        ).json()
        events += body["items"]
        cursor = body["nextCursor"]
        if cursor is None:
            return events


def rebuilt_flags(events: Iterable[Mapping[str, Any]]) -> dict[str, bool]:
    flags = dict.fromkeys(["all", "email", "sms", "phone", "direct_mail", "push"], False)
    for event in events:
        name = "all" if event["scope"] == "all" else event["scope"].removeprefix("channel:")
        flags[name] = event["action"] == "opt_out"
    return flags


def test_concurrent_writers_on_one_version_one_wins_the_rest_get_412(stack: Stack) -> None:
    version = register(stack, "race-a")

    with ThreadPoolExecutor(WRITERS) as pool:
        responses = list(
            pool.map(
                lambda i: patch(
                    stack, "race-a", {"email": True, "sms": i % 2 == 0}, f"writer {i}", version
                ),
                range(WRITERS),
            )
        )

    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 1
    assert set(statuses) <= {200, 412}
    events = history(stack, "race-a")
    winner = next(r for r in responses if r.status_code == 200).json()
    assert {e["reason"] for e in events} == {winner["latestEvents"][0]["reason"]}
    assert rebuilt_flags(events) == winner["noLongerContact"]


def test_concurrent_writers_without_a_version_lose_no_update(stack: Stack) -> None:
    register(stack, "race-b")

    with ThreadPoolExecutor(WRITERS) as pool:
        responses = list(
            pool.map(
                lambda i: patch(stack, "race-b", {"all": i % 2 == 0}, f"writer {i}"),
                range(WRITERS),
            )
        )

    assert all(r.status_code in (200, 409) for r in responses), [r.text for r in responses]
    events = history(stack, "race-b")
    reasons = [e["reason"] for e in events]
    assert len(reasons) == len(set(reasons))  # no change applied twice
    accepted = {f"writer {i}" for i, r in enumerate(responses) if r.status_code == 200}
    assert set(reasons) <= accepted
    consent = requests.get(f"{stack.api_url}/v1/profiles/race-b/consent", timeout=10).json()
    assert rebuilt_flags(events) == consent["noLongerContact"]
    verify = requests.get(f"{stack.api_url}/v1/profiles/race-b/history/verify", timeout=10).json()
    assert verify["valid"] is True
    assert verify["events"] == len(events)


def test_a_fuzz_run_of_the_openapi_document_finds_the_api_as_documented(stack: Stack) -> None:
    """Every check of schemathesis (server errors, status codes, content types, response
    schemas, refusal of invalid data, acceptance of valid data, undeclared methods):
    tests/schemathesis.toml says which answers valid data may get."""
    result = subprocess.run(
        [
            str(__import__("pathlib").Path(sys.executable).with_name("st")),
            "--config-file",
            str(ROOT / "tests" / "schemathesis.toml"),
            "run",
            str(ROOT / "docs" / "openapi.json"),
            "--url",
            stack.api_url,
            "--checks",
            "all",
            "--max-examples",
            "15",
            "--seed",
            "20261129",
            "--request-timeout",
            "30",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        cwd=ROOT,
    )

    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    generated = re.search(r"Test cases:\s*\n\s*(\d+) generated", result.stdout)
    TALLY["schemathesis_cases"] += int(generated.group(1)) if generated else 0
