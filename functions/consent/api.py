"""What every /v1 router shares: the dependencies the handler hands down, the caller's
identity, path and paging parameters, versions and ETags, and the error shape.
What the logic is asked and answers with (models, commands, idempotency) is in
consent.commands.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from consentry.core.bucket import DataBucket
from consentry.core.clock import Clock, utc_now
from consentry.core.errors import InvalidInputError
from consentry.core.settings import Settings
from consentry.core.types import IDENTIFIER_PATTERN, MAX_PAGE, is_text

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.models import OpenAPI
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_stepfunctions import SFNClient
    from pydantic import BaseModel

    from consentry.addresses.counting import QuarantinePolicy
    from consentry.consent.tokens import Keyring

ProfileIdPath = Annotated[
    str,
    Path(min_length=1, max_length=128, pattern=IDENTIFIER_PATTERN, description="The profile's id"),
]
ServiceIdPath = Annotated[
    str,
    Path(min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN, description="The service's id"),
]
DeliveryIdPath = Annotated[
    str,
    Path(min_length=1, max_length=128, pattern=IDENTIFIER_PATTERN, description="The delivery's id"),
]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Items per page")]
Cursor = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=2048,
        pattern=r"^[A-Za-z0-9_\-]+$",
        description="`nextCursor` of the previous page",
    ),
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
    Header(
        alias="If-Match",
        max_length=32,
        pattern=r'^(W/)?"?[0-9]{1,15}"?$',
        description="The version the change expects (the ETag of the resource)",
    ),
]


JSON = "application/json"


def error_body(status: int, message: str, field: str | None) -> str:
    """An error answer's body, in the shape of consent.schemas.errors.ErrorOut (a field
    only when one is at fault), written without the model: an error is often a cold
    function's first answer, and the model's class is built with the routes that
    document it."""
    shape: dict[str, int | str] = {"statusCode": status, "message": message}
    if field is not None:
        shape["field"] = field
    return json.dumps(shape, ensure_ascii=False, separators=(",", ":"))


def answers(
    ok: type[BaseModel],
    *,
    status: int = 200,
    description: str = "OK",
    errors: dict[int, str] | None = None,
) -> dict[int, OpenAPIResponse]:
    """The OpenAPI entries of a route's answers: its success with its model, and the
    errors it gives beyond those every operation may give (see `documented`)."""
    from consent.schemas.errors import ErrorOut  # noqa: PLC0415 (built with the routes)

    documented: dict[int, OpenAPIResponse] = {
        status: {"description": description, "content": {JSON: {"model": ok}}}
    }
    for code, why in (errors or {}).items():
        documented[code] = {"description": why, "content": {JSON: {"model": ErrorOut}}}
    return documented


def not_found(what: str) -> dict[int, str]:
    """A route's 404, for `answers(errors=...)`."""
    return {404: f"No such {what}"}


PRECONDITION_FAILED = {412: "If-Match names another version than the stored one"}


# ---------------------------------------------------------------- dependencies


class Dependencies:
    """What the operations need from outside, built once by the handler and handed down:
    the settings, the data bucket, the clients that start jobs, the clock. Clients,
    the quarantine's policy and the erasure keys are made at their first use, and their
    modules imported then: only some sections need them, and a section's first request
    loads its own (tests/contract/test_cold_start.py). A test builds its own, with
    fakes."""

    def __init__(self, settings: Settings, clock: Clock = utc_now) -> None:
        self.settings = settings
        self.clock = clock
        self.bucket = DataBucket(settings.data_bucket, region=settings.aws_region)

    @cached_property
    def quarantine_policy(self) -> QuarantinePolicy:
        from consentry.addresses.counting import QuarantinePolicy  # noqa: PLC0415 (some sections)

        return QuarantinePolicy.from_settings(self.settings)

    def erasure_keyring(self) -> Keyring:
        """The keys of erased addresses' fingerprints (cached by Powertools parameters,
        so that a rotation is seen within `signing_keys_max_age_s`)."""
        from consentry.privacy import fingerprints  # noqa: PLC0415 (some sections)

        return fingerprints.load_keyring(
            self.settings.erasure_keys_secret, max_age_s=self.settings.signing_keys_max_age_s
        )

    @cached_property
    def workflows(self) -> SFNClient:
        import boto3  # noqa: PLC0415 (made when first needed, not at cold start)

        return boto3.client("stepfunctions", region_name=self.settings.aws_region)

    @cached_property
    def functions(self) -> LambdaClient:
        import boto3  # noqa: PLC0415 (made when first needed, not at cold start)

        return boto3.client("lambda", region_name=self.settings.aws_region)


def dependencies(router: APIGatewayRouter) -> Dependencies:
    """The dependencies the handler put in the resolver's context for this request."""
    found: Dependencies = router.context["dependencies"]
    return found


def received_at(event: APIGatewayProxyEvent) -> datetime | None:
    """When API Gateway received the request: when the caller asked for a change."""
    epoch_ms = event.request_context.get("requestTimeEpoch")
    return datetime.fromtimestamp(epoch_ms / 1000, UTC) if epoch_ms else None


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


