"""API Gateway locally: each HTTP request becomes a REST API proxy event (payload 1.0).

Routes are the template's `Events: Type: Api` (`Path` with `{param}` and greedy
`{proxy+}` segments, `Method` a verb or ANY). A request that matches none is a 404
`{"message": "Not Found"}`; a handler that raises, or answers something that is not
a proxy response, is a 502 `{"message": "Internal server error"}` with the traceback
on stderr, as API Gateway answers them.

Local differences: no SigV4 check on AWS_IAM routes (the caller is always the local
operator below), no throttling, the stage is "local" and URLs carry no stage prefix.
"""

from __future__ import annotations

import base64
import json
import re
import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from infra.local.lambdas import LocalFunction
from infra.local.template import ACCOUNT_ID, Resolver, Template

STAGE = "local"
LOCAL_OPERATOR_ARN = f"arn:aws:iam::{ACCOUNT_ID}:user/local-operator"
LOCAL_OPERATOR_ID = "AIDALOCALOPERATOR"
_HOP_BY_HOP = frozenset({"connection", "content-length", "transfer-encoding", "keep-alive"})


@dataclass(frozen=True)
class ApiRoute:
    function: LocalFunction
    resource: str
    """The template's path, e.g. `/u/{proxy+}`: the event's `resource`."""
    method: str
    """An upper-case verb, or ANY."""
    iam_auth: bool

    @property
    def parameters(self) -> list[str]:
        return re.findall(r"\{([^}+]+)\+?\}", self.resource)

    @property
    def pattern(self) -> re.Pattern[str]:
        regex = ""
        for segment in self.resource.strip("/").split("/"):
            if re.fullmatch(r"\{[^}]+\+\}", segment):
                regex += "/(.+)"
            elif re.fullmatch(r"\{[^}]+\}", segment):
                regex += "/([^/]+)"
            else:
                regex += "/" + re.escape(segment)
        return re.compile(regex or "/", re.DOTALL)  # a path parameter may hold a newline

    def specificity(self) -> tuple[bool, int, bool]:
        """Sort key: greedy paths last, longer literal paths first, a verb before ANY."""
        literal = re.sub(r"\{[^}]*\}", "", self.resource)
        return ("+}" in self.resource, -len(literal), self.method == "ANY")


def _authorizer(template: Template, event_properties: Mapping[str, Any]) -> str | None:
    """The event's own `Auth.Authorizer`, else its API's `Auth.DefaultAuthorizer`."""
    own = (event_properties.get("Auth") or {}).get("Authorizer")
    if own is not None:
        return str(own)
    api = event_properties.get("RestApiId")
    if not isinstance(api, Mapping) or api.get("Ref") not in template.resources:
        return None
    default = template.properties(api["Ref"]).get("Auth", {}).get("DefaultAuthorizer")
    return None if default is None else str(default)


def api_routes(
    template: Template, resolver: Resolver, functions: Mapping[str, LocalFunction]
) -> list[ApiRoute]:
    """The Api events of the created functions (`functions` by logical id), most specific first."""
    routes = []
    for event in template.function_events("Api"):
        if event.function not in functions:
            continue
        props = event.properties
        routes.append(
            ApiRoute(
                function=functions[event.function],
                resource=resolver.resolve(props["Path"]),
                method=str(resolver.resolve(props["Method"])).upper(),
                iam_auth=_authorizer(template, props) == "AWS_IAM",
            )
        )
    return sorted(routes, key=ApiRoute.specificity)


def find_route(
    routes: Sequence[ApiRoute], method: str, path: str
) -> tuple[ApiRoute, dict[str, str]] | None:
    """The route for a request and its path parameters; `routes` most specific first."""
    for route in routes:
        if route.method not in ("ANY", method):
            continue
        match = route.pattern.fullmatch(path)
        if match:
            return route, dict(zip(route.parameters, match.groups(), strict=True))
    return None


@dataclass(frozen=True)
class HttpRequest:
    method: str
    target: str
    """The request target as received: path and query."""
    headers: Sequence[tuple[str, str]]
    body: bytes
    source_ip: str


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Sequence[tuple[str, str]]
    body: bytes


