"""The template's functions, run locally: worker processes, context, and moto's invoke.

moto's `awslambda_simple` backend (`"lambda": {"use_docker": False}`) runs no code;
`route_moto_invokes` replaces its `invoke` so an Invoke of a function created from
the template (from Step Functions' Lambda tasks, or any SDK call) runs that function's
`Handler:` in a worker, answering errors the way Lambda does (`X-Amz-Function-Error:
Unhandled` and `{"errorType", "errorMessage", ...}`), which Retry and Catch match on.
An `Event` (asynchronous) invoke runs in a background thread and is not retried.

Invocations run concurrently, as on Lambda: a pool of worker processes (`workers`),
each importing the handlers once and running one invocation at a time, so several
invocations of one function run at once in handler instances that share no state.
"""

from __future__ import annotations

import json
import multiprocessing
import queue
import sys
import threading
import traceback
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moto.awslambda_simple.models import LambdaSimpleBackend

from infra.local.template import FUNCTION, Resolver, Template
from infra.local.workers import (
    FAILED_TO_START,
    READY,
    RESULT,
    FunctionError,
    LambdaContext,
    WorkerFunction,
    load_handlers,
    worker_main,
)

__all__ = ["FunctionError", "LambdaContext"]


@dataclass(frozen=True)
class LocalFunction:
    logical_id: str
    name: str
    arn: str
    handler: str
    """`module.attribute`, imported from `code_dir` as Lambda does."""
    code_dir: Path
    memory_mb: int
    timeout_s: int


def local_functions(
    template: Template, resolver: Resolver, only: Collection[str] | None = None
) -> list[LocalFunction]:
    """The template's functions (or those of `only`) as the local stack runs them."""
    functions = []
    for logical_id in template.resources_of(FUNCTION):
        if not resolver.active(logical_id) or (only is not None and logical_id not in only):
            continue
        props = template.properties(logical_id)
        functions.append(
            LocalFunction(
                logical_id=logical_id,
                name=resolver.ref(logical_id),
                arn=resolver.get_att(logical_id, "Arn"),
                handler=resolver.resolve(props["Handler"]),
                code_dir=template.directory / resolver.resolve(props.get("CodeUri", ".")),
                memory_mb=int(resolver.resolve(props.get("MemorySize", 128))),
                timeout_s=int(resolver.resolve(props.get("Timeout", 3))),
            )
        )
    return functions


class InvocationQueueTimeoutError(RuntimeError):
    """Every worker stayed busy for longer than this function's timeout."""


class InvocationTimeoutError(RuntimeError):
    """The handler ran past its function's timeout; its worker was replaced."""


class WorkerExitError(RuntimeError):
    """The worker died during the invocation (Lambda's Runtime.ExitError)."""


DEFAULT_WORKERS = 4
START_TIMEOUT_S = 120


@dataclass
class InvocationStats:
    """What the stack reports of its invocations, for its diagnostics endpoint."""

    workers: int
    in_flight: int = 0
    max_in_flight: int = 0
    invocations: int = 0

    def as_json(self) -> dict[str, int]:
        return {
            "workers": self.workers,
            "inFlight": self.in_flight,
            "maxInFlight": self.max_in_flight,
            "invocations": self.invocations,
        }


class _Worker:
    def __init__(self, functions: list[WorkerFunction]) -> None:
        context = multiprocessing.get_context("spawn")
        self.connection, child = context.Pipe()
        self.process = context.Process(
            target=worker_main, args=(child, functions), name="consentry-worker", daemon=True
        )
        self.process.start()
        child.close()

    def wait_ready(self, timeout_s: float) -> None:
        if not self.connection.poll(timeout_s):
            self.stop()
            raise RuntimeError(f"a worker did not start within {timeout_s:.0f}s")
        try:
            kind, detail = self.connection.recv()
        except EOFError:
            kind, detail = FAILED_TO_START, "the worker exited"
        if kind != READY:
            self.stop()
            raise RuntimeError(f"a worker could not import the handlers:\n{detail}")

    def stop(self) -> None:
        self.connection.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)


