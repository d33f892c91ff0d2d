"""The local stack's moto front: one call at a time, except what is not one call."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from infra.local.aws import AtomicCalls, TextMessages
from infra.local.outbox import text_record


class SlowApp:
    """A WSGI app that records how many calls it ran at once."""

    def __init__(self, answers: list[dict[str, Any]] | None = None) -> None:
        self.running = 0
        self.most = 0
        self.bodies: list[dict[str, Any]] = []
        self._answers = answers or []
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        self.bodies.append(json.loads(body or b"{}"))
        time.sleep(0.02)
        with self._lock:
            self.running -= 1
        start_response("200 OK", [("Content-Type", "application/json")])
        answer = self._answers.pop(0) if self._answers else {}
        return [json.dumps(answer).encode()]


def environ(path: str = "/", target: str = "", body: bytes = b"") -> dict[str, Any]:
    return {
        "PATH_INFO": path,
        "HTTP_X_AMZ_TARGET": target,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }


def call_at_once(app: AtomicCalls, environs: list[dict[str, Any]]) -> list[bytes]:
    barrier = threading.Barrier(len(environs))

    def call(env: dict[str, Any]) -> bytes:
        barrier.wait()
        return b"".join(app(env, lambda *_: None))

    with ThreadPoolExecutor(len(environs)) as pool:
        return list(pool.map(call, environs))


def test_calls_reach_moto_one_at_a_time() -> None:
    moto = SlowApp()

    call_at_once(AtomicCalls(moto, TextMessages()), [environ() for _ in range(8)])

    assert moto.most == 1


def test_lambda_invokes_are_not_held_a_handler_calls_moto_itself() -> None:
    moto = SlowApp()
    invoke = "/2015-03-31/functions/consentry-Plan/invocations"

    call_at_once(AtomicCalls(moto, TextMessages()), [environ(invoke) for _ in range(8)])

    assert moto.most > 1


def test_an_sqs_long_poll_is_made_of_short_polls_until_a_message() -> None:
    moto = SlowApp(answers=[{}, {}, {"Messages": [{"MessageId": "m"}]}])
    body = json.dumps({"QueueUrl": "q", "WaitTimeSeconds": 5}).encode()

    [answer] = call_at_once(
        AtomicCalls(moto, TextMessages()), [environ(target="AmazonSQS.ReceiveMessage", body=body)]
    )

    assert json.loads(answer) == {"Messages": [{"MessageId": "m"}]}
    assert [b["WaitTimeSeconds"] for b in moto.bodies] == [0, 0, 0]


def test_an_sms_is_kept_for_the_outbox_not_sent_to_moto() -> None:
    moto, texts = SlowApp(), TextMessages()
    request = {
        "DestinationPhoneNumber": "+14255550182",
        "OriginationIdentity": "+12125550101",
        "MessageBody": "You are unsubscribed.",
        "MessageType": "TRANSACTIONAL",
    }
    body = json.dumps(request).encode()

    [answer] = call_at_once(
        AtomicCalls(moto, texts),
        [environ(target="PinpointSMSVoiceV2.SendTextMessage", body=body)],
    )

    assert moto.bodies == []
    [sent] = texts.since(0)
    assert json.loads(answer) == {"MessageId": sent["MessageId"]}
    assert text_record(sent) == {
        "channel": "sms",
        "id": sent["MessageId"],
        "source": "+12125550101",
        "to": ["+14255550182"],
        "subject": None,
        "body": "You are unsubscribed.",
    }
