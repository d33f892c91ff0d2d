"""The local stack, started as `make run` starts it and driven over real HTTP.

One stack serves the whole module (starting it takes a few seconds); the last test
stops it.
"""

import json
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.conftest import ROOT
from tests.stack import Stack, free_port, running_stack, start_stack

pytestmark = pytest.mark.stack

EVENTS = ROOT / "tests" / "events"
ONE_CLICK = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def table_names() -> None:
    """Overrides the package's autouse moto setup: these tests talk to the stack's own moto."""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("stack")) as started:
        yield started


def test_demo_data_names_profiles_in_four_locales_with_links(stack: Stack) -> None:
    profiles = stack.state["profiles"]

    assert len(profiles) >= 5
    assert {p["locale"] for p in profiles} >= {"en", "nl", "fr", "de"}
    assert all(p["one_click_url"].startswith(f"{stack.state['api_url']}/u/") for p in profiles)
    assert all(p["preferences_url"].startswith(f"{stack.state['api_url']}/p/") for p in profiles)
    assert all(p["phone"].startswith("+") for p in profiles)


@pytest.mark.parametrize(("role", "shown"), [("operator", "(operator)"), ("viewer", "(viewer)")])
def test_the_demo_console_users_sign_in_with_their_role(
    stack: Stack, role: str, shown: str
) -> None:
    console = stack.state["console"]
    user = console[role]
    # The cookies are Secure: a browser keeps them on 127.0.0.1, requests' jar does not.
    form = requests.get(f"{console['url']}/sign-in", timeout=10)
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf

    signed_in = requests.post(
        f"{console['url']}/sign-in",
        data={"csrf": csrf.group(1), **user},
        cookies=_set_cookies(form),
        allow_redirects=False,
        timeout=10,
    )
    dashboard = requests.get(console["url"], cookies=_set_cookies(signed_in), timeout=10)

    assert signed_in.status_code == 303
    assert f"{user['username']} {shown}" in dashboard.text
    assert len(user["password"]) >= 14


def _set_cookies(response: requests.Response) -> dict[str, str]:
    found = {}
    for header in response.raw.headers.getlist("Set-Cookie"):
        name, _, rest = header.partition("=")
        found[name] = rest.split(";", 1)[0]
    return found


def test_a_one_click_post_unsubscribes_and_is_the_latest_event(stack: Stack) -> None:
    profile = stack.state["profiles"][0]

    response = requests.post(
        profile["one_click_url"],
        data="List-Unsubscribe=One-Click",
        headers=ONE_CLICK,
        allow_redirects=False,
        timeout=10,
    )

    assert response.status_code == 200
    assert "Location" not in response.headers
    consent = stack.consent(profile)
    assert consent["noLongerContact"]["all"] is True
    assert consent["latestEvents"][0]["source"] == "one_click"


def test_a_tampered_token_is_refused_and_changes_nothing(stack: Stack) -> None:
    profile = stack.state["profiles"][1]
    before = stack.consent(profile)
    url = profile["one_click_url"]
    # A character in the middle: all six of its bits count (the last one's may be padding).
    middle = len(url) - 20
    tampered = url[:middle] + ("A" if url[middle] != "A" else "B") + url[middle + 1 :]

    response = requests.post(
        tampered, data="List-Unsubscribe=One-Click", headers=ONE_CLICK, timeout=10
    )

    assert 400 <= response.status_code < 500
    assert stack.consent(profile) == before


def test_get_and_head_on_the_one_click_url_change_nothing(stack: Stack) -> None:
    profile = stack.state["profiles"][2]
    before = stack.consent(profile)

    got = requests.get(profile["one_click_url"], timeout=10)
    head = requests.head(profile["one_click_url"], timeout=10)

    assert got.status_code == 200
    assert head.status_code == 200
    assert head.content == b""
    assert stack.consent(profile) == before
    assert before["noLongerContact"]["all"] is False


def test_a_path_no_route_serves_is_not_found(stack: Stack) -> None:
    response = requests.get(f"{stack.state['api_url']}/nowhere", timeout=10)

    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}


