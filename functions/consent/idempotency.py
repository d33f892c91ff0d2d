"""Powertools' idempotency for the operations that change something (see consent.commands).

Imported at the first call of such an operation, not at cold start: the package
imports boto3 and its DynamoDB persistence layer, which a read never needs. The table
and each invocation's context come from `consent.idempotency_keys.idempotency`, where the
handler leaves them.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import (
    PydanticSerializer,
)
from pydantic import BaseModel

from consent.idempotency_keys import (
    IdempotencyKeyInUseError,
    IdempotencyKeyReusedError,
    idempotency,
)


class _IdempotencyStore(DynamoDBPersistenceLayer):
    """Powertools' DynamoDB persistence layer on the table the handler named. Its client
    is made at the first request that carries a key."""

    def __init__(self) -> None:
        BasePersistenceLayer.__init__(self)  # type: ignore[no-untyped-call]
        self._table: str | None = None

    def configure(
        self,
        config: IdempotencyConfig,
        function_name: str | None = None,
        key_prefix: str | None = None,
    ) -> None:
        if idempotency.table is None:
            raise RuntimeError("the idempotency table was never named (use_table)")
        if idempotency.table != self._table:
            DynamoDBPersistenceLayer.__init__(self, table_name=idempotency.table)
            self._table = idempotency.table
        super().configure(config, function_name, key_prefix)


idempotency_store = _IdempotencyStore()
idempotency_config = IdempotencyConfig(
    # No key: no record (Powertools warns and runs the function, filtered below).
    event_key_jmespath="idempotency_key && [actor, idempotency_key]",
    payload_validation_jmespath="@",
    expires_after_seconds=24 * 3600,
)
warnings.filterwarnings("ignore", message="No idempotency key value found")


def made_idempotent(
    function: Callable[..., BaseModel], model: type[BaseModel]
) -> Callable[..., BaseModel]:
    """`function` under Powertools' idempotency, its result replayed as `model`; the
    refusals of a key come out as consent.commands' errors."""
    decorated: Callable[..., BaseModel] = idempotent_function(
        function,
        data_keyword_argument="command",
        persistence_store=idempotency_store,
        config=idempotency_config,
        output_serializer=PydanticSerializer(model),
    )

    def run(*args: Any, **kwargs: Any) -> BaseModel:
        if idempotency.context is not None:
            idempotency_config.register_lambda_context(idempotency.context)
        try:
            return decorated(*args, **kwargs)
        except IdempotencyValidationError as error:
            raise IdempotencyKeyReusedError(str(error)) from error
        except IdempotencyAlreadyInProgressError as error:
            raise IdempotencyKeyInUseError(str(error)) from error

    return run
