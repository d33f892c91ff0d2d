"""What every step of the analysis state machine shares: the tasks and results it passes
(msgspec structs, camelCase as in the ASL), the wiring its handler builds at cold start,
and `step`, the one decorator that makes a step function a Lambda handler.

The state machine and the steps write every task and result, so they are decoded with
msgspec, not validated with pydantic: a step that reads nothing from a caller loads no
pydantic (docs/decisions.md, "The steps pass msgspec structs"). Plan validates its
input, the caller's request, against the contract; Summarize returns the contract's
record as the record store writes it, a plain document.

A map step's error is kept under the run's prefix (`errors/<n>-<step>-<number>.json`)
before the step fails: on AWS a failed distributed-map child fails the map with a
generic error (and moto's engine lets the map go on), so RecordFailure reads the
earliest step's own error from there (`StepError`). An attempt that succeeds removes
its item's file, so an error a Retry recovered from never stands in for a later step's.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
from aws_lambda_powertools.utilities.typing import LambdaContext

from consentry.analysis.terms import IncompleteAnalysisError
from consentry.core.bucket import DataBucket, ObjectGoneError
from consentry.core.clock import Clock, utc_now
from consentry.core.observability import logger, tracer
from consentry.core.settings import Settings, per_process

if TYPE_CHECKING:
    from consentry.consent.tokens import Keyring

STEP_ERRORS = "errors/"
"""Where a map step that fails leaves its error, under the run's prefix."""


class StepPayload(msgspec.Struct, rename="camel", frozen=True, kw_only=True):
    """A task or result of a step: camelCase in the state machine's JSON."""


class ObjectRef(StepPayload, frozen=True, kw_only=True):
    bucket: str
    key: str


class PlannedTask(StepPayload, frozen=True, kw_only=True):
    """A task of a step after Plan: where its plan is."""

    plan: ObjectRef

    @property
    def number(self) -> int:
        """The map item's number (its chunk or shard), for the name of its error file."""
        return 0

    @property
    def run_prefix(self) -> str:
        return self.plan.key.rpartition("/")[0] + "/"


class ChunkTask(PlannedTask, frozen=True, kw_only=True):
    """A Partition or Assemble map item: one chunk of the audience."""

    chunk: int

    @property
    def number(self) -> int:
        return self.chunk


class ShardTask(PlannedTask, frozen=True, kw_only=True):
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


S = TypeVar("S")


def load_stored(bucket: DataBucket, ref: ObjectRef, shape: type[S], name: str) -> S:
    """What an earlier step stored in the data bucket (`name`: "plan", "sizing"), from
    where the task says it is."""
    if ref.bucket != bucket.name:
        raise IncompleteAnalysisError(f"the {name} is not in the data bucket")
    try:
        return msgspec.json.decode(bucket.get_bytes(ref.key), type=shape)
    except ObjectGoneError:
        raise IncompleteAnalysisError(f"the run's {name} is missing") from None
    except msgspec.MsgspecError as error:  # a damaged object: nothing to go on from
        raise IncompleteAnalysisError(f"the run's {name} cannot be read: {error}") from None


def store(bucket: DataBucket, key: str, value: object) -> None:
    """Write `value` (a struct, or a dataclass of them) where a later step loads it."""
    bucket.put_bytes(key, msgspec.json.encode(value), "application/json")


current_wiring = per_process(Wiring.of)
"""The process's wiring, built at the first invocation."""


class StepError(StepPayload, frozen=True, kw_only=True):
    """Why a step failed: what a map step keeps under the run's prefix, and what
    RecordFailure records (the contract's `AnalysisError`)."""

    type: str
    message: str


T = TypeVar("T", bound=StepPayload)
Result = StepPayload | dict[str, Any]
"""A step's result: a struct, or a document already in the state machine's JSON."""
Handler = Callable[..., Any]


def step(
    task: type[T], *, keeps_error: str | None = None
) -> Callable[[Callable[[T, Wiring], Result]], Handler]:
    """Make `run(task, wiring) -> result` the step's Lambda handler: the event is bound
    to `task`, the invocation logged and traced, the result returned as JSON. A map
    step names itself in `keeps_error` (`1-partition`: the number orders the steps, so
    the first error file is the earliest step's). A test passes its own wiring:
    `lambda_handler(event, context, wiring=...)`."""

    def decorate(run: Callable[[T, Wiring], Result]) -> Handler:
        @logger.inject_lambda_context
        @tracer.capture_lambda_handler
        @wraps(run)
        def lambda_handler(
            event: dict[str, Any], _context: LambdaContext, wiring: Wiring | None = None
        ) -> dict[str, Any]:
            bound = msgspec.convert(event, task)
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
            if isinstance(result, StepPayload):
                plain: dict[str, Any] = msgspec.to_builtins(result)
                return plain
            return result

        return lambda_handler

    return decorate


def _error_key(task: PlannedTask, name: str) -> str:
    return f"{task.run_prefix}{STEP_ERRORS}{name}.json"


def _keep(wiring: Wiring, task: PlannedTask, name: str, error: Exception) -> None:
    try:
        store(
            wiring.bucket,
            _error_key(task, name),
            StepError(type=type(error).__name__, message=str(error)),
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