def test_a_hard_bounce_published_to_the_feedback_topic_quarantines_the_address(
    stack: Stack,
) -> None:
    bounce = json.loads((EVENTS / "ses_bounce_hard.json").read_text())
    address = "local-stack-bounce@example.com"
    bounce["bounce"]["bouncedRecipients"][0]["emailAddress"] = address
    bounce["mail"]["destination"] = [address]

    stack.client("sns").publish(
        TopicArn=stack.state["feedback_topic_arn"], Message=json.dumps(bounce)
    )

    url = f"{stack.state['api_url']}/v1/addresses/email/{address}"
    deadline = time.monotonic() + 30
    while (response := requests.get(url, timeout=10)).status_code == 404:
        assert time.monotonic() < deadline, "the bounce never reached the quarantine"
        time.sleep(0.5)
    assert response.status_code == 200
    state = response.json()
    if state["status"] != "quarantine":  # it read `valid` once, under load: say why if again
        history = requests.get(f"{url}/history", timeout=10).json()
        outages = requests.get(f"{stack.state['api_url']}/v1/outages", timeout=10).json()
        pytest.fail(f"read {state}; its history {history}; outages {outages}")


def test_feedback_that_keeps_failing_is_redriven_to_the_dead_letter_queue(stack: Stack) -> None:
    sqs = stack.client("sqs")
    dead_letters = sqs.get_queue_url(QueueName="consentry-FeedbackDeadLetterQueue")["QueueUrl"]

    stack.client("sns").publish(
        TopicArn=stack.state["feedback_topic_arn"], Message="not a notification: local-test"
    )

    deadline = time.monotonic() + 30
    messages: list[dict[str, Any]] = []
    while not messages and time.monotonic() < deadline:
        messages = sqs.receive_message(
            QueueUrl=dead_letters, WaitTimeSeconds=1, MessageSystemAttributeNames=["All"]
        ).get("Messages", [])
    assert messages, "the failing message never reached the dead-letter queue"
    assert json.loads(messages[0]["Body"])["Message"] == "not a notification: local-test"
    # Five receives from the feedback queue (maxReceiveCount), and this one.
    assert int(messages[0]["Attributes"]["ApproximateReceiveCount"]) == 6


def test_an_analysis_execution_reaches_the_analyze_functions(stack: Stack) -> None:
    """The input is no valid analysis request: Plan fails and the failure path runs."""
    sfn = stack.client("stepfunctions")
    execution = sfn.start_execution(
        stateMachineArn=stack.state["state_machine_arn"],
        name="local-stack-test",
        input=json.dumps({"deliveryId": "demo-delivery"}),
    )["executionArn"]

    # While the fail step itself raises, RecordFailure's retries (2 s, doubling) take 30 s.
    deadline = time.monotonic() + 60
    while sfn.describe_execution(executionArn=execution)["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not end"
        time.sleep(1)

    assert sfn.describe_execution(executionArn=execution)["status"] == "FAILED"
    events = sfn.get_execution_history(executionArn=execution)["events"]
    invoked = [
        json.loads(e["taskScheduledEventDetails"]["parameters"])["FunctionName"]
        for e in events
        if e["type"] == "TaskScheduled"
    ]
    assert invoked[0].endswith(":function:consentry-AnalyzePlanFunction")
    assert invoked[1].endswith(":function:consentry-AnalyzeRecordFailureFunction")
    failure = next(e["taskFailedEventDetails"] for e in events if e["type"] == "TaskFailed")
    cause = json.loads(failure["cause"])  # the handler's exception, as Lambda reports it
    assert cause["errorType"] == failure["error"]
    assert cause["stackTrace"]


def test_a_second_stack_on_a_taken_port_says_so_in_one_line(stack: Stack, tmp_path: Path) -> None:
    taken = urlsplit(stack.state["api_url"]).port

    second = start_stack(tmp_path, "--port", str(taken), "--aws-port", str(free_port()))

    assert second.wait(timeout=30) == 2
    message = (tmp_path / "stderr.txt").read_text()
    assert message.count("\n") == 1
    assert f"127.0.0.1:{taken}" in message
    assert "Traceback" not in message


def test_sigint_stops_the_stack_cleanly(stack: Stack) -> None:
    stack.process.send_signal(signal.SIGINT)

    assert stack.process.wait(timeout=10) == 0
    assert stack.stdout.read_text().rstrip().endswith("stopped")
