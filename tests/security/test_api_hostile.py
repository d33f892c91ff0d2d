"""/v1 as a hostile caller sees it: no body makes a 5xx, an error never repeats more than
a short prefix of what was sent nor names a bucket, table or ARN, types are strict,
and the small defects stay fixed (issue: hardening, items 2 and 4)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from consentry.core.settings import get_settings
from tests.conftest import ROOT, stack_name
from tests.integration.conftest import lambda_context
from tests.security.conftest import State, proxy_event

IMPORT_FUNCTION = stack_name("ImportFunction")

DEEP = "[" * 1000 + "]" * 1000
BODIES: list[tuple[str, str]] = [
    ("PUT", "/v1/profiles/p-1"),
    ("PATCH", "/v1/profiles/p-1/consent"),
    ("POST", "/v1/services"),
    ("PATCH", "/v1/services/svc-1"),
    ("PUT", "/v1/services/svc-1/subscriptions/p-1"),
    ("POST", "/v1/checks"),
    ("POST", "/v1/imports"),
    ("POST", "/v1/addresses/release"),
    ("PUT", "/v1/addresses/email/a%40example.com"),
    ("POST", "/v1/outages/email/example.com/release"),
    ("POST", "/v1/outages/email/example.com/apply"),
    ("POST", "/v1/links"),
    ("POST", "/v1/deliveries/d-1/analysis"),
    ("DELETE", "/v1/profiles/p-1"),
    ("POST", "/v1/erased-addresses/lift"),
]


def test_every_operation_that_takes_a_body_is_sent_hostile_ones() -> None:
    """BODIES names every operation of the document that takes a body."""
    document = json.loads((ROOT / "docs" / "openapi.json").read_text())
    unsent = [
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation
        and not any(
            sent_method == method.upper()
            and re.fullmatch(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)), sent_path)
            for sent_method, sent_path in BODIES
        )
    ]

    assert unsent == []


def call(
    method: str,
    path: str,
    body: str | None = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    from consent.handler import lambda_handler

    sent = {"Content-Type": "application/json", **(headers or {})} if body is not None else {}
    response: dict[str, Any] = lambda_handler(
        proxy_event(method, path, headers=sent, query=query, body=body), lambda_context("consent")
    )
    response["json"] = json.loads(response["body"]) if response.get("body") else None
    return response


@pytest.mark.parametrize(("method", "path"), BODIES)
@pytest.mark.parametrize(
    "body",
    [DEEP, '{"a":' * 1000 + "1" + "}" * 1000, '{"x": ' + "[" * 40 + "1" + "]" * 40 + "}"],
)
def test_a_deeply_nested_body_is_422_and_changes_nothing(
    method: str, path: str, body: str, stored_state: Callable[[], State]
) -> None:
    before = stored_state()

    response = call(method, path, body)

    assert response["statusCode"] in (400, 415, 422), response["body"][:200]
    assert stored_state() == before


def test_a_huge_unknown_field_name_is_not_echoed() -> None:
    name = "x" * 1_000_000

    response = call("PUT", "/v1/profiles/p-1", json.dumps({name: 1}))

    assert response["statusCode"] == 422
    assert len(response["body"]) < 1000
    assert response["json"]["field"].startswith("x")


def test_a_validation_error_has_the_documented_shape() -> None:
    response = call("PATCH", "/v1/profiles/p-1/consent", json.dumps({"reason": "r"}))

    assert response["statusCode"] == 422
    assert set(response["json"]) == {"statusCode", "message", "field"}
    assert response["json"]["field"] == "noLongerContact"


def test_an_import_of_another_bucket_does_not_name_the_data_bucket(
    configure: Callable[..., None],
) -> None:
    configure(import_function_name=IMPORT_FUNCTION)
    bucket = get_settings().data_bucket

    response = call(
        "POST", "/v1/imports", json.dumps({"uri": "s3://other/x.csv", "kind": "profiles"})
    )

    assert response["statusCode"] == 422
    assert bucket not in response["body"]
    assert response["json"]["field"] == "uri"


def test_a_missing_import_file_does_not_name_the_data_bucket(
    configure: Callable[..., None],
) -> None:
    configure(import_function_name=IMPORT_FUNCTION)
    bucket = get_settings().data_bucket

    response = call(
        "POST", "/v1/imports", json.dumps({"uri": f"s3://{bucket}/none.csv", "kind": "profiles"})
    )

    assert response["statusCode"] == 422
    assert bucket not in response["json"]["message"]


@pytest.mark.parametrize("flag", ["yes", 1, 0, "true", None, [], {}])
def test_a_flag_is_a_json_boolean_only(flag: object, stored_state: Callable[[], State]) -> None:
    before = stored_state()
    body = json.dumps({"noLongerContact": {"all": flag}, "reason": "r"})

    response = call("PATCH", "/v1/profiles/p-1/consent", body)

    if flag is None:  # null leaves the channel as it is: nothing to change
        assert response["statusCode"] == 422
    else:
        assert response["statusCode"] == 422, response["body"]
        assert response["json"]["field"] == "noLongerContact.all"
    assert stored_state() == before


@pytest.mark.parametrize("when", [0, 1796191864, "yesterday", "2026-01-01T00:00:00"])
def test_a_time_is_iso_text_with_an_offset(when: object) -> None:
    body = json.dumps({"reason": "r", "since": when, "all": True})

    response = call("POST", "/v1/addresses/release", body)

    assert response["statusCode"] == 422
    assert response["json"]["field"] == "since"


def test_putting_an_empty_new_profile_creates_it_and_again_updates_it() -> None:
    created = call("PUT", "/v1/profiles/p-new", "{}")
    again = call("PUT", "/v1/profiles/p-new", "{}")

    assert (created["statusCode"], again["statusCode"]) == (201, 200)
    assert call("GET", "/v1/profiles/p-new/consent")["statusCode"] == 200


def test_a_no_op_change_of_an_unknown_profile_is_404_and_of_a_known_one_says_so() -> None:
    opt_in = json.dumps({"noLongerContact": {"email": False}, "reason": "r"})

    unknown = call("PATCH", "/v1/profiles/p-unknown/consent", opt_in)
    call("PUT", "/v1/profiles/p-known", "{}")
    known = call("PATCH", "/v1/profiles/p-known/consent", opt_in)

    assert unknown["statusCode"] == 404
    assert (known["statusCode"], known["json"]["changed"]) == (200, False)


def test_a_bulk_release_without_a_filter_must_ask_for_all(
    stored_state: Callable[[], State],
) -> None:
    from consentry.addresses import decisions
    from consentry.addresses.status import AddressStatus
    from consentry.core.types import Address, Channel

    for n in range(3):
        decisions.put_status(
            Channel.EMAIL, Address(f"q{n}@example.com"), AddressStatus.QUARANTINE, "bounced"
        )
    before = stored_state()

    refused = call("POST", "/v1/addresses/release", json.dumps({"reason": "cleanup"}))
    unchanged = stored_state()
    counted = call(
        "POST", "/v1/addresses/release", json.dumps({"reason": "c", "all": True, "dryRun": True})
    )
    released = call("POST", "/v1/addresses/release", json.dumps({"reason": "c", "all": True}))

    assert (refused["statusCode"], refused["json"]["field"]) == (422, "all")
    assert unchanged == before
    assert (counted["json"]["matched"], counted["json"]["released"]) == (3, 0)
    assert (released["statusCode"], released["json"]["released"]) == (200, 3)


def test_listing_valid_addresses_is_not_offered() -> None:
    response = call("GET", "/v1/addresses", query={"status": "valid"})
    listed = call("GET", "/v1/addresses", query={"status": "denylisted"})

    assert (response["statusCode"], response["json"]["field"]) == (422, "status")
    assert listed["statusCode"] == 200


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ("not json", "application/json", 422),
        ("a=1", "application/x-www-form-urlencoded", 415),
        ('{"addresses": {}}', "text/plain", 415),
        ("\udcff", "application/json", 422),
    ],
)
def test_a_body_that_is_not_json_gets_the_error_shape(
    body: str, content_type: str, status: int
) -> None:
    response = call("PUT", "/v1/profiles/p-1", body, headers={"Content-Type": content_type})

    assert response["statusCode"] == status
    assert set(response["json"]) >= {"statusCode", "message"}


def test_a_method_a_path_does_not_take_is_405_naming_those_it_takes() -> None:
    response = call("PUT", "/v1/addresses", "{}")

    assert response["statusCode"] == 405
    assert response["multiValueHeaders"]["Allow"] == ["GET"]


def test_a_path_parameter_outside_its_pattern_is_404_in_the_error_shape() -> None:
    response = call("GET", "/v1/profiles/\u00d7\u00f8/consent")  # API Gateway decodes paths

    assert response["statusCode"] == 404
    assert set(response["json"]) == {"statusCode", "message"}


def test_text_that_is_not_unicode_is_422_before_any_store_sees_it(
    stored_state: Callable[[], State],
) -> None:
    """JSON may escape half of a UTF-16 pair; as a field of a valid request it once made
    the analysis route's first write fail (503)."""
    before = stored_state()
    bucket = get_settings().data_bucket
    body = (
        '{"channel": "email", "messageClass": "marketing", "dryRun": true, '
        '"audience": {"uri": "s3://' + bucket + '/audiences/a.csv", "format": "csv"}, '
        '"controlGroup": {"percent": 1, "seed": "\\ud8d9"}}'
    )

    response = call("POST", "/v1/deliveries/d-1/analysis", body)

    assert response["statusCode"] == 422, response["body"]
    assert response["json"]["field"] == "body"
    assert stored_state() == before


@pytest.mark.parametrize(
    "control_group",
    ['{"percent": 1e-200, "seed": "s"}', '{"percent": 5, "seed": ' + "9" * 40 + "}"],
)
def test_numbers_no_store_can_hold_are_422_before_any_store_sees_them(
    control_group: str, stored_state: Callable[[], State]
) -> None:
    """DynamoDB holds numbers of 38 digits from 1E-130 on; the analysis request is
    written as its record is created, so its numbers are bounded where they are read."""
    before = stored_state()
    bucket = get_settings().data_bucket
    body = (
        '{"channel": "email", "messageClass": "marketing", "dryRun": true, '
        '"audience": {"uri": "s3://' + bucket + '/audiences/a.csv", "format": "csv"}, '
        '"controlGroup": ' + control_group + "}"
    )

    response = call("POST", "/v1/deliveries/d-1/analysis", body)

    assert response["statusCode"] == 422, response["body"]
    assert response["json"]["field"].startswith("controlGroup")
    assert stored_state() == before
