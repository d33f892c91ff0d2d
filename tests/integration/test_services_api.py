"""/v1/services through the consent handler on moto: services, subscriptions, subscribers."""

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict, Unpack

import pytest

from consentry.consent.tables import ConsentEventModel, ServiceModel, SubscriptionModel
from tests.integration.conftest import ApiCall

OPERATOR = "arn:aws:iam::123456789012:user/operator"
"""The IAM caller of the event fixture (requestContext.identity.userArn)."""
MISSING = object()
"""A field left out of a request body."""
EARLIER, LATER = "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"


class CallOptions(TypedDict, total=False):
    """What a test passes on to `api` besides the request."""

    headers: Mapping[str, str] | None
    caller: str | None


def create(api: ApiCall, headers: Mapping[str, str] | None = None, **fields: Any) -> dict[str, Any]:
    body = {"name": "news", "label": "News", "publicLabel": "Our news", "channel": "email"}
    body = {name: value for name, value in (body | fields).items() if value is not MISSING}
    return api("POST", "/v1/services", json_body=body, headers=headers)


def create_id(api: ApiCall, **fields: Any) -> str:
    response = create(api, **fields)
    assert response["statusCode"] == 201, response["body"]
    service_id: str = response["json"]["serviceId"]
    return service_id


def subscribe(
    api: ApiCall,
    service_id: str,
    profile: str = "p-1",
    status: str = "subscribed",
    reason: str = "asked",
    **options: Unpack[CallOptions],
) -> dict[str, Any]:
    return api(
        "PUT",
        f"/v1/services/{service_id}/subscriptions/{profile}",
        json_body={"status": status, "reason": reason},
        **options,
    )


def unsubscribe(
    api: ApiCall,
    service_id: str,
    profile: str = "p-1",
    reason: str | None = "asked by phone",
    **options: Unpack[CallOptions],
) -> dict[str, Any]:
    query = {"reason": reason} if reason is not None else None
    return api(
        "DELETE", f"/v1/services/{service_id}/subscriptions/{profile}", query=query, **options
    )


def history(api: ApiCall, profile: str = "p-1") -> list[dict[str, Any]]:
    response = api("GET", f"/v1/profiles/{profile}/history")
    assert response["statusCode"] == 200, response["body"]
    items: list[dict[str, Any]] = response["json"]["items"]
    return items


def all_pages(
    api: ApiCall, path: str, limit: int, **query: str
) -> tuple[list[dict[str, Any]], int]:
    """Every item of a paginated list, following nextCursor, and the number of pages."""
    items, cursor, pages = [], None, 0
    while True:
        page_query = {"limit": str(limit), **query, **({"cursor": cursor} if cursor else {})}
        response = api("GET", path, query=page_query)
        assert response["statusCode"] == 200, response["body"]
        assert len(response["json"]["items"]) <= limit
        items.extend(response["json"]["items"])
        pages += 1
        cursor = response["json"]["nextCursor"]
        if cursor is None:
            return items, pages


def error_fields(response: dict[str, Any]) -> set[str]:
    """The fields a 422 names: ours (`field`) or the request validator's (`detail[].loc`)."""
    body = response["json"]
    if "field" in body:
        return {body["field"]}
    return {".".join(str(part) for part in error["loc"][1:]) for error in body["detail"]}


def header(response: dict[str, Any], name: str) -> str:
    value: str = response["multiValueHeaders"][name][0]
    return value


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# Services


def test_creating_a_service_answers_201_with_its_id_and_version_1(api: ApiCall) -> None:
    response = create(
        api, confirmation="double_opt_in", validity={"subscriptionDays": 90, "end": None}
    )

    assert response["statusCode"] == 201
    body = response["json"]
    assert body["serviceId"].startswith("svc-")
    assert (body["name"], body["label"], body["publicLabel"]) == ("news", "News", "Our news")
    assert (body["channel"], body["confirmation"], body["version"]) == ("email", "double_opt_in", 1)
    assert body["validity"] == {"start": None, "end": None, "subscriptionDays": 90}
    assert header(response, "ETag") == '"1"'


