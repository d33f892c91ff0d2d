"""Handlers in-process under moto, with the tables, bucket and signing keys of the template."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator, Mapping
from copy import deepcopy
from datetime import UTC, datetime
from pathlib import Path
from types import EllipsisType, SimpleNamespace
from typing import TYPE_CHECKING, Any, Protocol, TypedDict, Unpack

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from consentry.consent.tokens import Keyring, LinkSigner
from consentry.core.persistence import bind_tables
from consentry.core.settings import get_settings
from infra.local.resources import TABLE, create_resources
from infra.local.template import Template, load_template
from tests.conftest import REGION, ROOT

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

EVENTS = Path(__file__).resolve().parents[1] / "events"

clear_parameter_caches: Callable[[], None] = parameters.clear_caches
"""Powertools' `clear_caches`, which it leaves unannotated, with its type."""


class EventChanges(TypedDict, total=False):
    """What `proxy_event` changes in a sample event, besides its path."""

    method: str | None
    body: str | None
    content_type: str | None
    is_base64: bool


class LandingCall(Protocol):
    """The `landing` fixture: a sample event for a link token, to the landing handler."""

    def __call__(
        self, name: str, *, token: str, path: str | None = None, **changes: Unpack[EventChanges]
    ) -> dict[str, Any]: ...


class ConsentCall(Protocol):
    """The `consent_api` fixture: a sample event for a profile, to the consent handler."""

    def __call__(
        self,
        name: str,
        *,
        profile: str | None = None,
        path: str | None = None,
        **changes: Unpack[EventChanges],
    ) -> dict[str, Any]: ...


class ApiCall(Protocol):
    """The `api` fixture: the /v1 API in-process; the response has its body parsed as `json`."""

    def __call__(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: str | None = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        caller: str | None = None,
    ) -> dict[str, Any]: ...


class Configure(Protocol):
    """The `configure` fixture: settings given as the template's environment would."""

    def __call__(self, **variables: object) -> None: ...


STACK_TEMPLATE = load_template(ROOT / "template.yaml")


def create_tables(template: Template) -> dict[str, str]:
    """The template's tables, as the local stack creates them (streams and TTL too)."""
    tables = template.resources_of(TABLE)
    physical = create_resources(template, REGION, only=tables)
    return {logical_id: physical[logical_id].ref for logical_id in tables}


@pytest.fixture
def dynamodb() -> Iterator[DynamoDBClient]:
    with mock_aws():
        yield boto3.client("dynamodb", region_name=REGION)


@pytest.fixture
def keyring() -> Keyring:
    return Keyring(keys={"k1": secrets.token_urlsafe(48)}, active="k1")


@pytest.fixture(autouse=True)
def table_names(dynamodb: DynamoDBClient, keyring: Keyring) -> dict[str, str]:
    names = create_tables(STACK_TEMPLATE)
    settings = get_settings()
    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name=settings.signing_keys_secret,
        SecretString=json.dumps({"active": keyring.active, **keyring.keys}),
    )
    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name=settings.erasure_keys_secret,
        SecretString=json.dumps({"active": "e1", "e1": secrets.token_urlsafe(48)}),
    )
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=settings.data_bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    bind_tables(settings)
    clear_parameter_caches()
    return names


@pytest.fixture
def fresh_now(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sets the test module's `NOW` to this test's instant.

    A module that dates its seeded data from a `NOW` taken at import would date it from
    collection time: the suite runs for an hour and more, longer than the outage window,
    so a late test's "ten minutes ago" would lie outside it. Modules opt in with
    `pytestmark = pytest.mark.usefixtures("fresh_now")`.
    """
    monkeypatch.setattr(request.module, "NOW", datetime.now(UTC))


@pytest.fixture
def signer(keyring: Keyring) -> LinkSigner:
    from datetime import timedelta

    return LinkSigner(keyring, ttl=timedelta(days=get_settings().link_ttl_days))


def lambda_context(name: str = "test") -> SimpleNamespace:
    return SimpleNamespace(
        function_name=name,
        memory_limit_in_mb=512,
        invoked_function_arn=f"arn:aws:lambda:{REGION}:123456789012:function:{name}",
        aws_request_id="00000000-0000-0000-0000-000000000000",
        get_remaining_time_in_millis=lambda: 29_000,
    )


def proxy_event(
    name: str,
    *,
    path: str,
    method: str | None = None,
    body: str | EllipsisType | None = ...,
    content_type: str | None = None,
    is_base64: bool = False,
) -> dict[str, Any]:
    event: dict[str, Any] = deepcopy(json.loads((EVENTS / f"{name}.json").read_text()))
    event["path"] = path
    event["requestContext"]["path"] = f"/prod{path}"
    event["pathParameters"] = {"proxy": path.split("/", 2)[2]}
    if method:
        event["httpMethod"] = event["requestContext"]["httpMethod"] = method
    if body is not ...:
        event["body"] = body
    if content_type:
        event["headers"]["Content-Type"] = content_type
        event["multiValueHeaders"]["Content-Type"] = [content_type]
    event["isBase64Encoded"] = is_base64
    return event


@pytest.fixture
def landing() -> LandingCall:
    from landing.handler import lambda_handler

    def invoke(
        name: str, *, token: str, path: str | None = None, **changes: Unpack[EventChanges]
    ) -> dict[str, Any]:
        event = proxy_event(name, path=path or f"/u/{token}", **changes)
        response: dict[str, Any] = lambda_handler(event, lambda_context("landing"))
        return response

    return invoke


@pytest.fixture
def consent_api() -> ConsentCall:
    from consent.handler import lambda_handler

    def invoke(
        name: str,
        *,
        profile: str | None = None,
        path: str | None = None,
        **changes: Unpack[EventChanges],
    ) -> dict[str, Any]:
        event = proxy_event(name, path=path or f"/v1/profiles/{profile}/consent", **changes)
        response: dict[str, Any] = lambda_handler(event, lambda_context("consent"))
        return response

    return invoke


@pytest.fixture
def api() -> ApiCall:
    """Call the /v1 API in-process: `api("PATCH", "/v1/...", json={...}, headers={...})`."""
    from consent.handler import lambda_handler

    def invoke(
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: str | None = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        caller: str | None = None,
    ) -> dict[str, Any]:
        event = proxy_event("get_consent", path=path, method=method)
        if json_body is not None:
            body = json.dumps(json_body)
            headers = {"Content-Type": "application/json", **(headers or {})}
        event["body"] = body
        for name, value in (headers or {}).items():
            event["headers"][name] = value
            event["multiValueHeaders"][name] = [value]
        if query:
            event["queryStringParameters"] = dict(query)
            event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()}
        if caller:
            event["requestContext"]["identity"]["userArn"] = caller
        response: dict[str, Any] = lambda_handler(event, lambda_context("consent"))
        response["json"] = json.loads(response["body"]) if response.get("body") else None
        return response

    return invoke


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Iterator[Configure]:
    """Give the functions other settings, as the template's environment would: the
    handlers build their wiring anew from settings read anew. Read anew again after."""

    def configure(**variables: object) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(name.upper(), str(value))
        get_settings.cache_clear()

    yield configure
    get_settings.cache_clear()


# The console's user pool and a browser on it (defined with the console's test support).
from tests.integration.console_support import console, seeded, user_pool  # noqa: E402, F401
