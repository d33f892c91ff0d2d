"""What the API's logic is asked and answers with, apart from HTTP: the base of the
wire models, `Command`, and idempotency. The operator API and the console share them.

Idempotency is Powertools' own: a logic function that changes something takes a
`Command` (which names the caller and the request's Idempotency-Key) and carries
`@idempotent`. A request with a key runs once; a retry with the same key gets the
stored result (the key is scoped to the caller and the operation), and a reuse of the
key for another request is refused. A request without a key simply runs. The
handlers leave the table and each invocation's context in `consent.idempotency_keys`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, wraps
from typing import Any, TypeVar, cast

from pydantic import BaseModel, ConfigDict

from consentry.core.wire import WIRE_CONFIG


class ApiModel(BaseModel):
    """camelCase on the wire, unknown fields refused."""

    model_config = WIRE_CONFIG


class Command(BaseModel):
    """What an operation that changes something is asked: who asks, and the request's
    Idempotency-Key (the key of Powertools' idempotency record, with the caller)."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    actor: str
    idempotency_key: str | None = None


F = TypeVar("F", bound=Callable[..., Any])


def idempotent(function: F) -> F:
    """Run `function(*, command=..., ...)` once per caller and Idempotency-Key; replay its
    (pydantic) result for a retry."""
    returned = function.__annotations__["return"]  # the name of a pydantic model
    model = function.__globals__[returned] if isinstance(returned, str) else returned

    @wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        return _idempotent_version(function, model)(*args, **kwargs)

    return cast(F, run)


@cache
def _idempotent_version(
    function: Callable[..., BaseModel], model: type[BaseModel]
) -> Callable[..., BaseModel]:
    from consent.idempotency import made_idempotent  # noqa: PLC0415 (boto3: first use)

    return made_idempotent(function, model)
