"""`consentry ses-import` against the local stack, with SES's suppression list served by
botocore's Stubber (moto has none): every page imported, and a second run is the same
import."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from botocore.stub import Stubber

from consentry_cli.ses_import import main_ses_import
from consentry_cli.stack import local_stack
from tests.stack import Stack, running_stack

pytestmark = pytest.mark.stack

PAGES = [
    [("Bounced@Example.com", "BOUNCE"), ("complained@example.com", "COMPLAINT")],
    [("gone@example.net", "BOUNCE")],
]


@pytest.fixture
def table_names() -> None:
    """Overrides the package's autouse moto setup: these tests talk to the stack's own moto."""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("ses-import")) as started:
        yield started


def ses_list() -> tuple[Any, Stubber]:
    client = boto3.client("sesv2", region_name="eu-west-1")
    stubber = Stubber(client)
    for number, page in enumerate(PAGES):
        response: dict[str, Any] = {
            "SuppressedDestinationSummaries": [
                {
                    "EmailAddress": address,
                    "Reason": reason,
                    "LastUpdateTime": "2026-01-01T00:00:00Z",
                }
                for address, reason in page
            ]
        }
        if number + 1 < len(PAGES):
            response["NextToken"] = f"page-{number + 1}"
        expected = {"NextToken": f"page-{number}"} if number else {}
        stubber.add_response("list_suppressed_destinations", response, expected)
    stubber.activate()
    return client, stubber


def status(stack: Stack, address: str) -> str:
    response = requests.get(f"{stack.api_url}/v1/addresses/email/{address}", timeout=10)
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


def test_every_page_of_the_list_is_imported_and_a_second_run_changes_nothing(
    stack: Stack,
) -> None:
    state_file = stack.stdout.parent / "state" / "demo.json"
    client, stubber = ses_list()
    first = io.StringIO()

    assert main_ses_import(local_stack(state_file), ses=client, out=first) == 0

    stubber.assert_no_pending_responses()
    assert "applied=3 unchanged=0 rejected=0" in first.getvalue()
    assert [
        status(stack, a)
        for a in ("bounced@example.com", "complained@example.com", "gone@example.net")
    ] == [
        "quarantine",
        "denylisted",
        "quarantine",
    ]

    again, _ = ses_list()
    second = io.StringIO()
    assert main_ses_import(local_stack(state_file), ses=again, out=second) == 0
    assert second.getvalue() == first.getvalue()
