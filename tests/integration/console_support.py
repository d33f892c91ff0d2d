"""The console in-process on moto: its user pool, its session keys, and a client that
keeps cookies as a browser does and reads the CSRF token of the page it was shown."""

from __future__ import annotations

import base64
import html
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import boto3
import pytest

from consentry.addresses.decisions import put_status
from consentry.addresses.status import AddressStatus
from consentry.analysis.exclusion import ExclusionCause
from consentry.analysis.tables import RECORD, AnalysisModel
from consentry.analysis.terms import AnalysisStatus
from consentry.consent.profile_store import register_profile
from consentry.core.types import Address, Channel, ProfileId
from tests.conftest import REGION
from tests.integration.conftest import Configure, lambda_context

HOST = "console.example.com"
SESSION_KEYS = "ConsoleSessionKeys"
PASSWORD = "Correct-Horse-Battery-9"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass(frozen=True)
class UserPool:
    pool_id: str
    client_id: str

    def add_user(self, username: str, group: str | None, password: str = PASSWORD) -> None:
        cognito = boto3.client("cognito-idp", region_name=REGION)
        cognito.admin_create_user(
            UserPoolId=self.pool_id, Username=username, MessageAction="SUPPRESS"
        )
        cognito.admin_set_user_password(
            UserPoolId=self.pool_id, Username=username, Password=password, Permanent=True
        )
        if group:
            cognito.admin_add_user_to_group(
                UserPoolId=self.pool_id, Username=username, GroupName=group
            )


@pytest.fixture
def user_pool(table_names: dict[str, str], configure: Configure) -> UserPool:
    """The template's pool, groups and client on moto, a session keyring, and the console's
    settings naming them."""
    cognito = boto3.client("cognito-idp", region_name=REGION)
    pool = cognito.create_user_pool(PoolName="console")["UserPool"]["Id"]
    client = cognito.create_user_pool_client(
        UserPoolId=pool,
        ClientName="console",
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"],
    )["UserPoolClient"]["ClientId"]
    for group in ("operators", "viewers"):
        cognito.create_group(UserPoolId=pool, GroupName=group)
    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name=SESSION_KEYS,
        SecretString=json.dumps({"active": "c1", "c1": secrets.token_urlsafe(48)}),
    )
    configure(
        CONSOLE_USER_POOL_ID=pool,
        CONSOLE_CLIENT_ID=client,
        CONSOLE_SESSION_KEYS_SECRET=SESSION_KEYS,
    )
    found = UserPool(pool, client)
    found.add_user("ops", "operators")
    found.add_user("watcher", "viewers")
    found.add_user("nobody-in-a-group", None)
    return found


def console_event(
    method: str,
    path: str,
    *,
    body: str | None = None,
    cookies: dict[str, str] | None = None,
    content_type: str | None = "application/x-www-form-urlencoded",
    is_base64: bool = False,
    host: str = HOST,
) -> dict[str, Any]:
    split = urlsplit(path)
    headers = {"Host": host, "X-Forwarded-Proto": "https", "User-Agent": "tests"}
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    if body is not None and content_type:
        headers["Content-Type"] = content_type
    query = dict(re.findall(r"([^&=]+)=([^&]*)", split.query)) if split.query else None
    from urllib.parse import unquote_plus

    decoded = {unquote_plus(k): unquote_plus(v) for k, v in (query or {}).items()} or None
    return {
        "resource": "/console/{proxy+}",
        "path": split.path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": decoded,
        "multiValueQueryStringParameters": {k: [v] for k, v in decoded.items()}
        if decoded
        else None,
        "pathParameters": {"proxy": split.path.removeprefix("/console/")},
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": host,
            "httpMethod": method,
            "identity": {"sourceIp": "198.51.100.20", "userAgent": "tests"},
            "path": f"/prod{split.path}",
            "requestId": "console-test",
            "requestTimeEpoch": 1_700_000_000_000,
            "resourcePath": "/console/{proxy+}",
            "stage": "prod",
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }


@dataclass
class ConsoleClient:
    """A browser on the console: cookies kept, the last page's CSRF token at hand."""

    cookies: dict[str, str] = field(default_factory=dict)
    csrf: str | None = None
    wiring: Any = None

    def send(self, event: dict[str, Any]) -> dict[str, Any]:
        from console.handler import lambda_handler

        response: dict[str, Any] = lambda_handler(event, lambda_context("console"), self.wiring)
        for value in (response.get("multiValueHeaders") or {}).get("Set-Cookie", []):
            name, _, rest = value.partition("=")
            cookie_value = rest.split(";", 1)[0]
            if "Max-Age=0" in value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = cookie_value
        body = response.get("body") or ""
        found = _CSRF.search(body)
        if found:
            self.csrf = html.unescape(found.group(1))
        return response

    def get(self, path: str) -> dict[str, Any]:
        return self.send(console_event("GET", path, cookies=self.cookies))

    def post(
        self, path: str, fields: dict[str, str] | None = None, *, csrf: bool = True
    ) -> dict[str, Any]:
        form = dict(fields or {})
        if csrf and self.csrf is not None:
            form.setdefault("csrf", self.csrf)
        return self.send(console_event("POST", path, body=urlencode(form), cookies=self.cookies))

    def post_raw(self, path: str, body: str, **changes: Any) -> dict[str, Any]:
        return self.send(console_event("POST", path, body=body, cookies=self.cookies, **changes))

    def sign_in(self, username: str, password: str = PASSWORD) -> dict[str, Any]:
        self.get("/console/sign-in")
        return self.post("/console/sign-in", {"username": username, "password": password})


def location(response: dict[str, Any]) -> str:
    return str(response["multiValueHeaders"]["Location"][0])


def header(response: dict[str, Any], name: str) -> str:
    return str(response["multiValueHeaders"][name][0])


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
def console(user_pool: UserPool) -> ConsoleClient:
    """A browser on the console, not signed in yet."""
    return ConsoleClient()


PROFILE = ProfileId("p-console-1")
EMAIL = "reader.one@example.com"
QUARANTINED = "gone.mailbox@example.org"


@pytest.fixture
def seeded(console: ConsoleClient) -> ConsoleClient:
    register_profile(PROFILE, {Channel.EMAIL: EMAIL, Channel.SMS: "+31612345678"}, "en")
    put_status(
        Channel.EMAIL, Address(QUARANTINED), AddressStatus.QUARANTINE, "user_unknown", actor="seed"
    )
    created = datetime(2026, 12, 1, 9, tzinfo=UTC)
    AnalysisModel(
        "d-console-1",
        RECORD,
        status=AnalysisStatus.SUCCEEDED.value,
        execution_arn="arn:aws:states:eu-west-1:123456789012:execution:m:d-console-1",
        request={"deliveryId": "d-console-1"},
        audience_size=1000,
        target_size=900,
        excluded={cause.value: 0 for cause in ExclusionCause}
        | {"address_quarantined": 60, "profile_opted_out": 40},
        created_at=created,
        updated_at=created,
    ).save()
    return console
