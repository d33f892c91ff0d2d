"""The local stack's outbox: every email the functions send through (moto's) SES,
appended to `<state dir>/outbox.jsonl` as it is sent, one JSON object a line.

Locally nothing is delivered, so this is where the double opt-in confirmation email
of `/s/<serviceId>` arrives: open its link to confirm. moto keeps sent messages in its
SES backend, in this process; a thread copies new ones out (moto's own
`/moto-api/data.json` cannot list them while Lambda functions exist without Docker).

The replies to inbound SMS keywords arrive here too (`"channel": "sms"`): moto has no
SMS service, so the stack's moto server keeps them (`aws.TextMessages`).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from moto.ses.models import ses_backends

from infra.local.aws import TextMessages
from infra.local.template import ACCOUNT_ID

POLL_S = 0.2


def message_record(message: Any) -> dict[str, Any]:
    """What the outbox keeps of one message moto's SES holds."""
    return {
        "channel": "email",
        "id": message.id,
        "source": message.source,
        "to": list(message.destinations.get("ToAddresses", [])),
        "subject": message.subject,
        "body": message.body,
    }


def text_record(text: dict[str, Any]) -> dict[str, Any]:
    """What the outbox keeps of one SMS (a SendTextMessage request)."""
    return {
        "channel": "sms",
        "id": text["MessageId"],
        "source": text.get("OriginationIdentity"),
        "to": [text.get("DestinationPhoneNumber")],
        "subject": None,
        "body": text.get("MessageBody"),
    }


class Outbox:
    """Copies SES's sent messages of one region, and the SMS sent, to a JSON-lines file
    until stopped."""

    def __init__(self, region: str, path: Path, texts: TextMessages | None = None) -> None:
        self._messages = ses_backends[ACCOUNT_ID][region].sent_messages
        self._texts = texts or TextMessages()
        self._path = path
        self._copied = 0
        self._texts_copied = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)

    def start(self) -> Outbox:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._path.write_text("")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.copy()

    def copy(self) -> int:
        """Append the messages sent since the last copy; how many there were."""
        new = self._messages[self._copied :]
        texts = self._texts.since(self._texts_copied)
        records = [message_record(m) for m in new] + [text_record(t) for t in texts]
        if records:
            with self._path.open("a", encoding="utf-8") as file:
                for record in records:
                    file.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._copied += len(new)
            self._texts_copied += len(texts)
        return len(records)

    def _run(self) -> None:
        while not self._stop.wait(POLL_S):
            self.copy()
