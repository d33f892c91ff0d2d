"""Delivery feedback per second through the quarantine batch handler in-process, and
DynamoDB writes per notification.

Runs on moto in this process (no network), with the resources of template.yaml.
Notifications are SES events in SNS envelopes, ten to an SQS event (the template's
BatchSize), one recipient each, spread over 20 recipient domains, and handed to
`quarantine.handler.lambda_handler` as Lambda would. Each mix runs on fresh
addresses:

    delivery   deliveries to healthy addresses (the bulk of real feedback)
    soft       soft bounces (Transient/General)      } the outage guard is set not to
    hard       hard bounces (Permanent/General)      } trip: 100 % failures would be
    complaint  complaints                            } an outage
    mixed      85 % deliveries, 8 % soft, 4 % hard, 2 % complaints, 1 % ignored
    outage     soft bounces, all for one domain: the guard trips at the 50th and
               holds the rest (and puts the first 49 back on hold)

Attempt counts (deliveries, complaints, ignored bounces) are kept in memory and
written once per domain and time bucket every 30 s; each mix ends with that write,
so its figures include one flush (20 domains).

moto copies every table a transaction touches (to roll back), so raw rates fall as
tables grow; `own_ms_*` leaves moto's time out: what our code, Powertools, pynamodb
and botocore spend per notification, the part that carries over to Lambda.

Writes are counted as items written (a PutItem, UpdateItem or DeleteItem is one; a
TransactWriteItems counts its Put/Update/Delete items, not its ConditionChecks; a
BatchWriteItem its requests), requests as API calls that write.

Prints `name=value` lines.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from botocore.client import BaseClient

from bench.inprocess import REGION, ROOT, MotoClock, template_on_moto

EVENTS = ROOT / "tests" / "events"

DOMAINS = 20
"""Recipient domains per mix (each mix has its own, so one mix's counts miss the next)."""
BATCH = 10
WRITES = {"PutItem", "UpdateItem", "DeleteItem"}
READS = {"GetItem", "Query", "Scan", "BatchGetItem"}


class DynamoDbCalls:
    """Every DynamoDB call any client makes: requests by operation, and items written."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.items_written = 0

    def record(self, operation: str, params: dict[str, Any]) -> None:
        self.requests[operation] += 1
        if operation in WRITES:
            self.items_written += 1
        elif operation == "TransactWriteItems":
            self.items_written += sum(
                1 for item in params["TransactItems"] if "ConditionCheck" not in item
            )
        elif operation == "BatchWriteItem":
            self.items_written += sum(len(v) for v in params["RequestItems"].values())

    @property
    def write_requests(self) -> int:
        return sum(
            n
            for op, n in self.requests.items()
            if op in WRITES or op in ("TransactWriteItems", "BatchWriteItem")
        )

    @property
    def reads(self) -> int:
        return sum(n for op, n in self.requests.items() if op in READS)


@contextmanager
def counting(calls: DynamoDbCalls) -> Iterator[None]:
    client_class: Any = BaseClient  # botocore-stubs leave out the private _make_api_call
    original = client_class._make_api_call

    def counted(self: BaseClient, operation: str, params: Any) -> Any:
        if self.meta.service_model.service_name == "dynamodb":
            calls.record(operation, params)
        return original(self, operation, params)

    client_class._make_api_call = counted
    try:
        yield
    finally:
        client_class._make_api_call = original


class Notifications:
    """SES notifications for fresh recipients, in SNS envelopes."""

    def __init__(self) -> None:
        self._fixtures = {
            name: json.loads((EVENTS / f"ses_{name}.json").read_text())
            for name in ("delivery", "bounce_soft", "bounce_hard", "complaint")
        }
        self._serial = 0
        self._at = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)

    def make(self, kind: str, domains: list[str]) -> str:
        self._serial += 1
        recipient = f"r{self._serial}@{domains[self._serial % len(domains)]}"
        at = (self._at + timedelta(seconds=self._serial)).isoformat()
        if kind == "delivery":
            document = dict(self._fixtures["delivery"])
            document["delivery"] = {**document["delivery"], "recipients": [recipient]}
        elif kind == "complaint":
            document = dict(self._fixtures["complaint"])
            document["complaint"] = {
                **document["complaint"],
                "complainedRecipients": [{"emailAddress": recipient}],
            }
        else:
            document = dict(self._fixtures["bounce_hard" if kind == "hard" else "bounce_soft"])
            bounce = dict(document["bounce"])
            bounce["bouncedRecipients"] = [
                {**bounce["bouncedRecipients"][0], "emailAddress": recipient}
            ]
            if kind == "ignored":
                bounce["bounceSubType"] = "MessageTooLarge"
            document["bounce"] = bounce
        document["mail"] = {**document["mail"], "messageId": f"bench-{self._serial}"}
        for section in ("delivery", "bounce", "complaint"):
            if section in document:
                document[section] = {**document[section], "timestamp": at}
        return json.dumps(
            {
                "Type": "Notification",
                "MessageId": f"sns-{self._serial}",
                "TopicArn": f"arn:aws:sns:{REGION}:123456789012:feedback",
                "Message": json.dumps(document),
                "Timestamp": at,
            }
        )


def sqs_event(bodies: list[str], first: int) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"sqs-{first + i}",
                "receiptHandle": f"rh-{first + i}",
                "body": body,
                "attributes": {"SentTimestamp": str(int(time.time() * 1000))},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:feedback",
                "awsRegion": REGION,
            }
            for i, body in enumerate(bodies)
        ]
    }


def mix_of(name: str, count: int) -> list[str]:
    if name == "outage":
        return ["soft"] * count
    if name != "mixed":
        return [name] * count
    shares = (("delivery", 85), ("soft", 8), ("hard", 4), ("complaint", 2), ("ignored", 1))
    pattern = [kind for kind, share in shares for _ in range(share)]
    return [pattern[(i * 37) % len(pattern)] for i in range(count)]


def run(
    handler: Callable[..., Any],
    flush: Callable[[], None],
    bodies: list[str],
    moto: MotoClock,
) -> tuple[float, float, DynamoDbCalls]:
    events = [sqs_event(bodies[i : i + BATCH], i) for i in range(0, len(bodies), BATCH)]
    context = SimpleNamespace(
        function_name="quarantine",
        memory_limit_in_mb=512,
        invoked_function_arn=f"arn:aws:lambda:{REGION}:123456789012:function:quarantine",
        aws_request_id="bench",
        get_remaining_time_in_millis=lambda: 60_000,
    )
    calls = DynamoDbCalls()
    moto_before = moto.seconds
    with contextlib.redirect_stdout(io.StringIO()), counting(calls), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Powertools: "No application metrics to publish"
        start = time.perf_counter()
        for event in events:
            response = handler(event, context, sms=None)
            assert response == {"batchItemFailures": []}, response
        flush()
        elapsed = time.perf_counter() - start
    own = elapsed - (moto.seconds - moto_before)
    return len(bodies) / elapsed, own * 1000 / len(bodies), calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=500, help="notifications per mix")
    args = parser.parse_args()

    with template_on_moto(POWERTOOLS_SERVICE_NAME="quarantine", POWERTOOLS_LOG_LEVEL="ERROR"):
        from consentry.core.clock import utc_now
        from quarantine import handler
        from quarantine.outage import OutageGuard

        default_policy = handler.policy
        never_trips = replace(default_policy, outage_min_failures=10**9)

        def flush() -> None:
            handler.pending_attempts.flushed_at = None
            OutageGuard(handler.policy, utc_now, handler.pending_attempts).flush()

        moto = MotoClock()
        notifications = Notifications()
        print(f"notifications_per_mix={args.count}")
        for mix in ("delivery", "soft", "hard", "complaint", "mixed", "outage"):
            handler.policy = never_trips if mix in ("soft", "hard", "complaint") else default_policy
            kinds = mix_of(mix, args.count)
            domains = [f"{mix}{i}.example" for i in range(1 if mix == "outage" else DOMAINS)]
            bodies = [notifications.make(kind, domains) for kind in kinds]
            rate, own_ms, calls = run(handler.lambda_handler, flush, bodies, moto)
            n = len(kinds)
            print(f"{mix}.notifications_per_s={rate:.0f}")
            print(f"{mix}.own_ms_per_notification={own_ms:.2f}")
            print(f"{mix}.own_notifications_per_s={1000 / own_ms:.0f}")
            print(f"{mix}.dynamodb_write_items_per_notification={calls.items_written / n:.2f}")
            print(f"{mix}.dynamodb_write_requests_per_notification={calls.write_requests / n:.2f}")
            print(f"{mix}.dynamodb_reads_per_notification={calls.reads / n:.2f}")
            kinds_text = ",".join(f"{op}:{c / n:.2f}" for op, c in sorted(calls.requests.items()))
            print(f"{mix}.dynamodb_calls_per_notification.kinds={kinds_text}")


if __name__ == "__main__":
    main()
