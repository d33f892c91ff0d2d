"""The hostile suite: the handlers in-process on moto, with the integration suite's tables,
bucket and keys, and a snapshot of everything a request could change."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from tests.conftest import REGION
from tests.integration.conftest import (  # noqa: F401 (fixtures, shared with the integration suite)
    api,
    configure,
    dynamodb,
    keyring,
    signer,
    table_names,
)
from tests.tally import TALLY

State = dict[str, list[str]]


@pytest.fixture
def stored_state(request: pytest.FixtureRequest) -> Callable[[], State]:
    """Every item of every table and every object of the data bucket, as sorted text:
    two snapshots are equal when nothing was written."""
    tables: dict[str, str] = request.getfixturevalue("table_names")

    def snapshot() -> State:
        client = boto3.client("dynamodb", region_name=REGION)
        state: State = {}
        for name in tables.values():
            items: list[str] = []
            for page in client.get_paginator("scan").paginate(TableName=name):
                items += [json.dumps(item, sort_keys=True) for item in page["Items"]]
            state[name] = sorted(items)
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in s3.list_buckets()["Buckets"]:
            pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket["Name"])
            state[f"s3:{bucket['Name']}"] = sorted(
                obj["Key"] for page in pages for obj in page.get("Contents", [])
            )
        return state

    return snapshot


def proxy_event(
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    body: str | None = None,
    is_base64: bool = False,
) -> dict[str, Any]:
    """An API Gateway REST proxy event (payload 1.0) as API Gateway sends it (each one a
    hostile request, counted in the run's tallies)."""
    TALLY["hostile_requests"] += 1
    sent = {"Host": "abc123.execute-api.eu-west-1.amazonaws.com", **(headers or {})}
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": sent,
        "multiValueHeaders": {name: [value] for name, value in sent.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": {"proxy": path.lstrip("/").partition("/")[2]},
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
            "httpMethod": method,
            "identity": {"sourceIp": "203.0.113.7", "userArn": "arn:aws:iam::1:user/hostile"},
            "path": f"/prod{path}",
            "protocol": "HTTP/1.1",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "requestTimeEpoch": 1790000000000,
            "resourcePath": "/{proxy+}",
            "stage": "prod",
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }


# The console's user pool, a signed-out browser on it, and its seed data.
from tests.integration.console_support import console, seeded, user_pool  # noqa: E402, F401
