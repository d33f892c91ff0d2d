"""DynamoDB calls and bytes per console page view, with 1,000 and with 100,000 profiles.

Runs on moto in this process (no network), with the resources of template.yaml. A core
of data is written through the stores (a profile with addresses and a history, an
address in quarantine, a service with subscribers, an analysis, an import, daily
counts); the bulk is copies of the items the stores wrote (a profile, its event, and
for one profile in ten a quarantined address), written with BatchWriteItem, so that
the tables hold as many items as that many profiles would make. Each page is then
viewed once by a signed-in viewer through the console's `lambda_handler`, and every
DynamoDB call made meanwhile is counted by operation.

The counts must be the same at both sizes: a page reads by key or by one partition of
an index, never by scanning what grows with the profiles (the services list scans the
services table, which holds services). Nothing here is timed.

Prints `name=value` lines.
"""

from __future__ import annotations

import argparse
import warnings
from collections import Counter
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

import boto3

from bench.consent import counting_dynamodb_calls
from bench.inprocess import REGION, template_on_moto

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_dynamodb import DynamoDBClient

CONTEXT = cast(
    "LambdaContext",
    SimpleNamespace(
        function_name="console",
        memory_limit_in_mb=512,
        invoked_function_arn=f"arn:aws:lambda:{REGION}:123456789012:function:console",
        aws_request_id="00000000-0000-0000-0000-000000000000",
        get_remaining_time_in_millis=lambda: 29_000,
    ),
)
HOST = "console.example.com"
SIZES = (1_000, 100_000)
CORE_PROFILE = "bench-core"
SERVICE = "bench-news"
DELIVERY = "bench-delivery"
BATCH = 25
"""BatchWriteItem's most items per call."""


def event(path: str, cookie: str) -> dict[str, Any]:
    headers = {"Host": HOST, "X-Forwarded-Proto": "https", "Cookie": cookie}
    path, _, query = path.partition("?")
    parameters = dict(pair.split("=", 1) for pair in query.split("&")) if query else None
    return {
        "resource": "/console/{proxy+}",
        "path": path,
        "httpMethod": "GET",
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": parameters,
        "multiValueQueryStringParameters": (
            {name: [value] for name, value in parameters.items()} if parameters else None
        ),
        "pathParameters": {"proxy": path.removeprefix("/console/")},
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "domainName": HOST,
            "httpMethod": "GET",
            "identity": {"sourceIp": "198.51.100.20", "userAgent": "bench"},
            "path": path,
            "requestId": "bench",
            "requestTimeEpoch": 1_700_000_000_000,
            "resourcePath": "/console/{proxy+}",
            "stage": "prod",
        },
        "body": None,
        "isBase64Encoded": False,
    }


def seed_core(settings: Any, now: datetime) -> None:
    """What the pages show, written through the stores as the product writes it."""
    from consentry.addresses.decisions import put_status
    from consentry.addresses.status import AddressStatus
    from consentry.analysis.exclusion import ExclusionCause
    from consentry.analysis.tables import RECORD, AnalysisModel
    from consentry.analysis.terms import AnalysisStatus
    from consentry.consent.profile_store import record_change, register_profile
    from consentry.consent.rules import ConsentChange, Scope
    from consentry.consent.service_store import save_service
    from consentry.consent.subscriptions import Confirmation, Service, SubscriptionStatus
    from consentry.core.types import Action, Address, Channel, ProfileId, ServiceId, Source
    from consentry.imports import import_store
    from consentry.imports.rules import ImportCounts, ImportKind, ImportRecord, ImportStatus
    from consentry.reporting import counter_store
    from consentry.reporting.cells import Cell, Direction, Feedback, Series, Tally

    register_profile(
        ProfileId(CORE_PROFILE),
        {Channel.EMAIL: "core@example.com", Channel.SMS: "+31612345678"},
        "en",
    )
    record_change(
        ProfileId(CORE_PROFILE),
        ConsentChange(
            scope=Scope.channel(Channel.SMS),
            action=Action.OPT_OUT,
            source=Source.OPERATOR,
            actor="bench",
        ),
    )
    put_status(
        Channel.EMAIL,
        Address("gone@example.org"),
        AddressStatus.QUARANTINE,
        "user_unknown",
        actor="bench",
    )
    save_service(
        Service(
            service_id=ServiceId(SERVICE),
            name="news",
            label="News",
            public_label="News",
            channel=Channel.EMAIL,
            confirmation=Confirmation.NONE,
            created_at=now,
            updated_at=now,
        ),
        expected_version=None,
    )
    for number in range(20):
        profile_id = ProfileId(f"bench-subscriber-{number}")
        register_profile(profile_id, {Channel.EMAIL: f"s{number}@example.com"}, "en")
        record_change(
            profile_id,
            ConsentChange(
                scope=Scope.service(SERVICE),
                action=Action.SUBSCRIBE,
                source=Source.OPERATOR,
                actor="bench",
                requested=SubscriptionStatus.SUBSCRIBED,
            ),
        )
    AnalysisModel(
        DELIVERY,
        RECORD,
        status=AnalysisStatus.SUCCEEDED.value,
        execution_arn=f"arn:aws:states:{REGION}:123456789012:execution:m:{DELIVERY}",
        request={"deliveryId": DELIVERY},
        audience_size=100_000,
        target_size=90_000,
        excluded={cause.value: 1_000 for cause in ExclusionCause},
        created_at=now,
        updated_at=now,
    ).save()
    import_store.create(
        ImportRecord(
            import_id="0123456789abcdef",
            kind=ImportKind.PROFILES,
            bucket=settings.data_bucket,
            key="uploads/bench.csv",
            etag='"bench"',
            status=ImportStatus.RUNNING,
            counts=ImportCounts(rows=1_000, applied=400),
            created_at=now,
            updated_at=now,
        )
    )
    tallies = []
    for day in range(30):
        on = (now - timedelta(days=day)).date()
        for number in range(3):
            tallies.append(
                Tally(
                    f"bench-{day}-{number}",
                    (
                        Cell(Series.CONSENT_BY_SOURCE, on, ("opt_out", "one_click")),
                        Cell(Series.CONSENT_BY_CHANNEL, on, ("opt_out", "email")),
                        Cell(
                            Series.QUARANTINE, on, (Direction.ENTERED, "quarantine", "mailbox_full")
                        ),
                        Cell(Series.EMAIL_FEEDBACK, on, (Feedback.DELIVERY, "example.com")),
                        Cell(Series.SENDING_FEEDBACK, on, (Feedback.DELIVERY, "mail.example.com")),
                        Cell(Series.SUBSCRIPTIONS, on, ("subscribed", SERVICE)),
                    ),
                )
            )
    for start in range(0, len(tallies), 100):
        counter_store.add(tallies[start : start + 100], now)


