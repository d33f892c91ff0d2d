"""The operator API under /v1: its routers, the one place errors become HTTP, the entry point."""

from __future__ import annotations

from consentry.core import cold_start  # first: the collector waits while this loads

# isort: split

import re
from collections.abc import Mapping
from functools import cache
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from consent.api import JSON, Dependencies, documented, error_body, shown, unreadable_body
from consent.idempotency_keys import (
    IdempotencyKeyInUseError,
    IdempotencyKeyReusedError,
    idempotency,
)
from consentry.core.errors import (
    ConflictError,
    GoneError,
    InvalidInputError,
    NotFoundError,
    StaleVersionError,
    UnavailableError,
)
from consentry.core.observability import logger, metrics, tracer
from consentry.core.persistence import bind_tables
from consentry.core.routing import RoutersOnDemand
from consentry.core.settings import Settings, per_process

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.models import OpenAPI


def _wire(settings: Settings) -> Dependencies:
    bind_tables(settings)
    idempotency.use_table(settings.idempotency_table)
    return Dependencies(settings)


current_dependencies = per_process(_wire)
"""The process's dependencies, built at cold start."""
current_dependencies()


TITLE = "Consentry operator API"
VERSION = "1.0.0"
SWAGGER_PATH = "/v1/swagger"
_SWAGGER_PAGE = re.compile(re.escape(SWAGGER_PATH) + "/*")
"""The paths Powertools' REST resolver routes to the Swagger UI page."""


ROUTERS = {
    "profiles": "consent.routes.profiles",
    "erased-addresses": "consent.routes.profiles",
    "services": "consent.routes.services",
    "checks": "consent.routes.checks",
    "imports": "consent.routes.imports",
    "addresses": "consent.routes.addresses",
    "outages": "consent.routes.addresses",
    "links": "consent.routes.links",
    "deliveries": "consent.routes.analyses",
    "metrics": "consent.routes.metrics",
}
"""The route module of each section of /v1, in the OpenAPI document's order."""


