"""How far an analysis execution has come, from its history and its map run, drawn as a
bar on a terminal (or one line per step elsewhere)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import IO, Any

STEPS = ("Plan", "Count", "Partition", "Classify", "Assemble", "Summarize")
OPTIONAL = frozenset({"Count", "Partition", "Assemble"})
"""Steps an execution may skip. Plan's output says whether Count runs; the output of
Plan or, after a count, of Sized (shown as part of Count) whether the others do."""
BAR_WIDTH = 30


@dataclass(frozen=True)
class Progress:
    step: str
    done: int
    total: int
    fraction: float
    """Of the whole execution, 0..1."""


def progress(sfn: Any, execution_arn: str) -> Progress:
    """Where the execution is: its current step, and that step's items done."""
    events = _history(sfn, execution_arn)
    entered = [
        e["stateEnteredEventDetails"]["name"]
        for e in events
        if "stateEnteredEventDetails" in e and e["stateEnteredEventDetails"]["name"] in STEPS
    ]
    if not entered:
        return Progress("Plan", 0, 1, 0.0)
    outputs = _outputs(events)
    steps = [step for step in STEPS if _runs(step, outputs)]
    step = entered[-1]
    done, total = _items(sfn, execution_arn, events, step)
    position = steps.index(step) if step in steps else 0
    fraction = (position + (done / total if total else 0.0)) / len(steps)
    return Progress(step, done, total, min(fraction, 1.0))


def _history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    token = None
    while True:
        page = sfn.get_execution_history(
            executionArn=execution_arn, maxResults=1000, **({"nextToken": token} if token else {})
        )
        events += page["events"]
        token = page.get("nextToken")
        if not token:
            return events


def _outputs(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The outputs of Plan and Sized, by state name, as far as they have run."""
    outputs: dict[str, dict[str, Any]] = {}
    for event in events:
        details = event.get("stateExitedEventDetails")
        if details and details["name"] in {"Plan", "Sized"} and details.get("output"):
            outputs[details["name"]] = json.loads(details["output"])
    return outputs


def _runs(step: str, outputs: dict[str, dict[str, Any]]) -> bool:
    """Whether the execution runs `step`; an optional step counts until it is known."""
    planned = outputs.get("Plan")
    if step not in OPTIONAL or planned is None:
        return True
    if step == "Count":
        return bool(planned.get("count", {}).get("needed"))
    decided = outputs.get("Sized", planned if "partition" in planned else None)
    if decided is None:
        return True
    if step == "Partition":
        return bool(decided.get("partition", {}).get("needed"))
    return bool(decided.get("assemble"))


def _items(
    sfn: Any, execution_arn: str, events: list[dict[str, Any]], step: str
) -> tuple[int, int]:
    if step == "Classify":
        runs = sfn.list_map_runs(executionArn=execution_arn).get("mapRuns", [])
        if not runs:
            return 0, 0
        counts = sfn.describe_map_run(mapRunArn=runs[-1]["mapRunArn"])["itemCounts"]
        return int(counts["succeeded"]), int(counts["total"])
    if step in OPTIONAL:
        started = [i for i, e in enumerate(events) if e["type"] == "MapStateStarted"]
        if not started:
            return 0, 0
        since = events[started[-1] :]
        total = int(since[0].get("mapStateStartedEventDetails", {}).get("length", 0))
        done = sum(1 for e in since if e["type"] == "MapIterationSucceeded")
        return done, total
    return 0, 1


class Bar:
    """A bar redrawn in place on a terminal; on anything else, a line per new step."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.started = time.monotonic()
        self._last_step = ""

    def show(self, state: Progress) -> None:
        elapsed = time.monotonic() - self.started
        items = f"{state.done}/{state.total}" if state.total > 1 else ""
        if self.tty:
            filled = round(BAR_WIDTH * state.fraction)
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            self.stream.write(
                f"\r[{bar}] {state.fraction:4.0%}  {state.step:<10}{items:>12}  {elapsed:6.1f}s"
            )
            self.stream.flush()
        elif state.step != self._last_step:
            self.stream.write(f"{elapsed:6.1f}s  {state.step}\n")
            self.stream.flush()
        self._last_step = state.step

    def close(self, status: str) -> None:
        elapsed = time.monotonic() - self.started
        if self.tty:
            self.stream.write("\n")
        self.stream.write(f"{status} in {elapsed:.1f}s\n")
        self.stream.flush()