def raw_item(client: DynamoDBClient, table: str, key: dict[str, Any]) -> dict[str, Any]:
    return dict(client.get_item(TableName=table, Key=key)["Item"])


def seed_bulk(client: DynamoDBClient, settings: Any, start: int, stop: int) -> None:
    """Profiles number `start` to `stop`: copies of the core profile's items."""
    profile = raw_item(client, settings.profiles_table, {"profile_id": {"S": CORE_PROFILE}})
    history = client.query(
        TableName=settings.consent_events_table,
        KeyConditionExpression="profile_id = :p",
        ExpressionAttributeValues={":p": {"S": CORE_PROFILE}},
        Limit=1,
    )["Items"][0]
    quarantined = raw_item(
        client, settings.addresses_table, {"address_key": {"S": "email#gone@example.org"}}
    )
    writes: dict[str, list[Any]] = {}

    def put(table: str, item: dict[str, Any]) -> None:
        writes.setdefault(table, []).append({"PutRequest": {"Item": item}})
        if len(writes[table]) == BATCH:
            flush(table)

    def flush(table: str) -> None:
        pending: dict[str, list[Any]] = {table: writes.pop(table, [])}
        while pending[table]:
            left = client.batch_write_item(RequestItems=pending)["UnprocessedItems"]
            pending = {table: list(left.get(table, []))}

    for number in range(start, stop):
        profile_id = {"S": f"bulk-{number:06d}"}
        put(settings.profiles_table, {**profile, "profile_id": profile_id})
        put(settings.consent_events_table, {**history, "profile_id": profile_id})
        if number % 10 == 0:
            address = f"bulk.{number}@example.org"
            put(
                settings.addresses_table,
                {
                    **quarantined,
                    "address_key": {"S": f"email#{address}"},
                    "address": {"S": address},
                },
            )
    for table in list(writes):
        flush(table)


def pages(references: Any) -> dict[str, str]:
    from consentry.core.types import Address, Channel
    from console.routes.addresses import address_view_path

    return {
        "dashboard": "/console/",
        "dashboard_charts": "/console/charts/opt-outs-by-source.svg",
        "profile": f"/console/profiles/{CORE_PROFILE}",
        "addresses": "/console/addresses?status=quarantine",
        "address": address_view_path(references, Channel.EMAIL, Address("gone@example.org")),
        "services": "/console/services",
        "service": f"/console/services/{SERVICE}",
        "delivery": f"/console/deliveries/{DELIVERY}",
        "imports": "/console/imports",
        "import": "/console/imports/0123456789abcdef",
    }


def measure(wiring: Any, cookie: str) -> dict[str, tuple[Counter[str], int]]:
    from console.handler import lambda_handler

    found = {}
    for name, path in pages(wiring.references()).items():
        with counting_dynamodb_calls() as calls:
            response = lambda_handler(event(path, cookie), CONTEXT, wiring)
        if response["statusCode"] != 200:
            raise SystemExit(f"{name}: {path} answered {response['statusCode']}")
        found[name] = (Counter(calls), len(response["body"].encode()))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=list(SIZES), help="profiles, in rising order"
    )
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="No application metrics to publish")

    with template_on_moto():
        from consentry.core.settings import get_settings
        from console.session import SESSION_COOKIE, Role
        from console.wiring import ConsoleWiring

        settings = get_settings()
        now = datetime.now(UTC)
        seed_core(settings, now)
        client = boto3.client("dynamodb", region_name=REGION)
        wiring = ConsoleWiring(settings)
        _, value = wiring.sessions().issue("bench", Role.VIEWER)
        cookie = f"{SESSION_COOKIE}={value}"

        seeded = 0
        results = {}
        for size in sorted(args.sizes):
            seed_bulk(client, settings, seeded, size)
            seeded = size
            results[size] = measure(wiring, cookie)

    for size, found in results.items():
        for name, (calls, size_bytes) in found.items():
            kinds = ",".join(f"{op}:{count}" for op, count in sorted(calls.items()))
            print(f"profiles_{size}.{name}.dynamodb_calls={sum(calls.values())}")
            print(f"profiles_{size}.{name}.dynamodb_calls.kinds={kinds}")
            print(f"profiles_{size}.{name}.bytes={size_bytes}")
    first, *rest = results.values()
    same = all(
        {name: calls for name, (calls, _) in found.items()}
        == {name: calls for name, (calls, _) in first.items()}
        for found in rest
    )
    print(f"calls_same_at_every_size={'yes' if same else 'no'}")


if __name__ == "__main__":
    main()