class Invoker:
    """Runs the functions' handlers in a pool of worker processes, concurrently.

    With `workers=0` it runs them in this process, one invocation at a time: for a
    caller whose moto is in-process (`mock_aws`), which worker processes cannot reach.
    """

    def __init__(self, functions: Iterable[LocalFunction], workers: int = DEFAULT_WORKERS) -> None:
        self._functions = {function.name: function for function in functions}
        self._worker_functions = [
            WorkerFunction(
                name=f.name,
                logical_id=f.logical_id,
                arn=f.arn,
                handler=f.handler,
                code_dir=str(f.code_dir),
                memory_mb=f.memory_mb,
                timeout_s=f.timeout_s,
            )
            for f in self._functions.values()
        ]
        self._size = workers
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: list[_Worker] = []
        self._stats_lock = threading.Lock()
        self._stats = InvocationStats(workers=workers)
        self._in_process: dict[str, Callable[[Any, Any], Any]] = {}
        self._in_process_lock = threading.Lock()

    def function(self, name: str) -> LocalFunction | None:
        return self._functions.get(name)

    def load(self) -> None:
        """Start the workers, each importing every handler: a broken import stops the
        stack at start, not mid-request.

        The environment must be complete before this: the workers inherit it, and
        handler modules read settings at import.
        """
        if self._size == 0:
            self._in_process = load_handlers(self._worker_functions)
            return
        started = [_Worker(self._worker_functions) for _ in range(self._size)]
        try:
            for worker in started:
                worker.wait_ready(START_TIMEOUT_S)
        except BaseException:
            for worker in started:
                worker.stop()
            raise
        for worker in started:
            self._all.append(worker)
            self._idle.put(worker)

    def close(self) -> None:
        for worker in self._all:
            worker.stop()
        self._all.clear()

    def stats(self) -> dict[str, int]:
        with self._stats_lock:
            return self._stats.as_json()

    def _replace(self, worker: _Worker) -> _Worker | None:
        """A fresh worker in place of `worker`; None (one worker fewer) if it cannot start."""
        worker.stop()
        self._all.remove(worker)
        try:
            fresh = _Worker(self._worker_functions)
            fresh.wait_ready(START_TIMEOUT_S)
        except RuntimeError as error:
            print(f"consentry local: a worker was not replaced: {error}", file=sys.stderr)
            return None
        self._all.append(fresh)
        return fresh

    def invoke(self, function: LocalFunction, event: Any) -> Any:
        """The handler's result; its exception (reported on stderr) when it raises."""
        if self._size == 0:
            return self._invoke_here(function, event)
        try:
            worker = self._idle.get(timeout=function.timeout_s)
        except queue.Empty:
            raise InvocationQueueTimeoutError(
                f"{function.name} waited {function.timeout_s}s for a free worker"
            ) from None
        with self._stats_lock:
            self._stats.invocations += 1
            self._stats.in_flight += 1
            self._stats.max_in_flight = max(self._stats.max_in_flight, self._stats.in_flight)
        usable: _Worker | None = worker
        try:
            kind, detail = self._run(worker, function, event)
        except (InvocationTimeoutError, WorkerExitError):
            usable = self._replace(worker)  # a fresh environment, as Lambda starts one
            raise
        finally:
            with self._stats_lock:
                self._stats.in_flight -= 1
            if usable is not None:
                self._idle.put(usable)
        if kind == RESULT:
            return detail
        error, stack, text = detail
        print(f"[{function.logical_id}] invocation failed:\n{text}", end="", file=sys.stderr)
        error.lambda_stack_trace = stack
        raise error

    def _invoke_here(self, function: LocalFunction, event: Any) -> Any:
        if not self._in_process_lock.acquire(timeout=function.timeout_s):
            raise InvocationQueueTimeoutError(
                f"{function.name} waited {function.timeout_s}s for another invocation to end"
            )
        try:
            return self._in_process[function.name](event, LambdaContext(function))
        except Exception:
            print(f"[{function.logical_id}] invocation failed:", file=sys.stderr)
            traceback.print_exc()
            raise
        finally:
            self._in_process_lock.release()

    @staticmethod
    def _run(worker: _Worker, function: LocalFunction, event: Any) -> tuple[str, Any]:
        worker.connection.send((function.name, event))
        if not worker.connection.poll(function.timeout_s):
            raise InvocationTimeoutError(f"Task timed out after {function.timeout_s:.2f} seconds")
        try:
            message: tuple[str, Any] = worker.connection.recv()
        except EOFError:
            raise WorkerExitError(f"{function.name}: the worker exited mid-invocation") from None
        return message


def error_payload(error: Exception) -> dict[str, Any]:
    """Lambda's answer for an unhandled exception of the Python runtime."""
    stack = getattr(error, "lambda_stack_trace", None)
    return {
        "errorMessage": str(error),
        "errorType": error.error_type if isinstance(error, FunctionError) else type(error).__name__,
        "stackTrace": stack if stack is not None else traceback.format_tb(error.__traceback__),
    }


def _invoke_payload(invoker: Invoker, function: LocalFunction, body: Any) -> tuple[bytes, bool]:
    """The response payload, and whether it reports a function error."""
    try:
        result = invoker.invoke(function, json.loads(body) if body else {})
    except Exception as error:
        return json.dumps(error_payload(error)).encode(), True
    try:
        return json.dumps(result).encode(), False
    except (TypeError, ValueError) as error:
        marshal = {"errorMessage": str(error), "errorType": "Runtime.MarshalError"}
        return json.dumps(marshal).encode(), True


def route_moto_invokes(invoker: Invoker) -> Callable[[], None]:
    """Send moto's Lambda invokes of the template's functions to `invoker`; returns the undo."""
    original = LambdaSimpleBackend.invoke

    def invoke(  # noqa: PLR0917 (moto's signature)
        backend: LambdaSimpleBackend,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> str | bytes | None:
        function = invoker.function(backend.get_function(function_name, qualifier).function_name)
        if function is None:
            return original(backend, function_name, qualifier, body, headers, response_headers)
        if headers.get("X-Amz-Invocation-Type") == "Event":
            threading.Thread(
                target=_invoke_payload, args=(invoker, function, body), daemon=True
            ).start()
            return b""
        payload, failed = _invoke_payload(invoker, function, body)
        if failed:
            response_headers["x-amz-function-error"] = "Unhandled"
        response_headers["Content-Length"] = str(len(payload))
        return payload

    LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign,assignment]

    def undo() -> None:
        LambdaSimpleBackend.invoke = original  # type: ignore[method-assign]

    return undo
