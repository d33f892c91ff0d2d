"""The processes the local stack's handlers run in, as Lambda's execution environments.

Each worker is a process started fresh (spawn, not fork: the parent runs moto's and
the API's threads), imports every handler once at start, and then runs one
invocation at a time, as one execution environment does. Several workers run
invocations of the same function at once, each with its own module-level state
(Powertools' logger keys and metric set, the resolver's current event, caches), as
concurrent Lambda environments do; nothing mutable is shared between them.

This module imports nothing heavy: a worker loads it before the handlers.
"""

from __future__ import annotations

import importlib
import os
import pickle
import signal
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

READY, RESULT, ERROR, FAILED_TO_START = "ready", "result", "error", "failed_to_start"


@dataclass(frozen=True)
class WorkerFunction:
    """What a worker needs of one function: where its handler is and its context."""

    name: str
    logical_id: str
    arn: str
    handler: str
    """`module.attribute`, imported from `code_dir` as Lambda does."""
    code_dir: str
    memory_mb: int
    timeout_s: int


class LambdaContext:
    """The `context` the Lambda runtime passes, for one invocation."""

    function_version = "$LATEST"
    identity = None
    client_context = None

    def __init__(self, function: Any) -> None:
        self.function_name = function.name
        self.invoked_function_arn = function.arn
        self.memory_limit_in_mb = function.memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function.name}"
        self.log_stream_name = f"local/[$LATEST]{uuid.uuid4().hex}"
        self._deadline = time.monotonic() + function.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class FunctionError(Exception):
    """A handler's exception that could not cross from its worker as itself."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type

    def __reduce__(self) -> tuple[type[FunctionError], tuple[str, str]]:
        # Sent over the worker's pipe: unpickled with both arguments, not `args` alone.
        return (FunctionError, (self.error_type, str(self)))


def load_handlers(
    functions: Sequence[WorkerFunction], access: Any = None
) -> dict[str, Callable[[Any, Any], Any]]:
    """Import every handler: the environment must be complete (modules read settings).
    What a handler's import does is its function's (`access`: the worker's log)."""
    handlers = {}
    for function in functions:
        if function.code_dir not in sys.path:
            sys.path.insert(0, function.code_dir)
        module_name, _, attribute = function.handler.rpartition(".")
        if access is not None:
            access.function = function.logical_id
        handlers[function.name] = getattr(importlib.import_module(module_name), attribute)
    if access is not None:
        access.function = None
    return handlers


def _portable(error: Exception) -> Exception:
    """The exception itself when it survives pickling, else a FunctionError of its type."""
    try:
        copy = pickle.loads(pickle.dumps(error))  # noqa: S301 (our own bytes, just made)
    except Exception:
        return FunctionError(type(error).__name__, str(error))
    return copy if isinstance(copy, Exception) else FunctionError(type(error).__name__, str(error))


def worker_main(connection: Connection, functions: Sequence[WorkerFunction]) -> None:
    """A worker's life: import the handlers, then answer invocations until the pipe closes.

    Ctrl-C reaches the whole process group: the stack stops its workers itself.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    access = _access_log()
    try:
        handlers = load_handlers(functions, access)
    except BaseException:
        connection.send((FAILED_TO_START, traceback.format_exc()))
        return
    by_name: Mapping[str, WorkerFunction] = {function.name: function for function in functions}
    connection.send((READY, os.getpid()))
    while True:
        try:
            name, event = connection.recv()
        except (EOFError, OSError):
            return
        try:
            if access is not None:
                access.function = by_name[name].logical_id
            outcome: tuple[str, Any] = (RESULT, handlers[name](event, LambdaContext(by_name[name])))
        except Exception as error:
            stack = traceback.format_tb(error.__traceback__)
            outcome = (ERROR, (_portable(error), stack, traceback.format_exc()))
        if access is not None:
            access.function = None
            _save(access)  # before the answer: the caller may finish as soon as it has it
        try:
            connection.send(outcome)
        except Exception as error:
            if outcome[0] != RESULT:
                raise
            marshal = FunctionError("Runtime.MarshalError", str(error))
            connection.send((ERROR, (marshal, [], traceback.format_exc())))


ACCESS_LOG_DIR = "CONSENTRY_ACCESS_LOG_DIR"
"""Where workers leave what their functions reached (infra.local.access), when set: the
tests set it to hold the local stack's calls to the template's IAM policies too."""


def _access_log() -> Any:
    """This worker's access log, recording from now on; None unless ACCESS_LOG_DIR is set."""
    directory = os.environ.get(ACCESS_LOG_DIR)
    if not directory:
        return None
    from infra.local.access import AccessLog  # noqa: PLC0415 (only where recording)

    log = AccessLog({}, saved_to=Path(directory) / f"worker-{uuid.uuid4().hex}.json")
    log.install()
    return log


def _save(log: Any) -> None:
    try:
        log.save()
    except OSError:
        traceback.print_exc()  # the run that asked for the record has ended: answer all the same