# ---------------------------------------------------------------- request bodies


MAX_DEPTH = 32
"""How deeply a body's JSON may nest: every shape of this API is at most four deep."""
FIELD_SHOWN = 64
"""Characters of a field's name an error answer repeats at most."""


def unreadable_body(event: dict[str, Any]) -> tuple[int, str, str] | None:
    """(status, message, field) for a request body this JSON API cannot read, before any
    route parses it: the resolver's own parsing raises plain errors on these (a
    multipart body without a boundary, bytes that are not UTF-8, JSON nested so deeply
    that validating it overflows the stack)."""
    body = event.get("body")
    if not body:
        return None
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    content_type = str(headers.get("content-type") or "").strip().lower()
    if content_type and not content_type.startswith("application/json"):
        return 415, "send JSON with Content-Type: application/json", "Content-Type"
    try:
        text = (
            base64.b64decode(body, validate=True).decode("utf-8")
            if event.get("isBase64Encoded")
            else str(body)
        )
    except (binascii.Error, UnicodeDecodeError):
        return 422, "the body is not UTF-8 JSON", "body"
    problem = _unreadable_json(text)
    return (422, problem, "body") if problem else None


def _unreadable_json(text: str) -> str | None:
    """What makes a body's JSON unreadable here: nesting deeper than any shape of the
    API, or text that is not valid Unicode (JSON may escape half of a UTF-16 pair, a
    lone surrogate, which no store can hold). JSON that does not parse is left to the
    resolver, which says what is wrong with it.

    No lone surrogate may stand in this module's own text either: from 3.13 the
    compiler encodes docstrings as UTF-8, and the module would not load."""
    try:
        document = json.loads(text)
    except RecursionError:
        return f"the body nests more than {MAX_DEPTH} levels deep"
    except ValueError:
        return None
    if _depth(document) > MAX_DEPTH:
        return f"the body nests more than {MAX_DEPTH} levels deep"
    if not _unicode(document):
        return "the body holds text that is not valid Unicode"
    return None


def _unicode(document: Any) -> bool:
    """Whether every key and string of a parsed JSON document is valid Unicode (no lone
    surrogate), without recursion."""
    pending = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if not is_text(value):
                return False
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return True


def _depth(document: Any) -> int:
    """How deeply a parsed JSON document nests (without recursion)."""
    deepest = 0
    pending = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, depth)
            if depth > MAX_DEPTH:
                return depth
            children = value.values() if isinstance(value, dict) else value
            pending.extend((child, depth + 1) for child in children)
    return deepest


def shown(text: str) -> str:
    """What an error answer repeats of something the caller sent: a short prefix."""
    return text if len(text) <= FIELD_SHOWN else text[:FIELD_SHOWN] + "…"


def _may_be_gone(path: str, method: str, parameters: list[dict[str, Any]]) -> bool:
    """Whether the operation answers 410 for an erased profile: every one about one
    profile, except its erasure (repeated: 200) and its proof (kept after erasure)."""
    if method == "delete" or path.endswith(("/history", "/history/verify")):
        return False
    return any(parameter.get("name") == "profileId" for parameter in parameters)


def documented(schema: OpenAPI) -> OpenAPI:
    """The OpenAPI document as the API answers: every operation's 422 is an ErrorOut
    (the resolver's own HTTPValidationError is never sent), and every operation lists
    the errors any request may get: 503 when a dependency fails, 415 for a body that
    is not JSON, 409 on a change that a concurrent request kept from being made."""
    from consent.schemas.errors import ErrorOut  # noqa: PLC0415 (built with the routes)

    data = schema.model_dump(mode="json", by_alias=True, exclude_none=True)
    for path, item in data.get("paths", {}).items():
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            responses = operation.setdefault("responses", {})
            responses["422"] = _error_entry("The request is not valid; `field` names what is wrong")
            responses["503"] = _error_entry("A dependency is unavailable; try again")
            if "requestBody" in operation:
                responses["415"] = _error_entry("The body is not sent as JSON")
            parameters = operation.get("parameters", [])
            if any(parameter.get("in") == "path" for parameter in parameters):
                responses.setdefault("404", _error_entry("No such resource"))
            if _may_be_gone(path, method, parameters):
                responses["410"] = {
                    "description": "The profile was erased: what was erased, and when",
                    "content": {JSON: {"schema": {"$ref": "#/components/schemas/ErasureOut"}}},
                }
            names = {str(p.get("name", "")).lower() for p in parameters}
            if "idempotency-key" in names:  # the operations that change something
                responses.setdefault(
                    "409",
                    _error_entry(
                        "A request with the same Idempotency-Key is running, or the "
                        "resource kept changing under concurrent writers: try again"
                    ),
                )
    schemas = data.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas.pop("ResponseValidationError", None)
    schemas["ErrorOut"] = ErrorOut.model_json_schema(by_alias=True)
    # Powertools' OpenAPI models take a quarter of a cold start: imported for the document.
    from aws_lambda_powertools.event_handler.openapi.models import OpenAPI  # noqa: PLC0415

    return OpenAPI.model_validate(data)


_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options"})


def _error_entry(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {JSON: {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
    }
