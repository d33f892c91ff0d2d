"""What every step of the analysis state machine shares: the tasks and results it passes
(pydantic models, camelCase as in the ASL), the wiring its handler builds at cold start,
and `step`, the one decorator that makes a step function a Lambda handler.

A map step's error is kept under the run's prefix (`errors/<n>-<step>-<number>.json`)
before the step fails: on AWS a failed distributed-map child fails the map with a
generic error (and moto's engine lets the map go on), so RecordFailure reads the
earliest step's own error from there. An attempt that succeeds removes its item's
file, so an error a Retry recovered from never stands in for a later step's.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from consentry.analysis.contract import IncompleteAnalysisError
from consentry.core.bucket import DataBucket, ObjectGoneError
from consentry.core.clock import Clock, utc_now
from consentry.core.observability import logger, tracer
from consentry.core.settings import Settings, per_process

if TYPE_CHECKING:
    from consentry.consent.tokens import Keyring

STEP_ERRORS = "errors/"
"""Where a map step that fails leaves its error, under the run's prefix."""


class StepModel(BaseModel):
    # Built at first use: a step reads one task and returns one result.
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, defer_build=True
    )


class ObjectRef(StepModel):
    bucket: str
    key: str


class PlannedTask(StepModel):
    """A task of a step after Plan: where its plan is."""

    plan: ObjectRef

    @property
    def number(self) -> int:
        """The map item's number (its chunk or shard), for the name of its error file."""
        return 0

    @property
    def run_prefix(self) -> str:
        return self.plan.key.rpartition("/")[0] + "/"


class ChunkTask(PlannedTask):
    """A Partition or Assemble map item: one chunk of the audience."""

    chunk: int

    @property
    def number(self) -> int:
        return self.chunk


class ShardTask(PlannedTask):
    """A Classify map item: one shard."""

    shard: int

    @property
    def number(self) -> int:
        return self.shard


@dataclass(frozen=True)
class Wiring:
    """What the steps need from outside: the settings, the data bucket, the clock."""

    settings: Settings
    bucket: DataBucket
    clock: Clock = utc_now

    @classmethod
    def of(cls, settings: Settings) -> Wiring:
        # The tables of the stores the step loaded at import: Count loads none, and so
        # no pynamodb. So a step imports its stores at the top: had it loaded none by
        # now, a store it loaded later would find its table unbound.
        persistence = sys.modules.get("consentry.core.persistence")
        if persistence is not None:
            persistence.bind_tables(settings)
        return cls(settings, DataBucket(settings.data_bucket, region=settings.aws_region))

    def erasure_keyring(self) -> Keyring:
        """The keys of erased addresses' fingerprints (cached by Powertools parameters)."""
        # Only Classify matches erased addresses: the other steps never load their store.
        from consentry.privacy import fingerprints  # noqa: PLC0415 (first use)

        return fingerprints.load_keyring(
            self.settings.erasure_keys_secret, max_age_s=self.settings.signing_keys_max_age_s
        )


M = TypeVar("M", bound=BaseModel)


def load_stored(bucket: DataBucket, ref: ObjectRef, model: type[M], name: str) -> M:
    """What an earlier step stored in the data bucket (`name`: "plan", "sizing"), from
    where the task says it is."""
    if ref.bucket != bucket.name:
        raise IncompleteAnalysisError(f"the {name} is not in the data bucket")
    try:
        return model.model_validate_json(bucket.get_bytes(ref.key))
    except ObjectGoneError:
        raise IncompleteAnalysisError(f"the run's {name} is missing") from None


current_wiring = per_process(Wiring.of)
"""The process's wiring, built at the first invocation."""


T = TypeVar("T", bound=BaseModel)
Handler = Callable[..., Any]


def step(
    task: type[T], *, keeps_error: str | None = None
) -> Callable[[Callable[[T, Wiring], BaseModel]], Handler]:
    """Make `run(task, wiring) -> result` the step's Lambda handler: the event is bound
    to `task`, the invocation logged and traced, the result returned as JSON. A map
    step names itself in `keeps_error` (`1-partition`: the number orders the steps, so
    the first error file is the earliest step's). A test passes its own wiring:
    `lambda_handler(event, context, wiring=...)`."""

    def decorate(run: Callable[[T, Wiring], BaseModel]) -> Handler:
        @logger.inject_lambda_context
        @tracer.capture_lambda_handler
        @wraps(run)
        def lambda_handler(
            event: dict[str, Any], _context: LambdaContext, wiring: Wiring | None = None
        ) -> dict[str, Any]:
            bound = task.model_validate(event)
            wired = wiring or current_wiring()
            item = bound if keeps_error and isinstance(bound, PlannedTask) else None
            name = f"{keeps_error}-{item.number:05d}" if item is not None else ""
            try:
                result = run(bound, wired)
            except Exception as error:
                if item is not None:
                    _keep(wired, item, name, error)
                raise
            if item is not None:
                _forget(wired, item, name)
            return result.model_dump(mode="json", by_alias=True)

        return lambda_handler

    return decorate


def _error_key(task: PlannedTask, name: str) -> str:
    return f"{task.run_prefix}{STEP_ERRORS}{name}.json"


def _keep(wiring: Wiring, task: PlannedTask, name: str, error: Exception) -> None:
    try:
        wiring.bucket.put_json(
            _error_key(task, name), {"type": type(error).__name__, "message": str(error)}
        )
    except Exception:  # the step's own error is the one Lambda must report
        logger.warning("the step's error could not be kept", extra={"step": name})


def _forget(wiring: Wiring, task: PlannedTask, name: str) -> None:
    """Remove what an earlier, retried attempt of this item kept (a DELETE of a key that
    is not there succeeds, and costs nothing)."""
    try:
        wiring.bucket.delete(_error_key(task, name))
    except Exception:  # the step succeeded; a stale file is only a worse reason
        logger.warning("a retried attempt's error could not be removed", extra={"step": name})
