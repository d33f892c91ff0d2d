"""Races over real HTTP on the local stack, whose invocations run at once as on Lambda.

Every test sends its requests from many threads at one moment. Expected each time:
nothing answers >= 500, no accepted change is lost (each is one event, and the
state is the one the events rebuild), the chain verifies, and nothing is
dead-lettered. The last test shows that the stack did run invocations at once.
"""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests

from tests.conftest import ROOT
from tests.stack import Stack, running_stack
from tests.tally import TALLY

pytestmark = pytest.mark.stack

WRITERS = 40
EVENTS = ROOT / "tests" / "events"
ONE_CLICK = {"Content-Type": "application/x-www-form-urlencoded"}
T = TypeVar("T")
FLAGS = ("all", "email", "sms", "phone", "direct_mail", "push")


@pytest.fixture
def table_names() -> None:
    """Overrides the package's autouse moto setup: these tests talk to the stack's own moto."""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("race-stack")) as started:
        yield started


def at_once(count: int, call: Callable[[int], T]) -> list[T]:
    """`call(0..count-1)` from `count` threads released together."""
    barrier = threading.Barrier(count)

    def run(i: int) -> T:
        barrier.wait()
        return call(i)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def no_server_error(responses: Iterable[requests.Response]) -> None:
    responses = list(responses)
    failed = [(r.status_code, r.text[:200]) for r in responses if r.status_code >= 500]
    TALLY["race_requests"] += len(responses)
    TALLY["race_server_errors"] += len(failed)
    assert failed == []


def register(stack: Stack, profile: str) -> int:
    response = requests.put(
        f"{stack.api_url}/v1/profiles/{profile}",
        json={
            "addresses": {"email": f"{profile}@example.com", "sms": "+14255550100"},
            "locale": "en",
        },
        timeout=30,
    )
    assert response.status_code == 201, response.text
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
        timeout=120,
    )


def history(stack: Stack, path: str) -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        params = {"limit": "100"} | ({"cursor": cursor} if cursor else {})
        response = requests.get(f"{stack.api_url}{path}", params=params, timeout=30)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        if (cursor := body["nextCursor"]) is None:
            return items


def rebuilt_flags(events: Iterable[Mapping[str, Any]]) -> dict[str, bool]:
    flags = dict.fromkeys(FLAGS, False)
    for event in events:
        scope = event["scope"]
        if scope == "all" or scope.startswith("channel:"):
            flags[scope.removeprefix("channel:")] = event["action"] == "opt_out"
    return flags


def consent(stack: Stack, profile: str) -> dict[str, Any]:
    response = requests.get(f"{stack.api_url}/v1/profiles/{profile}/consent", timeout=30)
    assert response.status_code == 200
    return dict(response.json())


def assert_chain_holds(stack: Stack, profile: str, events: list[dict[str, Any]]) -> None:
    verify = requests.get(f"{stack.api_url}/v1/profiles/{profile}/history/verify", timeout=30)
    assert verify.json()["valid"] is True, verify.text
    assert verify.json()["events"] == len(events)


def nothing_dead_lettered(stack: Stack) -> None:
    sqs = stack.client("sqs")
    for url in sqs.list_queues().get("QueueUrls", []):
        if "DeadLetter" not in url:
            continue
        attributes = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        assert sum(int(count) for count in attributes.values()) == 0, url