def test_a_created_service_can_be_read_back(api: ApiCall) -> None:
    created = create(api, validity={"start": "2026-01-01T00:00:00Z"})["json"]

    response = api("GET", f"/v1/services/{created['serviceId']}")

    assert response["statusCode"] == 200
    assert response["json"] == created


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": MISSING}, "name"),
        ({"name": "has space"}, "name"),
        ({"channel": "fax"}, "channel"),
        ({"confirmation": "maybe"}, "confirmation"),
        ({"colour": "blue"}, "colour"),
        ({"validity": {"subscriptionDays": 0}}, "validity.subscriptionDays"),
        ({"validity": {"start": LATER, "end": EARLIER}}, "validity.end"),
        ({"validity": {"start": LATER, "end": LATER}}, "validity.end"),
        ({"validity": {"start": "2026-01-01T00:00:00", "end": LATER}}, "validity.start"),
        ({"validity": {"end": "2026-02-01T00:00:00"}}, "validity.end"),
    ],
    ids=[
        "missing-name",
        "bad-name",
        "unknown-channel",
        "unknown-confirmation",
        "extra-field",
        "zero-days",
        "end-before-start",
        "end-at-start",
        "start-without-offset",
        "end-without-offset",
    ],
)
def test_a_bad_service_is_422_naming_the_field_and_creates_nothing(
    api: ApiCall, fields: dict[str, Any], field: str
) -> None:
    response = create(api, **fields)

    assert response["statusCode"] == 422
    assert field in error_fields(response)
    assert ServiceModel.count() == 0


def test_the_list_of_services_is_paginated_without_duplicates(api: ApiCall) -> None:
    created = {create_id(api, name=f"news-{i}") for i in range(7)}

    items, pages = all_pages(api, "/v1/services", limit=3)

    assert [item["serviceId"] for item in items if item["serviceId"] in created] == [
        item["serviceId"] for item in items
    ]
    assert sorted(item["serviceId"] for item in items) == sorted(created)
    assert pages >= 3


def test_a_cursor_of_another_list_is_422(api: ApiCall) -> None:
    service_id = create_id(api)
    for profile in ("p-1", "p-2"):
        subscribe(api, service_id, profile)
    cursor = api("GET", f"/v1/services/{service_id}/subscribers", query={"limit": "1"})["json"][
        "nextCursor"
    ]

    response = api("GET", "/v1/services", query={"cursor": cursor})

    assert (response["statusCode"], error_fields(response)) == (422, {"cursor"})


@pytest.mark.parametrize(
    "query", [{"limit": "0"}, {"limit": "101"}, {"cursor": "%%%"}, {"cursor": "e30"}]
)
def test_bad_paging_parameters_are_422(api: ApiCall, query: dict[str, str]) -> None:
    assert api("GET", "/v1/services", query=query)["statusCode"] == 422


def test_a_patch_with_the_current_version_changes_the_service_and_its_version(api: ApiCall) -> None:
    service_id = create_id(api)

    response = api(
        "PATCH",
        f"/v1/services/{service_id}",
        json_body={"label": "Weekly news", "confirmation": "double_opt_in"},
        headers={"If-Match": '"1"'},
    )

    assert response["statusCode"] == 200
    assert (response["json"]["label"], response["json"]["confirmation"]) == (
        "Weekly news",
        "double_opt_in",
    )
    assert (response["json"]["version"], header(response, "ETag")) == (2, '"2"')
    assert api("GET", f"/v1/services/{service_id}")["json"]["label"] == "Weekly news"


def test_a_patch_with_a_stale_version_is_412_and_changes_nothing(api: ApiCall) -> None:
    service_id = create_id(api)
    api("PATCH", f"/v1/services/{service_id}", json_body={"label": "First"})

    response = api(
        "PATCH",
        f"/v1/services/{service_id}",
        json_body={"label": "Second"},
        headers={"If-Match": "1"},
    )

    assert response["statusCode"] == 412
    stored = api("GET", f"/v1/services/{service_id}")["json"]
    assert (stored["label"], stored["version"]) == ("First", 2)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "renamed"}, "name"),
        ({"channel": "sms"}, "channel"),
        ({"label": ""}, "label"),
        (
            {"validity": {"start": "2026-02-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}},
            "validity.end",
        ),
    ],
)
def test_a_bad_patch_is_422_naming_the_field_and_changes_nothing(
    api: ApiCall, body: dict[str, Any], field: str
) -> None:
    service_id = create_id(api)

    response = api("PATCH", f"/v1/services/{service_id}", json_body=body)

    assert (response["statusCode"], error_fields(response)) == (422, {field})
    assert api("GET", f"/v1/services/{service_id}")["json"]["version"] == 1