class OperatorApi(APIGatewayRestResolver):
    """Powertools' resolver, whose OpenAPI document (docs/openapi.json, Swagger UI) says
    what the API answers (see consent.api.documented).

    The Swagger UI route is registered by the first request for it: registering it
    imports Powertools' OpenAPI models, a quarter of a cold start no other route needs.
    Each router is included by the first request for its section of /v1 (a request
    loads its own routes' logic and models), and all of them by what needs the whole
    document (Swagger UI). A 404 or 405 reads the routes of its path's section only
    (`methods_of`)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._swagger_enabled = False
        self.routers = RoutersOnDemand(self, "/v1", ROUTERS)

    def get_openapi_schema(self, **kwargs: Any) -> OpenAPI:
        self.routers.include_all()
        return documented(super().get_openapi_schema(**kwargs))

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        path = str(event.get("path") or "")
        if not self._swagger_enabled and _SWAGGER_PAGE.fullmatch(path):
            self.enable_swagger(path=SWAGGER_PATH, title=TITLE, version=VERSION)
            self._swagger_enabled = True
        self.routers.include_for(path)
        return super().resolve(event, context)


app = OperatorApi(enable_validation=True)
app.configure_openapi(
    title=TITLE,
    version=VERSION,
    summary=(
        "Consent, proof of consent, services, sending checks and bulk imports. "
        "Signed with AWS SigV4 (IAM)."
    ),
    # No servers: Powertools' default is the one server "/".
)

_STATUS_OF: tuple[tuple[type[Exception], HTTPStatus], ...] = (
    (NotFoundError, HTTPStatus.NOT_FOUND),
    (InvalidInputError, HTTPStatus.UNPROCESSABLE_ENTITY),
    (StaleVersionError, HTTPStatus.PRECONDITION_FAILED),
    (ConflictError, HTTPStatus.CONFLICT),
    (UnavailableError, HTTPStatus.SERVICE_UNAVAILABLE),
    (IdempotencyKeyReusedError, HTTPStatus.UNPROCESSABLE_ENTITY),
    (IdempotencyKeyInUseError, HTTPStatus.CONFLICT),
)
_MESSAGES: dict[type[Exception], str] = {
    IdempotencyKeyReusedError: "this Idempotency-Key was used for a different request",
    IdempotencyKeyInUseError: "a request with this Idempotency-Key is in progress",
}


@app.exception_handler([error for error, _ in _STATUS_OF])
def _domain_error(error: Exception) -> Response[str]:
    status = next(status for kind, status in _STATUS_OF if isinstance(error, kind))
    if isinstance(error, UnavailableError):
        logger.exception(
            "dependency unavailable", extra={"dependency": error.dependency, "detail": error.detail}
        )
    field = None
    if isinstance(error, InvalidInputError):
        field = error.field
    elif isinstance(error, IdempotencyKeyReusedError):
        field = "Idempotency-Key"
    message = _MESSAGES.get(type(error), str(error))
    return _error(status.value, message, field)


@app.exception_handler(GoneError)
def _erased(error: GoneError) -> Response[str]:
    """A request about an erased profile: 410, with what was erased and when."""
    from consent.schemas.erasure import ErasureOut  # noqa: PLC0415 (profiles' routes only)

    body = ErasureOut.model_validate(error.erasure).model_dump_json(by_alias=True)
    return Response(HTTPStatus.GONE.value, JSON, body)


@app.not_found
def _no_route(_: Exception) -> Response[str]:
    """A method the path does not take (405, with the methods it takes), or a path no
    route matches (a path parameter outside its pattern among them)."""
    allowed = methods_of(app.current_event.path)
    if allowed and app.current_event.http_method not in allowed:
        response = _error(HTTPStatus.METHOD_NOT_ALLOWED.value, "method not allowed", None)
        response.headers["Allow"] = ", ".join(allowed)
        return response
    return _error(HTTPStatus.NOT_FOUND.value, "no such resource", None)


def methods_of(path: str) -> tuple[str, ...]:
    """The methods the API takes at `path`: those of each route whose path it fits, a
    path parameter standing for any one segment.

    Read from the routes the resolver holds, which include those of `path`'s section
    (`OperatorApi.resolve` includes them first), not from the OpenAPI document:
    generating it, with every section's routes, took a cold function 280 ms to answer
    one 404. Powertools keeps its routes in two lists it does not publish; the
    contract test holds this to the document's paths and methods."""
    routes = app._static_routes + app._dynamic_routes  # Powertools' own lists (see above)
    return tuple(
        sorted(
            {
                route.method
                for route in routes
                if route.include_in_schema
                and route.method in _HTTP_METHODS
                and _pattern(route.path).fullmatch(path)
            }
        )
    )


@cache
def _pattern(route_path: str) -> re.Pattern[str]:
    """A route's path (`/v1/profiles/<profileId>`) as a pattern of the paths it fits."""
    return re.compile(re.sub(r"<[^>]+>", "[^/]+", re.escape(route_path)))


_HTTP_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "PATCH"})


@app.exception_handler(RequestValidationError)
def _invalid_request(error: RequestValidationError) -> Response[str]:
    """The first thing wrong with the request, in the API's own error shape; the field is
    named (shortened), the value the caller sent is never repeated."""
    first = error.errors()[0] if error.errors() else {}
    location = [str(part) for part in first.get("loc", ())]
    if location[:1] == ["header"] and len(location) > 1:  # as the header is written
        location = ["-".join(word.capitalize() for word in location[1].split("-"))]
    elif location and location[0] in ("body", "query", "path"):
        location = location[1:]
    field = ".".join(location) or "body"
    message = str(first.get("msg") or "the request is not valid")
    return _error(HTTPStatus.UNPROCESSABLE_ENTITY.value, shown(message), shown(field))


def _error(status: int, message: str, field: str | None) -> Response[str]:
    return Response(status_code=status, content_type=JSON, body=error_body(status, message, field))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(
    event: dict[str, Any], context: LambdaContext, wiring: Dependencies | None = None
) -> dict[str, Any]:
    """`wiring` replaces the dependencies (tests pass their own)."""
    idempotency.register_lambda_context(context)
    refused = unreadable_body(event)
    if refused is not None:
        status, message, field = refused
        return {
            "statusCode": status,
            "headers": {"Content-Type": JSON},
            "body": error_body(status, message, field),
            "isBase64Encoded": False,
        }
    app.append_context(dependencies=wiring or current_dependencies())
    return app.resolve(event, context)


cold_start.loaded()