def links(stack: Stack, profile: str, scopes: Iterable[str]) -> dict[str, str]:
    response = requests.post(
        f"{stack.api_url}/v1/links",
        json={
            "deliveryId": f"race-{uuid.uuid4().hex[:8]}",
            "recipients": [{"profileId": profile, "scope": scope} for scope in scopes],
        },
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return {item["scope"]: item["oneClickUrl"] for item in response.json()["items"]}


def one_click(url: str) -> requests.Response:
    body = "List-Unsubscribe=One-Click"
    return requests.post(url, data=body, headers=ONE_CLICK, allow_redirects=False, timeout=120)


def test_concurrent_writers_without_if_match_lose_no_update(stack: Stack) -> None:
    register(stack, "race-free")

    def write(i: int) -> requests.Response:
        flag = FLAGS[i % len(FLAGS)]
        return patch(stack, "race-free", {flag: (i // len(FLAGS)) % 2 == 0}, f"writer {i}")

    responses = at_once(WRITERS, write)

    no_server_error(responses)
    assert {r.status_code for r in responses} <= {200, 409}, [r.text for r in responses]
    events = history(stack, "/v1/profiles/race-free/history")
    reasons = [e["reason"] for e in events]
    assert len(reasons) == len(set(reasons))  # no change applied twice
    changed = {
        f"writer {i}"
        for i, r in enumerate(responses)
        if r.status_code == 200 and r.json()["changed"]
    }
    assert set(reasons) == changed  # every accepted change is one event, and no other
    assert rebuilt_flags(events) == consent(stack, "race-free")["noLongerContact"]
    assert_chain_holds(stack, "race-free", events)


def test_concurrent_writers_on_one_version_one_wins_the_rest_get_412(stack: Stack) -> None:
    version = register(stack, "race-match")

    responses = at_once(
        WRITERS,
        lambda i: patch(
            stack, "race-match", {"email": True, "sms": i % 2 == 0}, f"writer {i}", version
        ),
    )

    no_server_error(responses)
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 1
    assert set(statuses) == {200, 412}
    winner = next(r for r in responses if r.status_code == 200).json()
    events = history(stack, "/v1/profiles/race-match/history")
    assert {e["reason"] for e in events} == {winner["latestEvents"][0]["reason"]}
    assert rebuilt_flags(events) == consent(stack, "race-match")["noLongerContact"]
    assert_chain_holds(stack, "race-match", events)


def test_concurrent_one_clicks_on_one_link_record_one_opt_out(stack: Stack) -> None:
    register(stack, "race-click")
    url = links(stack, "race-click", ["all"])["all"]

    responses = at_once(WRITERS, lambda _: one_click(url))

    no_server_error(responses)
    assert {r.status_code for r in responses} == {200}
    events = history(stack, "/v1/profiles/race-click/history")
    assert [(e["scope"], e["action"], e["source"]) for e in events] == [
        ("all", "opt_out", "one_click")
    ]
    assert consent(stack, "race-click")["noLongerContact"]["all"] is True
    assert_chain_holds(stack, "race-click", events)


def test_concurrent_one_clicks_across_scopes_lose_none(stack: Stack) -> None:
    register(stack, "race-scopes")
    scopes = ["all", *(f"channel:{flag}" for flag in FLAGS[1:])]
    urls = links(stack, "race-scopes", scopes)
    clicks = [urls[scopes[i % len(scopes)]] for i in range(WRITERS + 2)]

    responses = at_once(len(clicks), lambda i: one_click(clicks[i]))

    no_server_error(responses)
    assert {r.status_code for r in responses} == {200}
    events = history(stack, "/v1/profiles/race-scopes/history")
    assert sorted(e["scope"] for e in events) == sorted(scopes)  # each scope once
    assert rebuilt_flags(events) == dict.fromkeys(FLAGS, True)
    assert consent(stack, "race-scopes")["noLongerContact"] == dict.fromkeys(FLAGS, True)
    assert_chain_holds(stack, "race-scopes", events)


def test_concurrent_subscribe_and_unsubscribe_end_as_the_last_event_says(stack: Stack) -> None:
    register(stack, "race-sub")
    service = requests.post(
        f"{stack.api_url}/v1/services",
        json={
            "name": "race-news",
            "label": "Race news",
            "publicLabel": "Race news",
            "channel": "email",
        },
        timeout=30,
    )
    assert service.status_code == 201, service.text
    service_id = service.json()["serviceId"]
    url = f"{stack.api_url}/v1/services/{service_id}/subscriptions/race-sub"
    first = requests.put(url, json={"status": "subscribed", "reason": "first"}, timeout=30)
    assert first.status_code in (200, 201), first.text

    def flip(i: int) -> requests.Response:
        if i % 2:
            return requests.delete(url, params={"reason": f"writer {i}"}, timeout=120)
        body = {"status": "subscribed", "reason": f"writer {i}"}
        return requests.put(url, json=body, timeout=120)

    responses = at_once(WRITERS, flip)

    no_server_error(responses)
    assert {r.status_code for r in responses} <= {200, 201, 409}, [r.text for r in responses]
    events = history(stack, "/v1/profiles/race-sub/history")
    reasons = [e["reason"] for e in events]
    assert len(reasons) == len(set(reasons))  # no change applied twice
    # Each event is a real change: subscribe and unsubscribe alternate.
    actions = [e["action"] for e in events]
    assert actions == ["subscribe", "unsubscribe"] * (len(actions) // 2) + ["subscribe"] * (
        len(actions) % 2
    )
    accepted = {"first"} | {f"writer {i}" for i, r in enumerate(responses) if r.status_code < 300}
    assert set(reasons) <= accepted
    subscribers = requests.get(f"{stack.api_url}/v1/services/{service_id}/subscribers", timeout=30)
    [subscription] = subscribers.json()["items"]
    # A subscribe after an unsubscribe is pending (it needs a fresh confirmation).
    assert subscription["status"] == events[-1]["result"]
    assert_chain_holds(stack, "race-sub", events)


def bounce(address: str, message_id: str) -> str:
    notification = json.loads((EVENTS / "ses_bounce_hard.json").read_text())
    notification = copy.deepcopy(notification)
    notification["bounce"]["bouncedRecipients"][0]["emailAddress"] = address
    notification["bounce"]["feedbackId"] = f"feedback-{message_id}"
    notification["mail"]["destination"] = [address]
    notification["mail"]["messageId"] = message_id
    return json.dumps(notification)


def test_concurrent_feedback_for_one_address_loses_none(stack: Stack) -> None:
    # A domain of its own: the stack's other tests bounce at example.com, and 40 more
    # failures there within the hour trip the outage guard, which holds them all.
    address = "race-feedback@race-feedback.example"
    sns = stack.client("sns")
    topic = stack.state["feedback_topic_arn"]

    at_once(
        WRITERS,
        lambda i: sns.publish(TopicArn=topic, Message=bounce(address, f"race-message-{i:02d}")),
    )

    path = f"/v1/addresses/email/{address}/history"
    deadline = time.monotonic() + 120
    while True:
        known = requests.get(f"{stack.api_url}{path}", timeout=30).status_code == 200
        got = {e["messageId"] for e in history(stack, path)} if known else set()
        if len(got) >= WRITERS or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert got == {f"race-message-{i:02d}" for i in range(WRITERS)}
    state = requests.get(f"{stack.api_url}/v1/addresses/email/{address}", timeout=30)
    assert state.json()["status"] == "quarantine"
    nothing_dead_lettered(stack)


def test_an_sms_keyword_reply_lands_in_the_outbox(stack: Stack) -> None:
    inbound = json.loads((EVENTS / "sms_stop.json").read_text())
    inbound["originationNumber"] = "+14255550199"
    inbound["inboundMessageId"] = str(uuid.uuid4())

    stack.client("sns").publish(
        TopicArn=stack.state["feedback_topic_arn"], Message=json.dumps(inbound)
    )

    outbox = Path(stack.state["outbox"])
    deadline = time.monotonic() + 60
    texts: list[dict[str, Any]] = []
    while not texts and time.monotonic() < deadline:
        lines = outbox.read_text(encoding="utf-8").splitlines()
        texts = [r for r in map(json.loads, lines) if r.get("channel") == "sms"]
        time.sleep(0.5)
    assert [(t["to"], t["source"]) for t in texts] == [(["+14255550199"], "+12125550101")]
    nothing_dead_lettered(stack)


def test_concurrent_erasures_and_changes_of_one_profile_erase_it_once(stack: Stack) -> None:
    register(stack, "race-erase")
    url = f"{stack.api_url}/v1/profiles/race-erase"

    def act(i: int) -> requests.Response:
        if i % 2:
            return requests.delete(url, json={"reason": f"erasure {i}"}, timeout=120)
        return patch(stack, "race-erase", {FLAGS[i % len(FLAGS)]: True}, f"writer {i}")

    responses = at_once(16, act)

    no_server_error(responses)
    erasures = responses[1::2]
    assert {r.status_code for r in erasures} <= {200, 409}, [r.text for r in erasures]
    assert len({r.json()["erasedAt"] for r in erasures if r.status_code == 200}) == 1
    assert {r.status_code for r in responses[::2]} <= {200, 409, 410}
    events = history(stack, "/v1/profiles/race-erase/history")
    assert [e["action"] for e in events].count("erase") == 1
    assert events[-1]["action"] == "erase"  # nothing was changed after the erasure
    assert_chain_holds(stack, "race-erase", events)
    assert requests.get(f"{url}/consent", timeout=30).status_code == 410


def test_the_stack_ran_invocations_at_once(stack: Stack) -> None:
    """Last: the races above had invocations in flight together, in separate workers."""
    diagnostics = requests.get(stack.state["diagnostics_url"], timeout=10).json()

    assert diagnostics["workers"] >= 2
    assert diagnostics["maxInFlight"] >= 2, diagnostics
    TALLY["race_max_in_flight"] = diagnostics["maxInFlight"]
    TALLY["race_invocations"] = diagnostics["invocations"]