def test_a_retried_create_with_an_idempotency_key_creates_one_service(api: ApiCall) -> None:
    key = {"Idempotency-Key": "create-news"}

    first = create(api, headers=key)
    second = create(api, headers=key)

    assert second["statusCode"] == first["statusCode"] == 201
    assert second["json"]["serviceId"] == first["json"]["serviceId"]
    assert ServiceModel.count() == 1


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("PATCH", "", {"label": "x"}),
        ("GET", "/subscribers", None),
        ("PUT", "/subscriptions/p-1", {"status": "subscribed", "reason": "asked"}),
        ("DELETE", "/subscriptions/p-1?reason=asked", None),
    ],
)
def test_an_unknown_service_is_404(
    api: ApiCall, method: str, suffix: str, body: dict[str, str] | None
) -> None:
    path, _, reason = suffix.partition("?reason=")
    response = api(
        method,
        f"/v1/services/svc-nope{path}",
        json_body=body,
        query={"reason": reason} if reason else None,
    )

    assert response["statusCode"] == 404
    assert SubscriptionModel.count() == 0


# Subscriptions


def test_subscribing_to_a_service_without_confirmation_subscribes_at_once_with_history(
    api: ApiCall,
) -> None:
    service_id = create_id(api, validity={"subscriptionDays": 30})

    response = subscribe(api, service_id, reason="signed the form")

    assert response["statusCode"] == 200
    body = response["json"]
    assert (body["serviceId"], body["profileId"]) == (service_id, "p-1")
    assert (body["status"], body["active"]) == ("subscribed", True)
    assert body["expiresAt"] is not None
    (event,) = history(api)
    assert event["scope"] == f"service:{service_id}"
    assert (event["action"], event["result"], event["source"]) == (
        "subscribe",
        "subscribed",
        "operator",
    )
    assert (event["actor"], event["reason"]) == (OPERATOR, "signed the form")
    assert event["expiresAt"] == body["expiresAt"]


def test_the_events_actor_is_the_iam_caller_never_the_body(api: ApiCall) -> None:
    service_id = create_id(api)
    caller = "arn:aws:sts::123456789012:assumed-role/support/jane"

    subscribe(api, service_id, caller=caller)

    assert history(api)[0]["actor"] == caller


def test_subscribing_to_a_double_opt_in_service_is_pending(api: ApiCall) -> None:
    service_id = create_id(api, confirmation="double_opt_in")

    response = subscribe(api, service_id)

    assert (response["json"]["status"], response["json"]["active"]) == ("pending", False)
    (event,) = history(api)
    assert (event["scope"], event["result"]) == (f"service:{service_id}", "pending")


def test_unsubscribing_with_a_reason_ends_the_subscription_with_history(api: ApiCall) -> None:
    service_id = create_id(api)
    subscribe(api, service_id)

    response = unsubscribe(api, service_id, reason="asked by phone")

    assert response["statusCode"] == 200
    assert (response["json"]["status"], response["json"]["active"]) == ("unsubscribed", False)
    event = history(api)[-1]
    assert (event["scope"], event["action"], event["result"]) == (
        f"service:{service_id}",
        "unsubscribe",
        "unsubscribed",
    )
    assert (event["reason"], event["actor"]) == ("asked by phone", OPERATOR)


def test_unsubscribing_needs_a_reason(api: ApiCall) -> None:
    service_id = create_id(api)
    subscribe(api, service_id)

    response = unsubscribe(api, service_id, reason=None)

    assert (response["statusCode"], error_fields(response)) == (422, {"reason"})
    assert len(history(api)) == 1


def test_unsubscribing_a_profile_that_never_subscribed_is_404(api: ApiCall) -> None:
    service_id = create_id(api)

    assert unsubscribe(api, service_id, profile="p-9")["statusCode"] == 404


def test_re_subscribing_after_an_unsubscribe_is_pending_until_confirmed(api: ApiCall) -> None:
    service_id = create_id(api)
    subscribe(api, service_id)
    unsubscribe(api, service_id)

    again = subscribe(api, service_id)
    repeated = subscribe(api, service_id)

    assert (again["json"]["status"], repeated["json"]["status"]) == ("pending", "pending")
    assert [event["result"] for event in history(api)] == ["subscribed", "unsubscribed", "pending"]


