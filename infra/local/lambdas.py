"""The template's functions, run in-process: handler import, context, and moto's invoke.

moto's `awslambda_simple` backend (`"lambda": {"use_docker": False}`) runs no code;
`route_moto_invokes` replaces its `invoke` so an Invoke of a function created from
the template (from Step Functions' Lambda tasks, or any SDK call) runs that function's
`Handler:` here, answering errors the way Lambda does (`X-Amz-Function-Error:
Unhandled` and `{"errorType", "errorMessage", ...}`), which Retry and Catch match on.
An `Event` (asynchronous) invoke runs in a background thread and is not retried.

One invocation runs at a time, as in one Lambda execution environment: the handlers
share module-level Powertools objects (logger keys, the metric set, the resolver's
current event) that Lambda never uses concurrently.
"""

from __future__ import annotations

import importlib
import json
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moto.awslambda_simple.models import LambdaSimpleBackend

from infra.local.template import FUNCTION, Resolver, Template


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


def local_functions(template: Template, resolver: Resolver) -> list[LocalFunction]:
    functions = []
    for logical_id in template.resources_of(FUNCTION):
        if not resolver.active(logical_id):
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


class LambdaContext:
    """The `context` the Lambda runtime passes, for one invocation."""

    function_version = "$LATEST"
    identity = None
    client_context = None

    def __init__(self, function: LocalFunction) -> None:
        self.function_name = function.name
        self.invoked_function_arn = function.arn
        self.memory_limit_in_mb = function.memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function.name}"
        self.log_stream_name = f"local/[$LATEST]{uuid.uuid4().hex}"
        self._deadline = time.monotonic() + function.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class InvocationQueueTimeoutError(RuntimeError):
    """Another invocation held the process for longer than this function's timeout."""


Handler = Callable[[Any, Any], Any]


class Invoker:
    """Runs the functions' handlers in this process, one invocation at a time."""

    def __init__(self, functions: Iterable[LocalFunction]) -> None:
        self._functions = {function.name: function for function in functions}
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()

    def function(self, name: str) -> LocalFunction | None:
        return self._functions.get(name)

    def load(self) -> None:
        """Import every handler now: a broken import stops the stack at start, not mid-request.

        The environment must be complete before this: handler modules read settings at import.
        """
        for function in self._functions.values():
            if str(function.code_dir) not in sys.path:
                sys.path.insert(0, str(function.code_dir))
            module_name, _, attribute = function.handler.rpartition(".")
            module = importlib.import_module(module_name)
            self._handlers[function.name] = getattr(module, attribute)

    def invoke(self, function: LocalFunction, event: Any) -> Any:
        """The handler's result; its exception (reported on stderr) when it raises."""
        handler = self._handlers[function.name]
        if not self._lock.acquire(timeout=function.timeout_s):
            raise InvocationQueueTimeoutError(
                f"{function.name} waited {function.timeout_s}s for another invocation to end"
            )
        try:
            return handler(event, LambdaContext(function))
        except Exception:
            print(f"[{function.logical_id}] invocation failed:", file=sys.stderr)
            traceback.print_exc()
            raise
        finally:
            self._lock.release()


def error_payload(error: Exception) -> dict[str, Any]:
    """Lambda's answer for an unhandled exception of the Python runtime."""
    return {
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "stackTrace": traceback.format_tb(error.__traceback__),
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
