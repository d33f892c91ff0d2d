"""SES's account-level suppression list follows the quarantine, from the address-events
stream on moto; the SESv2 client is botocore's Stubber (moto has no suppression list),
which checks every request against the service model."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tests.conftest import REGION
from tests.integration.conftest import ApiCall, Configure, lambda_context
from tests.integration.events_support import BUS_NAME, EventsPath
from tests.integration.quarantine_support import FakeSms, FeedbackPath, ses, sms

EMAIL = "jane.doe@example.com"
TABLE = "AddressEventsTable"


@pytest.fixture
def events(configure: Configure, table_names: dict[str, str]) -> EventsPath:
    configure(event_bus_name=BUS_NAME)
    return EventsPath(table_names)


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("sesv2", region_name=REGION)
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def fed(*notifications: dict[str, Any]) -> None:
    feedback = FeedbackPath()
    feedback.publish(*notifications)
    while feedback.deliver(FakeSms()) is not None:
        pass


def sync(events: EventsPath, client: Any) -> dict[str, Any]:
    """Hand the address-events stream's new records to the function, as Lambda would."""
    from suppression.handler import lambda_handler

    records = events.pending(TABLE, 100)
    response: dict[str, Any] = lambda_handler(
        {"Records": records}, lambda_context("ses-suppression"), ses=client
    )
    failed = [f["itemIdentifier"] for f in response["batchItemFailures"]]
    numbers = [r["dynamodb"]["SequenceNumber"] for r in records]
    done = numbers[: numbers.index(failed[0])] if failed else numbers
    if done:
        events.positions[TABLE] = done[-1]
    return response


def test_a_hard_bounce_puts_the_address_on_the_list_as_a_bounce(
    events: EventsPath, stubbed: tuple[Any, Stubber]
) -> None:
    client, stubber = stubbed
    stubber.add_response(
        "put_suppressed_destination", {}, {"EmailAddress": EMAIL, "Reason": "BOUNCE"}
    )
    fed(ses("bounce_hard", recipients=[EMAIL]))

    assert sync(events, client) == {"batchItemFailures": []}


def test_a_complaint_puts_the_address_on_the_list_as_a_complaint(
    events: EventsPath, stubbed: tuple[Any, Stubber]
) -> None:
    client, stubber = stubbed
    stubber.add_response(
        "put_suppressed_destination", {}, {"EmailAddress": EMAIL, "Reason": "COMPLAINT"}
    )
    fed(ses("complaint", recipients=[EMAIL]))

    assert sync(events, client) == {"batchItemFailures": []}


def test_a_release_takes_the_address_off_the_list(
    events: EventsPath, stubbed: tuple[Any, Stubber], api: ApiCall
) -> None:
    client, stubber = stubbed
    stubber.add_response(
        "put_suppressed_destination", {}, {"EmailAddress": EMAIL, "Reason": "BOUNCE"}
    )
    stubber.add_response("delete_suppressed_destination", {}, {"EmailAddress": EMAIL})
    fed(ses("bounce_hard", recipients=[EMAIL]))

    api("PUT", f"/v1/addresses/email/{EMAIL}", json_body={"status": "valid", "reason": "fixed"})

    assert sync(events, client) == {"batchItemFailures": []}


def test_a_release_ses_never_held_is_done_already(
    events: EventsPath, stubbed: tuple[Any, Stubber], api: ApiCall
) -> None:
    client, stubber = stubbed
    stubber.add_response(
        "put_suppressed_destination", {}, {"EmailAddress": EMAIL, "Reason": "BOUNCE"}
    )
    stubber.add_client_error(
        "delete_suppressed_destination", "NotFoundException", http_status_code=404
    )
    fed(ses("bounce_hard", recipients=[EMAIL]))
    api("PUT", f"/v1/addresses/email/{EMAIL}", json_body={"status": "valid", "reason": "fixed"})

    assert sync(events, client) == {"batchItemFailures": []}


def test_an_sms_stop_or_a_soft_bounce_leaves_the_list_alone(
    events: EventsPath, stubbed: tuple[Any, Stubber]
) -> None:
    client, _ = stubbed  # no response queued: any call would fail the test
    fed(sms("stop"), ses("bounce_soft", recipients=[EMAIL]))

    assert sync(events, client) == {"batchItemFailures": []}


def test_the_lift_of_an_erased_address_asks_nothing_of_ses(
    events: EventsPath, stubbed: tuple[Any, Stubber], api: ApiCall
) -> None:
    client, stubber = stubbed
    stubber.add_response(
        "put_suppressed_destination", {}, {"EmailAddress": EMAIL, "Reason": "BOUNCE"}
    )
    api("PUT", "/v1/profiles/p-ses", json_body={"addresses": {"email": EMAIL}})
    fed(ses("bounce_hard", recipients=[EMAIL]))
    api("DELETE", "/v1/profiles/p-ses", json_body={"reason": "art. 17 request"})
    lift = {"channel": "email", "address": EMAIL, "reason": "asked again in writing"}
    assert api("POST", "/v1/erased-addresses/lift", json_body=lift)["statusCode"] == 200

    # The lift's event is keyed by the fingerprint: there is no address to hand SES.
    assert sync(events, client) == {"batchItemFailures": []}


def test_a_throttled_call_stops_the_shard_there_and_the_retry_puts_it(
    events: EventsPath, stubbed: tuple[Any, Stubber]
) -> None:
    client, stubber = stubbed
    stubber.add_client_error(
        "put_suppressed_destination", "TooManyRequestsException", http_status_code=429
    )
    stubber.add_response(
        "put_suppressed_destination", {}, {"EmailAddress": EMAIL, "Reason": "BOUNCE"}
    )
    fed(ses("bounce_hard", recipients=[EMAIL]))

    first = sync(events, client)
    second = sync(events, client)

    assert len(first["batchItemFailures"]) == 1
    assert second == {"batchItemFailures": []}
