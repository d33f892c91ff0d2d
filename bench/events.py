"""Consent events out on the local stack: how many events the publisher puts on the bus
per second, and PublishLag (from `effectiveAt` to `publishedAt`), from one run.

Starts the local stack as `make run` does (its own moto, on free ports), registers
PROFILES profiles through the operator API, then opts each out of e-mail and of SMS
(two consent changes each, over HTTP, from CLIENTS clients at once), and waits until the
stack's events log (`events.jsonl`: the bus, through a rule and a queue) holds every
change. The stack's stream poller hands the publisher up to 100 records a call.

    events                  consent changes made, and events expected
    changes_per_s           how fast the API made them (the events' arrival rate)
    events_logged           distinct event ids in the log (lost = expected - logged)
    events_duplicated       events in the log more than once
    events_per_s            events over the span of their publishedAt (bounded by the
                            arrival rate while the publisher keeps up)
    publish_lag_ms_p50/p99  publishedAt - effectiveAt over the events

Locally the stream is polled every 0.2 s, so PublishLag includes that wait; on AWS
Lambda's event source mapping is pushed records within about a second (the template's
MaximumBatchingWindowInSeconds).

Prints `name=value` lines.
"""

from __future__ import annotations

import json
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
PROFILES = 100
CLIENTS = 8
START_TIMEOUT_S = 90
DRAIN_TIMEOUT_S = 120


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _run(state_dir: Path) -> dict[str, Any]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "infra.local",
            "--state-dir",
            str(state_dir),
            "--port",
            str(_free_port()),
            "--aws-port",
            str(_free_port()),
            "--no-demo-analysis",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=(state_dir.parent / "stderr.txt").open("w"),
    )
    try:
        demo = state_dir / "demo.json"
        deadline = time.monotonic() + START_TIMEOUT_S
        while not demo.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the stack did not start")
            time.sleep(0.2)
        state = json.loads(demo.read_text())
        return _measure(state["api_url"], Path(state["events"]))
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _measure(api_url: str, log: Path) -> dict[str, Any]:
    profiles = [f"bench-events-{number:04}" for number in range(PROFILES)]
    for profile in profiles:
        requests.put(
            f"{api_url}/v1/profiles/{profile}", json={"addresses": {}, "locale": "en"}, timeout=30
        ).raise_for_status()

    def opt_out(profile: str) -> None:
        for channel in ("email", "sms"):
            requests.patch(
                f"{api_url}/v1/profiles/{profile}/consent",
                json={"noLongerContact": {channel: True}, "reason": "bench"},
                timeout=60,
            ).raise_for_status()

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        list(pool.map(opt_out, profiles))
    changes_s = time.monotonic() - started
    expected = 2 * PROFILES
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while True:
        events = [
            event
            for event in (json.loads(line) for line in log.read_text().splitlines() if line)
            if str(event["detail"].get("profileId", "")).startswith("bench-events-")
        ]
        ids = Counter(event["detail"]["eventId"] for event in events)
        if len(ids) >= expected or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    first: dict[str, dict[str, Any]] = {}
    for event in events:
        first.setdefault(event["detail"]["eventId"], event["detail"])
    published = [_moment(detail["publishedAt"]) for detail in first.values()]
    lags = [
        (_moment(d["publishedAt"]) - _moment(d["effectiveAt"])).total_seconds() * 1000
        for d in first.values()
    ]
    span_s = (max(published) - min(published)).total_seconds() or 1e-3
    return {
        "events": expected,
        "events_logged": len(ids),
        "events_duplicated": sum(1 for count in ids.values() if count > 1),
        "changes_per_s": round(2 * PROFILES / changes_s, 1),
        "events_per_s": round(len(first) / span_s, 1),
        "publish_lag_ms_p50": round(statistics.median(lags), 1),
        "publish_lag_ms_p99": round(_percentile(lags, 0.99), 1),
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for name, value in _run(Path(tmp) / "state").items():
            print(f"{name}={value}")


if __name__ == "__main__":
    main()
