"""How every store talks to DynamoDB, written once.

- Models are bound to the deployment's tables: each package declares its pynamodb
  models with `@table("<settings field>")`, and the handler calls `bind_tables` with
  the settings at cold start (a model imported later, by a route that needs it, is
  bound as it is declared).
- Reads and writes run inside `dynamodb()`, which turns what DynamoDB answers into the
  domain's errors: a failed write condition (or a transaction cancelled by one, or by
  a concurrent transaction) is `LostRace`; anything else is `StoreUnavailableError`.
- `optimistically` runs a read-decide-write attempt until one wins: an attempt that
  raises `LostRace` is run again on fresh state, at most MAX_ATTEMPTS times.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from pynamodb.connection import Connection
from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.models import Model

from consentry.core.errors import ConflictError, StoreUnavailableError
from consentry.core.settings import Settings

MAX_ATTEMPTS = 10
"""Attempts of one optimistic change before it gives up with ConflictError."""
BACKOFF_S = 0.005
"""The first pause after a lost race; each later one may be twice as long (with full
jitter, as AWS advises for contended writes), at most BACKOFF_MAX_S."""
BACKOFF_MAX_S = 0.2
_RACE_CODES = frozenset({"ConditionalCheckFailed", "TransactionConflict"})

T = TypeVar("T")
M = TypeVar("M", bound=type[Model])


class LostRace(Exception):
    """A conditional write found the item changed since it was read."""


def condition_failed(error: PynamoDBException) -> bool:
    """Whether DynamoDB refused the write because an item was not as it was read."""
    if isinstance(error, TransactWriteError):
        return any(
            reason is not None and reason.code in _RACE_CODES
            for reason in error.cancellation_reasons or []
        )
    return error.cause_response_code == "ConditionalCheckFailedException"


@contextmanager
def dynamodb() -> Iterator[None]:
    """Run a store's reads and writes: DynamoDB's errors become the domain's."""
    try:
        yield
    except PynamoDBException as error:
        if condition_failed(error):
            raise LostRace(str(error)) from error
        raise StoreUnavailableError(str(error)) from error


def optimistically(attempt: Callable[[], T], what: str) -> T:
    """The result of the first `attempt` that does not lose a race; after each lost one a
    random pause (exponential backoff with full jitter), so that writers who collided
    do not collide again in step."""
    for number in range(MAX_ATTEMPTS):
        try:
            return attempt()
        except LostRace:
            if number + 1 < MAX_ATTEMPTS:
                time.sleep(random.uniform(0, min(BACKOFF_MAX_S, BACKOFF_S * 2**number)))  # noqa: S311 (jitter, not a secret)
    raise ConflictError(f"{what} kept changing; {MAX_ATTEMPTS} attempts lost")


# ---------------------------------------------------------------- binding models to tables

_tables: list[tuple[type[Model], str]] = []
_settings: Settings | None = None
_transactions: Connection | None = None


def table(settings_field: str) -> Callable[[M], M]:
    """Declare a model of the table the settings field names (template.yaml's)."""

    def register(model: M) -> M:
        _tables.append((model, settings_field))
        if _settings is not None:
            _bind(model, settings_field, _settings)
        return model

    return register


def bind_tables(settings: Settings) -> None:
    """Point every declared model, now and later, at the deployment's tables."""
    global _settings, _transactions  # noqa: PLW0603 (one binding per process, at cold start)
    _settings = settings
    _transactions = Connection(region=settings.aws_region)
    for model, field in _tables:
        _bind(model, field, settings)


def declared_tables() -> tuple[tuple[type[Model], str], ...]:
    """Each declared model and the settings field of its table."""
    return tuple(_tables)


def transactions() -> Connection:
    """The connection a TransactWrite uses across the bound tables."""
    if _transactions is None:
        raise RuntimeError("bind_tables() has not been called")
    return _transactions


def _bind(model: type[Model], field: str, settings: Settings) -> None:
    meta: Any = model.Meta
    meta.table_name = getattr(settings, field)
    meta.region = settings.aws_region
    model._connection = None  # a cached connection would keep the old name
