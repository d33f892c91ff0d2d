"""The template's `rate(...)` schedules, run by the local stack: each function once when
the stack starts (so what it keeps, such as the suppression snapshots, exists before
the first request), then at its rate, on a thread of its own.

Daily `cron(...)` jobs are left alone: they tidy data at night and a local stack seldom
lives that long (their tests call them directly).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from infra.local.lambdas import LocalFunction
from infra.local.template import Resolver, Template

_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class RateSchedule:
    function: LocalFunction
    seconds: int


def rate_schedules(
    template: Template, resolver: Resolver, functions: Mapping[str, LocalFunction]
) -> list[RateSchedule]:
    """The enabled `rate(...)` schedules of the functions that run locally."""
    schedules = []
    for event in template.function_events("Schedule"):
        props = resolver.resolve(event.properties)
        if not props.get("Enabled", True) or event.function not in functions:
            continue
        match = _RATE.fullmatch(str(props["Schedule"]))
        if match is None:
            continue
        unit = match.group(2).rstrip("s")
        schedules.append(
            RateSchedule(functions[event.function], int(match.group(1)) * _SECONDS[unit])
        )
    return schedules


class Scheduler:
    """Runs each schedule's function now, then every `seconds`, until stopped; an error
    is printed and the next run comes as scheduled (as EventBridge would)."""

    def __init__(
        self, schedules: list[RateSchedule], invoke: Callable[[LocalFunction, Any], Any]
    ) -> None:
        self._schedules = schedules
        self._invoke = invoke
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def run_all_once(self) -> None:
        for schedule in self._schedules:
            self._run(schedule)

    def start(self) -> Scheduler:
        for schedule in self._schedules:
            thread = threading.Thread(
                target=self._every,
                args=(schedule,),
                name=f"schedule-{schedule.function.logical_id}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def _every(self, schedule: RateSchedule) -> None:
        while not self._stop.wait(schedule.seconds):
            self._run(schedule)

    def _run(self, schedule: RateSchedule) -> None:
        event = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
        try:
            self._invoke(schedule.function, event)
        except Exception as error:
            print(f"  schedule {schedule.function.logical_id} failed: {error!r}", flush=True)
