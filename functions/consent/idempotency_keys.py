"""Where the handlers leave what idempotency needs (the table, each invocation's
context), and the errors of a reused or busy Idempotency-Key.

Apart from `consent.commands` (pydantic) and `consent.idempotency` (Powertools'
idempotency and boto3, imported at the first operation that changes something), so
that a handler sets it up at init without loading either.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


class IdempotencySetup:
    """What the handler tells idempotency: the table (at cold start) and each
    invocation's context. Powertools' idempotency (consent.idempotency) is imported at
    the first call of an operation that changes something, and reads them here."""

    def __init__(self) -> None:
        self.table: str | None = None
        self.context: LambdaContext | None = None

    def use_table(self, table_name: str) -> None:
        self.table = table_name

    def register_lambda_context(self, context: LambdaContext) -> None:
        self.context = context


idempotency = IdempotencySetup()


class IdempotencyKeyReusedError(Exception):
    """The Idempotency-Key was used for another request (Powertools' validation error)."""


class IdempotencyKeyInUseError(Exception):
    """A request with the same Idempotency-Key is running."""