def test_a_service_that_has_ended_refuses_subscriptions_and_writes_nothing(api: ApiCall) -> None:
    now = datetime.now(UTC)
    service_id = create_id(
        api,
        validity={"start": iso(now - timedelta(days=10)), "end": iso(now - timedelta(days=1))},
    )

    response = subscribe(api, service_id)

    assert (response["statusCode"], error_fields(response)) == (422, {"serviceId"})
    assert SubscriptionModel.count() == 0
    assert ConsentEventModel.count() == 0


@pytest.mark.parametrize(
    "body",
    [
        {"status": "unsubscribed", "reason": "x"},
        {"status": "subscribed"},
        {"status": "subscribed", "reason": " "},
        {"status": "subscribed", "reason": "x", "source": "landing"},
    ],
)
def test_a_bad_subscription_is_422_and_writes_nothing(api: ApiCall, body: dict[str, Any]) -> None:
    service_id = create_id(api)

    response = api("PUT", f"/v1/services/{service_id}/subscriptions/p-1", json_body=body)

    assert response["statusCode"] == 422
    assert SubscriptionModel.count() == 0
    assert ConsentEventModel.count() == 0


def test_the_subscribers_list_filters_by_status_and_is_paginated(api: ApiCall) -> None:
    service_id = create_id(api)
    for n in range(1, 6):
        subscribe(api, service_id, f"p-{n}")
    for n in (6, 7):
        subscribe(api, service_id, f"p-{n}", status="pending")
    unsubscribe(api, service_id, "p-2")
    path = f"/v1/services/{service_id}/subscribers"

    subscribed, pages = all_pages(api, path, limit=2, status="subscribed")
    pending, _ = all_pages(api, path, limit=2, status="pending")
    everyone, _ = all_pages(api, path, limit=3)

    assert sorted(item["profileId"] for item in subscribed) == ["p-1", "p-3", "p-4", "p-5"]
    assert pages >= 2
    assert {item["status"] for item in subscribed} == {"subscribed"}
    assert sorted(item["profileId"] for item in pending) == ["p-6", "p-7"]
    assert sorted(item["profileId"] for item in everyone) == [f"p-{n}" for n in range(1, 8)]


def test_an_unknown_subscriber_status_is_422(api: ApiCall) -> None:
    service_id = create_id(api)

    response = api("GET", f"/v1/services/{service_id}/subscribers", query={"status": "gone"})

    assert (response["statusCode"], error_fields(response)) == (422, {"status"})


# Idempotency-Key


def test_a_retried_subscription_with_an_idempotency_key_is_answered_once(api: ApiCall) -> None:
    service_id = create_id(api)
    key = {"Idempotency-Key": "sub-42"}
    first = subscribe(api, service_id, headers=key)
    unsubscribe(api, service_id)

    # a retry that arrives after the unsubscribe gets the first answer and applies nothing
    # (applied again, it would re-subscribe the profile as pending)
    retry = subscribe(api, service_id, headers=key)

    assert retry["statusCode"] == first["statusCode"] == 200
    assert retry["json"] == first["json"]
    assert [event["action"] for event in history(api)] == ["subscribe", "unsubscribe"]


def test_an_idempotency_key_reused_with_another_body_is_422_and_writes_nothing(
    api: ApiCall,
) -> None:
    service_id = create_id(api)
    subscribe(api, service_id, headers={"Idempotency-Key": "k"})

    response = subscribe(api, service_id, status="pending", headers={"Idempotency-Key": "k"})

    assert (response["statusCode"], error_fields(response)) == (422, {"Idempotency-Key"})
    assert len(history(api)) == 1


def test_a_retried_unsubscribe_with_an_idempotency_key_is_answered_once(api: ApiCall) -> None:
    service_id = create_id(api)
    subscribe(api, service_id)
    key = {"Idempotency-Key": "unsub-1"}
    first = unsubscribe(api, service_id, headers=key)
    subscribe(api, service_id)

    retry = unsubscribe(api, service_id, headers=key)

    assert retry["json"] == first["json"]
    assert [event["result"] for event in history(api)] == ["subscribed", "unsubscribed", "pending"]
