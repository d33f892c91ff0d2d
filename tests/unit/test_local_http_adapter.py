"""The local API Gateway: routes from the template, proxy events in, proxy responses out."""

import base64
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from infra.local.http_adapter import (
    LOCAL_OPERATOR_ARN,
    ApiRoute,
    HttpRequest,
    MalformedProxyResponseError,
    api_routes,
    build_proxy_event,
    find_route,
    handle,
    proxy_response,
)
from infra.local.lambdas import LocalFunction, local_functions
from infra.local.template import Physical, Resolver, load_template
from tests.conftest import ROOT

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def function(name: str = "Fn") -> LocalFunction:
    return LocalFunction(
        logical_id=name,
        name=f"consentry-{name}",
        arn=f"arn:aws:lambda:eu-west-1:123456789012:function:consentry-{name}",
        handler="mod.handler",
        code_dir=Path("functions"),
        memory_mb=512,
        timeout_s=29,
    )


LANDING = ApiRoute(
    function=function("Landing"), resource="/u/{proxy+}", method="ANY", iam_auth=False
)
OPERATOR = ApiRoute(
    function=function("Consent"), resource="/v1/{proxy+}", method="ANY", iam_auth=True
)


def request(
    method: str = "GET",
    target: str = "/u/TOKEN",
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    ip: str = "192.0.2.10",
) -> HttpRequest:
    return HttpRequest(method=method, target=target, headers=list(headers), body=body, source_ip=ip)


def event_for(route: ApiRoute, req: HttpRequest) -> dict[str, Any]:
    found = find_route([route], req.method, req.target.split("?")[0])
    assert found is not None
    return build_proxy_event(found[0], found[1], req, request_id="req-1", now=NOW)


@pytest.fixture
def template_routes() -> list[ApiRoute]:
    template = load_template(ROOT / "template.yaml")
    physical = {
        lid: Physical(ref=f"consentry-{lid}", attributes={"Arn": f"arn:{lid}"})
        for lid in template.resources_of("AWS::Serverless::Function")
    }
    resolver = Resolver(template, region="eu-west-1", physical=physical)
    functions = {f.logical_id: f for f in local_functions(template, resolver)}
    return api_routes(template, resolver, functions)


def test_the_template_routes_recipient_paths_to_landing_and_v1_to_the_iam_operator_api(
    template_routes: list[ApiRoute],
) -> None:
    by_path = {route.resource: route for route in template_routes}

    assert by_path["/u/{proxy+}"].function.logical_id == "LandingFunction"
    assert by_path["/p/{proxy+}"].iam_auth is False
    assert by_path["/v1/{proxy+}"].function.logical_id == "ConsentFunction"
    assert by_path["/v1/{proxy+}"].iam_auth is True


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/u/abc", {"proxy": "abc"}),
        ("/u/a/b.c", {"proxy": "a/b.c"}),
        ("/u/", None),
        ("/u", None),
        ("/x/abc", None),
    ],
)
def test_a_greedy_path_parameter_takes_the_rest_of_the_path(
    path: str, expected: dict[str, str] | None
) -> None:
    found = find_route([LANDING], "POST", path)

    assert (found[1] if found else None) == expected


def test_a_literal_path_and_a_verb_win_over_a_greedy_path_and_any() -> None:
    greedy = ApiRoute(function=function("A"), resource="/v1/{proxy+}", method="ANY", iam_auth=False)
    exact_any = ApiRoute(
        function=function("B"), resource="/v1/health", method="ANY", iam_auth=False
    )
    exact_get = ApiRoute(
        function=function("C"), resource="/v1/health", method="GET", iam_auth=False
    )
    routes = sorted([greedy, exact_any, exact_get], key=ApiRoute.specificity)

    def route_for(method: str, path: str) -> ApiRoute | None:
        found = find_route(routes, method, path)
        return found[0] if found else None

    assert route_for("GET", "/v1/health") is exact_get
    assert route_for("POST", "/v1/health") is exact_any
    assert route_for("GET", "/v1/other") is greedy