def _multi(pairs: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return grouped


def _with_forwarded_for(headers: Sequence[tuple[str, str]], ip: str) -> list[tuple[str, str]]:
    """API Gateway appends the client's address to X-Forwarded-For, or adds the header."""
    if any(name.lower() == "x-forwarded-for" for name, _ in headers):
        return [
            (name, f"{value}, {ip}" if name.lower() == "x-forwarded-for" else value)
            for name, value in headers
        ]
    return [*headers, ("X-Forwarded-For", ip)]


def build_proxy_event(
    route: ApiRoute,
    path_parameters: Mapping[str, str],
    request: HttpRequest,
    *,
    request_id: str,
    now: datetime,
) -> dict[str, Any]:
    """The event API Gateway's Lambda proxy integration (REST, payload 1.0) sends."""
    split = urlsplit(request.target)
    path = unquote(split.path)
    headers = _with_forwarded_for(request.headers, request.source_ip)
    by_name = {name.lower(): value for name, value in headers}
    multi_headers = _multi(headers)
    query = _multi(parse_qsl(split.query, keep_blank_values=True))
    user_agent = by_name.get("user-agent")
    identity: dict[str, Any] = {
        "sourceIp": request.source_ip,
        "userAgent": user_agent,
        "accountId": None,
        "caller": None,
        "user": None,
        "userArn": None,
        "accessKey": None,
        "apiKey": None,
        "cognitoAuthenticationProvider": None,
        "cognitoAuthenticationType": None,
        "cognitoIdentityId": None,
        "cognitoIdentityPoolId": None,
        "principalOrgId": None,
    }
    if route.iam_auth:
        identity |= {
            "accountId": ACCOUNT_ID,
            "caller": LOCAL_OPERATOR_ID,
            "user": LOCAL_OPERATOR_ID,
            "userArn": LOCAL_OPERATOR_ARN,
        }
    body: str | None = None
    is_base64 = False
    if request.body:
        try:
            body = request.body.decode("utf-8")
        except UnicodeDecodeError:
            body, is_base64 = base64.b64encode(request.body).decode(), True
    return {
        "resource": route.resource,
        "path": path,
        "httpMethod": request.method,
        "headers": {name: values[-1] for name, values in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {name: values[-1] for name, values in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": dict(path_parameters) or None,
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": "local",
            "domainName": by_name.get("host", "127.0.0.1"),
            "domainPrefix": "local",
            "extendedRequestId": request_id,
            "httpMethod": request.method,
            "identity": identity,
            "path": f"/{STAGE}{path}",
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "resourceId": "local",
            "resourcePath": route.resource,
            "stage": STAGE,
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }


class MalformedProxyResponseError(ValueError):
    pass


def proxy_response(result: Any) -> HttpResponse:
    """The HTTP response a Lambda proxy integration result stands for."""
    if not isinstance(result, Mapping) or not isinstance(result.get("statusCode"), int):
        raise MalformedProxyResponseError(f"not a proxy response: {result!r:.200}")
    merged: dict[str, list[str]] = {}
    lowered: dict[str, str] = {}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        merged[name] = [str(v) for v in values]
        lowered[name.lower()] = name
    for name, value in (result.get("headers") or {}).items():
        key = lowered.setdefault(name.lower(), name)
        if str(value) not in merged.setdefault(key, []):
            merged[key].append(str(value))
    headers = [
        (name, value)
        for name, values in merged.items()
        if name.lower() not in _HOP_BY_HOP
        for value in values
    ]
    if "content-type" not in lowered:
        headers.append(("Content-Type", "application/json"))
    body = result.get("body") or ""
    if not isinstance(body, str):
        raise MalformedProxyResponseError("the proxy response body is not a string")
    data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    return HttpResponse(status=result["statusCode"], headers=headers, body=data)


API_GATEWAY_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""What `Method: ANY` covers in API Gateway; anything else never reaches a function."""


def json_response(status: int, message: str) -> HttpResponse:
    body = json.dumps({"message": message}).encode()
    return HttpResponse(status=status, headers=[("Content-Type", "application/json")], body=body)


Invoke = Callable[[LocalFunction, Any], Any]


def handle(routes: Sequence[ApiRoute], invoke: Invoke, request: HttpRequest) -> HttpResponse:
    """What API Gateway answers to `request`."""
    if request.method not in API_GATEWAY_METHODS:
        refused = json_response(405, "Method Not Allowed")
        allow = ("Allow", ", ".join(sorted(API_GATEWAY_METHODS)))
        return HttpResponse(refused.status, [*refused.headers, allow], refused.body)
    split = urlsplit(request.target)
    found = find_route(routes, request.method, unquote(split.path))
    if found is None:
        return json_response(404, "Not Found")
    route, path_parameters = found
    request_id = str(uuid.uuid4())
    event = build_proxy_event(
        route, path_parameters, request, request_id=request_id, now=datetime.now(UTC)
    )
    try:
        response = proxy_response(invoke(route.function, event))
    except MalformedProxyResponseError as error:
        print(
            f"[{route.function.logical_id}] malformed Lambda proxy response: {error}",
            file=sys.stderr,
        )
        response = json_response(502, "Internal server error")
    except Exception:
        response = json_response(502, "Internal server error")
    return HttpResponse(
        status=response.status,
        headers=[*response.headers, ("x-amzn-RequestId", request_id)],
        body=response.body,
    )


DIAGNOSTICS_PATH = "/_local/invocations"
"""The local stack's own endpoint (no route of the template): invocations in flight now,
the most ever in flight at once, invocations so far and workers, as JSON."""


class ApiGatewayServer(ThreadingHTTPServer):
    """Bound at once (a taken port fails early); serves the routes given to `connect`."""

    daemon_threads = True
    request_queue_size = 128
    """The listen backlog: a burst of clients waits for a thread instead of being reset."""

    def __init__(self, port: int) -> None:
        self.routes: Sequence[ApiRoute] = ()
        self.invoke: Invoke | None = None
        self.diagnostics: Callable[[], Mapping[str, int]] | None = None
        super().__init__(("127.0.0.1", port), _RequestHandler)

    def connect(
        self,
        routes: Sequence[ApiRoute],
        invoke: Invoke,
        diagnostics: Callable[[], Mapping[str, int]] | None = None,
    ) -> None:
        self.routes, self.invoke, self.diagnostics = routes, invoke, diagnostics

    def answer(self, request: HttpRequest) -> HttpResponse:
        if self.invoke is None:
            return json_response(503, "Service Unavailable")
        if self.diagnostics is not None and urlsplit(request.target).path == DIAGNOSTICS_PATH:
            body = json.dumps(dict(self.diagnostics())).encode()
            return HttpResponse(200, [("Content-Type", "application/json")], body)
        return handle(self.routes, self.invoke, request)


class _RequestHandler(BaseHTTPRequestHandler):
    server: ApiGatewayServer
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        request = HttpRequest(
            method=self.command,
            target=self.path,
            headers=list(self.headers.items()),
            body=self._read_body(),
            source_ip=self.client_address[0],
        )
        response = self.server.answer(request)
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def __getattr__(self, name: str) -> Any:
        # Every method reaches `handle`, which answers what API Gateway does not route
        # with a 405 (the standard library would answer 501, a server error).
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))
