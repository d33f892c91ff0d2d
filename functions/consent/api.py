"""What every /v1 router shares: the caller's identity, paging parameters, idempotency."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from consentry.core.errors import InvalidInputError
from consentry.core.pagination import MAX_PAGE
from consentry.core.settings import get_settings

IDENTIFIER = r"^[A-Za-z0-9._:@+\-]+$"
ProfileIdPath = Annotated[
    str, Path(min_length=1, max_length=128, pattern=IDENTIFIER, description="The profile's id")
]
ServiceIdPath = Annotated[
    str, Path(min_length=1, max_length=64, pattern=IDENTIFIER, description="The service's id")
]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Items per page")]
Cursor = Annotated[
    str | None,
    Query(max_length=2048, description="`nextCursor` of the previous page"),
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=128,
        description="A retried request with the same key is answered once and applied once",
    ),
]
IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", max_length=32, description="The version the change expects"),
]


class ApiModel(BaseModel):
    """camelCase on the wire, unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid"
    )


class ErrorOut(ApiModel):
    status_code: int
    message: str
    field: str | None = None


def not_found(what: str) -> dict[int, OpenAPIResponse]:
    """The OpenAPI entry of a 404 answer."""
    return {
        404: {
            "description": f"No such {what}",
            "content": {"application/json": {"model": ErrorOut}},
        }
    }


def unreadable_body(event: dict[str, Any]) -> dict[str, Any] | None:
    """The answer to a request body this JSON API cannot read, before any route parses it.

    The resolver's own parsing raises plain errors on these (a multipart body without a
    boundary, bytes that are not UTF-8), which would become 500s.
    """
    body = event.get("body")
    if not body:
        return None
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    content_type = str(headers.get("content-type") or "").strip().lower()
    if content_type and not content_type.startswith("application/json"):
        return _error_response(415, "send JSON with Content-Type: application/json", "Content-Type")
    try:
        raw = base64.b64decode(body, validate=True) if event.get("isBase64Encoded") else None
        if raw is not None:
            raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return _error_response(422, "the body is not UTF-8 JSON", "body")
    return None


def _error_response(status: int, message: str, field: str) -> dict[str, Any]:
    body = ErrorOut(status_code=status, message=message, field=field)
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": body.model_dump_json(by_alias=True),
        "isBase64Encoded": False,
    }


def operator_identity(event: APIGatewayProxyEvent) -> str:
    """The IAM caller that API Gateway authenticated; never anything from the body."""
    identity = event.request_context.identity
    return identity.user_arn or identity.caller or "unknown-caller"


def expected_version(if_match: str | None) -> int | None:
    """The version named by an `If-Match` header (`3`, `"3"` or `W/"3"`)."""
    if if_match is None:
        return None
    text = if_match.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise InvalidInputError("If-Match", "must be the version number of the resource")
    return int(text)


def etag(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"'}


def stored_response(result: dict[str, Any]) -> Response[str]:
    """The HTTP response of an operation's (possibly replayed) result."""
    body = result["body"]
    headers = etag(body["version"]) if "version" in body else None
    return Response(
        status_code=result["status"],
        content_type="application/json",
        body=json.dumps(body, separators=(",", ":")),
        headers=headers,
    )


# Idempotency: a mutating request that carries an Idempotency-Key runs once; a retry
# gets the stored response. The key is scoped to the caller and the operation, and a
# reuse of the key with another request body is refused.
_operations: dict[str, Callable[..., dict[str, Any]]] = {}
_persistence: DynamoDBPersistenceLayer | None = None
idempotency_config = IdempotencyConfig(
    event_key_jmespath="[caller, operation, key]",
    payload_validation_jmespath="arguments",
    raise_on_no_idempotency_key=True,
    expires_after_seconds=24 * 3600,
)


def idempotent_operation(
    name: str,
) -> Callable[[Callable[..., dict[str, Any]]], Callable[..., dict[str, Any]]]:
    """Register a function whose JSON-able result may be replayed for a repeated key."""

    def register(function: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        _operations[name] = function
        return function

    return register


def respond_once(
    event: APIGatewayProxyEvent,
    name: str,
    key: str | None,
    *,
    actor: bool = False,
    **arguments: Any,
) -> Response[str]:
    """Run operation `name` for the request's IAM caller, once per idempotency key, and
    respond with its (possibly replayed) result. With `actor`, the operation also gets
    the caller as `actor`, for the history it writes."""
    caller = operator_identity(event)
    if actor:
        arguments["actor"] = caller
    return stored_response(run_once(name, key, caller, arguments))


def run_once(name: str, key: str | None, caller: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Run the operation, or replay its stored result when `key` was seen before."""
    if key is None:
        return _operations[name](**arguments)
    request = {"caller": caller, "operation": name, "key": key, "arguments": arguments}
    return _idempotent_run(request=request)


def _persistence_layer() -> DynamoDBPersistenceLayer:
    global _persistence  # noqa: PLW0603 (created once, at the first keyed request)
    if _persistence is None:
        _persistence = DynamoDBPersistenceLayer(table_name=get_settings().idempotency_table)
    return _persistence


def _idempotent_run(*, request: dict[str, Any]) -> dict[str, Any]:
    runner = idempotent_function(
        _dispatch,
        data_keyword_argument="request",
        persistence_store=_persistence_layer(),
        config=idempotency_config,
    )
    result: dict[str, Any] = runner(request=request)
    return result


def _dispatch(*, request: dict[str, Any]) -> dict[str, Any]:
    return _operations[request["operation"]](**request["arguments"])
