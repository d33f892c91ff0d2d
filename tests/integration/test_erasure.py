"""DELETE /v1/profiles/{id}: the person's data goes, the opt-out and the proof stay."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from consentry.addresses import history_store
from consentry.addresses.decisions import put_status
from consentry.addresses.status import AddressStatus
from consentry.consent.rules import Scope
from consentry.consent.tokens import LinkSigner
from consentry.core.types import Address, Channel
from tests.conftest import REGION, TEMPLATE
from tests.integration.conftest import ApiCall, LandingCall
from tests.integration.helpers import one_click
from tests.integration.quarantine_support import FeedbackPath, ses
from tests.integration.test_imports_api import (  # noqa: F401 (the imports' fixtures)
    PROFILES_HEADER,
    imported,
    lambda_client,
    lines,
)

EMAIL = "erase.me@example.com"
PHONE = "+14155550123"
IP = "203.0.113.77"


def register(api: ApiCall, profile: str, addresses: dict[str, str]) -> None:
    response = api("PUT", f"/v1/profiles/{profile}", json_body={"addresses": addresses})
    assert response["statusCode"] in (200, 201), response["body"]


def erase(api: ApiCall, profile: str, reason: str = "art. 17 request 42") -> dict[str, Any]:
    response = api("DELETE", f"/v1/profiles/{profile}", json_body={"reason": reason})
    assert response["statusCode"] == 200, response["body"]
    erasure: dict[str, Any] = response["json"]
    return erasure


def verdicts(api: ApiCall, *items: tuple[str, str, str]) -> list[tuple[str, str | None]]:
    body = {
        "items": [
            {"profileId": p, "address": a, "channel": c, "messageClass": "marketing"}
            for p, a, c in items
        ]
    }
    response = api("POST", "/v1/checks", json_body=body)
    assert response["statusCode"] == 200, response["body"]
    return [(r["verdict"], r["reason"]) for r in response["json"]["results"]]


@pytest.fixture
def erased_person(api: ApiCall, landing: LandingCall, signer: LinkSigner) -> dict[str, Any]:
    """A person who opted out of e-mail by one click (from their own IP), asked for a
    subscription, had their SMS number quarantined, and was then erased."""
    register(api, "person-1", {"email": EMAIL, "sms": PHONE})
    created = api(
        "POST",
        "/v1/services",
        json_body={"name": "news", "label": "News", "publicLabel": "News", "channel": "email"},
    )
    assert created["statusCode"] == 201, created["body"]
    service = created["json"]["serviceId"]
    pending = api(
        "PUT",
        f"/v1/services/{service}/subscriptions/person-1",
        json_body={"status": "pending", "reason": "signed up"},
    )
    assert pending["statusCode"] in (200, 201), pending["body"]
    one_click(landing, signer, "person-1", Scope.channel(Channel.EMAIL))
    feedback = FeedbackPath()
    feedback.publish(ses("bounce_hard", recipients=[EMAIL]))
    feedback.drain()
    assert history_store.history_of(Channel.EMAIL, Address(EMAIL), limit=10, cursor=None).items
    put_status(Channel.SMS, Address(PHONE), AddressStatus.QUARANTINE, "mailbox_full")
    assert api("GET", "/v1/profiles/person-1/history/verify")["json"]["valid"]
    return erase(api, "person-1")


def test_erasure_says_what_it_erased_and_kept(erased_person: dict[str, Any]) -> None:
    assert erased_person["profileId"] == "person-1"
    assert erased_person["reason"] == "art. 17 request 42"
    assert erased_person["addresses"] == 2
    assert erased_person["suppressionsKept"] == 2
    assert erased_person["events"] >= 1  # the one-click event held an IP and a user agent
    assert erased_person["pendingSubscriptions"] == 1


def test_the_erased_profile_is_gone_but_its_proof_still_verifies(
    api: ApiCall, erased_person: dict[str, Any]
) -> None:
    gone = api("GET", "/v1/profiles/person-1/consent")
    assert gone["statusCode"] == 410
    assert gone["json"]["erasedAt"] == erased_person["erasedAt"]
    assert api("GET", "/v1/profiles/person-1/export")["statusCode"] == 410
    assert api("PUT", "/v1/profiles/person-1", json_body={"addresses": {}})["statusCode"] == 410
    verify = api("GET", "/v1/profiles/person-1/history/verify")
    assert verify["statusCode"] == 200
    assert verify["json"]["valid"] is True
    history = api("GET", "/v1/profiles/person-1/history", query={"limit": "100"})["json"]
    assert history["items"][-1]["action"] == "erase"
    assert history["items"][-1]["actor"]


def test_erasing_again_answers_the_same_erasure(
    api: ApiCall, erased_person: dict[str, Any]
) -> None:
    assert erase(api, "person-1", "a second request") == erased_person


def test_an_unknown_profile_cannot_be_erased(api: ApiCall) -> None:
    response = api("DELETE", "/v1/profiles/nobody", json_body={"reason": "art. 17"})
    assert response["statusCode"] == 404


def test_an_erasure_needs_a_reason(api: ApiCall) -> None:
    register(api, "person-2", {"email": "two@example.com"})
    response = api("DELETE", "/v1/profiles/person-2", json_body={})
    assert response["statusCode"] == 422
    assert api("GET", "/v1/profiles/person-2/consent")["statusCode"] == 200


def test_objects_that_can_hold_addresses_expire_by_lifecycle_rule() -> None:
    """What an analysis or an import leaves in the bucket (targets, exclusion logs,
    reports) is not erased one by one: it expires, after the retention the template sets."""
    rules = TEMPLATE["Resources"]["DataBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    expiring = {rule["Prefix"]: rule["ExpirationInDays"] for rule in rules if "Prefix" in rule}
    retention = {"Ref": "PersonalDataRetentionDays"}
    assert expiring == {
        "audiences/": retention,
        "analyses/": retention,
        "imports/": retention,
        "suppression/": 2,  # rewritten on a schedule: expires only if the schedule stops
    }
    assert TEMPLATE["Parameters"]["PersonalDataRetentionDays"]["Default"] == 30


def test_nothing_personal_is_left_in_any_table_or_object(
    erased_person: dict[str, Any],
) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    needles = {EMAIL, PHONE, IP, "erase.me", "4155550123", "Mozilla"}
    for table in dynamodb.list_tables()["TableNames"]:
        for scanned in dynamodb.get_paginator("scan").paginate(TableName=table):
            text = json.dumps(scanned["Items"])
            assert not [n for n in needles if n in text], table
    s3 = boto3.client("s3", region_name=REGION)
    for bucket in s3.list_buckets()["Buckets"]:
        for listed in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket["Name"]):
            for item in listed.get("Contents", []):
                body = s3.get_object(Bucket=bucket["Name"], Key=item["Key"])["Body"].read()
                assert not [n for n in needles if n.encode() in body], item["Key"]


def test_the_address_brought_back_under_another_profile_stays_suppressed(
    api: ApiCall, erased_person: dict[str, Any]
) -> None:
    register(api, "person-new", {"email": "  Erase.Me@Example.com ", "sms": PHONE})
    assert verdicts(
        api,
        ("person-new", EMAIL.upper(), "email"),
        ("person-new", PHONE, "sms"),
        ("someone-else", "other@example.com", "email"),
    ) == [
        ("blocked", "address_denylisted"),
        ("blocked", "address_quarantined"),
        ("allowed", None),
    ]


def test_only_an_explicit_lift_with_a_reason_frees_an_erased_address(
    api: ApiCall, erased_person: dict[str, Any]
) -> None:
    no_reason = api(
        "POST", "/v1/erased-addresses/lift", json_body={"channel": "email", "address": EMAIL}
    )
    assert no_reason["statusCode"] == 422
    lift = {"channel": "email", "address": EMAIL, "reason": "came back, asked in writing"}
    lifted = api("POST", "/v1/erased-addresses/lift", json_body=lift)
    assert lifted["statusCode"] == 200, lifted["body"]
    assert lifted["json"]["cause"] == "address_denylisted"
    assert verdicts(api, ("p", EMAIL, "email")) == [("allowed", None)]
    assert api("POST", "/v1/erased-addresses/lift", json_body=lift)["statusCode"] == 404
    assert verdicts(api, ("p", PHONE, "sms")) == [("blocked", "address_quarantined")]


@pytest.mark.usefixtures("lambda_client")
def test_an_import_that_brings_the_address_back_finds_it_suppressed(
    api: ApiCall, erased_person: dict[str, Any]
) -> None:
    csv_text = lines(PROFILES_HEADER, f"imported-1,en,{EMAIL.upper()},{PHONE},false,false,false")
    record = imported(api, "uploads/comeback.csv", csv_text)
    assert record["counts"]["applied"] == 1, record

    assert verdicts(api, ("imported-1", EMAIL, "email"), ("imported-1", PHONE, "sms")) == [
        ("blocked", "address_denylisted"),
        ("blocked", "address_quarantined"),
    ]