def test_the_event_is_an_api_gateway_rest_proxy_event() -> None:
    req = request(
        "POST",
        "/u/TOKEN?a=1&a=2&b=",
        headers=[("Content-Type", "application/x-www-form-urlencoded"), ("User-Agent", "ua/1")],
        body=b"List-Unsubscribe=One-Click",
    )

    event = event_for(LANDING, req)

    assert event["resource"] == "/u/{proxy+}"
    assert event["path"] == "/u/TOKEN"
    assert event["httpMethod"] == "POST"
    assert event["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert event["headers"]["X-Forwarded-For"] == "192.0.2.10"
    assert event["multiValueHeaders"]["User-Agent"] == ["ua/1"]
    assert event["queryStringParameters"] == {"a": "2", "b": ""}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": [""]}
    assert event["pathParameters"] == {"proxy": "TOKEN"}
    assert event["stageVariables"] is None
    assert event["body"] == "List-Unsubscribe=One-Click"
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["resourcePath"] == "/u/{proxy+}"
    assert context["path"] == "/local/u/TOKEN"
    assert context["stage"] == "local"
    assert context["requestId"] == "req-1"
    assert context["identity"]["sourceIp"] == "192.0.2.10"
    assert context["identity"]["userAgent"] == "ua/1"
    assert context["identity"]["userArn"] is None


def test_powertools_reads_the_event_as_lambda_would_give_it() -> None:
    req = request("POST", "/u/TOKEN", headers=[("content-type", "text/plain")], body=b"x")

    event = APIGatewayProxyEvent(event_for(LANDING, req))

    assert event.headers.get("Content-Type") == "text/plain"
    assert event.request_context.identity.source_ip == "192.0.2.10"
    assert event.path == "/u/TOKEN"
    assert event.decoded_body == "x"


def test_without_query_or_body_those_fields_are_null() -> None:
    event = event_for(LANDING, request())

    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["body"] is None


def test_a_body_that_is_not_utf8_is_base64_encoded() -> None:
    event = event_for(LANDING, request("POST", body=b"\xff\xfe"))

    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\xfe"


def test_a_forwarded_for_header_gets_the_client_address_appended() -> None:
    event = event_for(LANDING, request(headers=[("X-Forwarded-For", "203.0.113.7")]))

    assert event["headers"]["X-Forwarded-For"] == "203.0.113.7, 192.0.2.10"


def test_an_iam_route_is_called_by_the_local_operator() -> None:
    identity = event_for(OPERATOR, request(target="/v1/profiles/p/consent"))["requestContext"][
        "identity"
    ]

    assert identity["userArn"] == LOCAL_OPERATOR_ARN
    assert identity["caller"] == identity["user"]
    assert identity["accountId"] == "123456789012"


def test_the_proxy_response_merges_headers_and_decodes_a_base64_body() -> None:
    response = proxy_response(
        {
            "statusCode": 201,
            "headers": {"Content-Type": "text/plain", "X-One": "a"},
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"], "x-one": ["a"]},
            "body": base64.b64encode(b"\x00bin").decode(),
            "isBase64Encoded": True,
        }
    )

    assert response.status == 201
    assert sorted(response.headers) == [
        ("Content-Type", "text/plain"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
        ("x-one", "a"),
    ]
    assert response.body == b"\x00bin"


def test_a_response_without_content_type_is_json_as_api_gateway_makes_it() -> None:
    response = proxy_response({"statusCode": 204})

    assert ("Content-Type", "application/json") in response.headers
    assert response.body == b""


@pytest.mark.parametrize("result", [None, {"body": "x"}, {"statusCode": "200"}, "text"])
def test_anything_but_a_proxy_response_is_malformed(result: object) -> None:
    with pytest.raises(MalformedProxyResponseError):
        proxy_response(result)


def test_an_unknown_path_is_not_found() -> None:
    response = handle(
        [LANDING], lambda _fn, _event: pytest.fail("no handler runs"), request(target="/x")
    )

    assert response.status == 404
    assert json.loads(response.body) == {"message": "Not Found"}


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND"])
def test_a_method_api_gateway_does_not_route_is_405(method: str) -> None:
    response = handle(
        [LANDING], lambda _fn, _event: pytest.fail("no handler runs"), request(method=method)
    )

    assert response.status == 405


def test_a_handler_that_raises_is_a_502_as_api_gateway_answers_it() -> None:
    def broken(fn: LocalFunction, event: dict[str, Any]) -> NoReturn:
        raise RuntimeError("boom")

    response = handle([LANDING], broken, request())

    assert response.status == 502
    assert json.loads(response.body) == {"message": "Internal server error"}


def test_the_handler_of_the_route_gets_the_event_and_answers_the_request() -> None:
    calls = []

    def invoke(fn: LocalFunction, event: dict[str, Any]) -> dict[str, Any]:
        calls.append((fn, event["path"]))
        return {"statusCode": 200, "headers": {"Content-Type": "text/html"}, "body": "<p>ok</p>"}

    response = handle([LANDING, OPERATOR], invoke, request(target="/v1/profiles/p/consent"))

    assert calls == [(OPERATOR.function, "/v1/profiles/p/consent")]
    assert response.status == 200
    assert response.body == b"<p>ok</p>"
    assert any(name == "x-amzn-RequestId" for name, _ in response.headers)
