"""/v1/imports and the import function, on moto.

moto's Lambda `invoke` runs none of our code, so the route's hand-over to the import
function is captured by a fake Lambda client in the API's dependencies, and the
function is then called directly.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypedDict, Unpack, cast

import boto3
import msgspec
import pytest
from botocore.exceptions import ClientError

from consent.logic import import_run
from consent.logic.import_run import ImportRun, TimeLeft
from consent.logic.imports import LambdaImportJobs
from consentry.addresses import address_store
from consentry.addresses.status import AddressStatus
from consentry.addresses.tables import AddressEventModel
from consentry.consent import profile_store
from consentry.consent.profile_store import ChangeResult
from consentry.consent.rules import ConsentChange
from consentry.consent.tables import ConsentEventModel
from consentry.core.bucket import DataBucket
from consentry.core.clock import Clock
from consentry.core.errors import StoreUnavailableError
from consentry.core.settings import get_settings
from consentry.core.types import Address, Channel, ProfileId, Source
from consentry.imports import import_store
from tests.conftest import REGION, stack_name
from tests.integration.conftest import ApiCall, Configure, lambda_context
from tests.integration.helpers import present

IMPORT_FUNCTION = stack_name("ImportFunction")

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client

PROFILES_HEADER = (
    "profile_id,locale,email,sms,no_longer_contact_all,no_longer_contact_email,"
    "no_longer_contact_sms"
)


class RunOptions(TypedDict, total=False):
    """What a test changes of an import run: its clock, and the time it has left."""

    time_left: TimeLeft
    clock: Clock


@pytest.fixture
def lambda_client(configure: Configure, monkeypatch: pytest.MonkeyPatch) -> FakeLambda:
    """The API's Lambda client, a fake; the import function is named."""
    fake = FakeLambda()
    configure(import_function_name=IMPORT_FUNCTION)
    from consent.handler import current_dependencies

    monkeypatch.setattr(current_dependencies(), "functions", fake)
    return fake


@pytest.fixture
def started(lambda_client: FakeLambda) -> list[str]:
    """The import ids the API handed to the import function."""
    return lambda_client.import_ids


def job(**options: Unpack[RunOptions]) -> ImportRun:
    """What the import function runs an import with."""
    settings = get_settings()
    bucket = DataBucket(settings.data_bucket, region=settings.aws_region)
    return ImportRun(bucket=bucket, default_region=settings.default_phone_region, **options)


def s3() -> S3Client:
    return boto3.client("s3", region_name=REGION)


def upload(key: str, text: str, *, raw: bytes | None = None) -> str:
    bucket = get_settings().data_bucket
    s3().put_object(Bucket=bucket, Key=key, Body=raw if raw is not None else text.encode())
    return f"s3://{bucket}/{key}"


def post(api: ApiCall, uri: str, kind: str = "profiles") -> dict[str, Any]:
    return api("POST", "/v1/imports", json_body={"uri": uri, "kind": kind})


def run_job(import_id: str) -> dict[str, Any]:
    from consent.import_job import lambda_handler

    result: dict[str, Any] = lambda_handler({"importId": import_id}, lambda_context("import"))
    return result


def imported(api: ApiCall, key: str, text: str, kind: str = "profiles") -> dict[str, Any]:
    """Upload, POST and run an import; its record as GET answers it."""
    response = post(api, upload(key, text), kind)
    assert response["statusCode"] == 202, response["body"]
    import_id = response["json"]["importId"]
    run_job(import_id)
    record: dict[str, Any] = api("GET", f"/v1/imports/{import_id}")["json"]
    return record


def report(record: Mapping[str, Any]) -> list[dict[str, str]]:
    bucket, _, key = record["reportUri"].removeprefix("s3://").partition("/")
    body = s3().get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return list(csv.DictReader(io.StringIO(body)))


def consent_events(profile_id: str) -> list[ConsentEventModel]:
    return list(ConsentEventModel.query(profile_id))


def address_events(channel: str, address: str) -> list[AddressEventModel]:
    return list(AddressEventModel.query(f"{channel}#{address}"))


def lines(*rows: str) -> str:
    return "\n".join(rows) + "\n"


# ---------------------------------------------------------------- the API


@pytest.mark.parametrize(
    "event",
    [{}, {"importId": ""}, {"importId": "x" * 65}, {"importId": 7}, {"importId": "a", "kind": "x"}],
)
def test_the_import_function_refuses_an_input_its_start_never_writes(event: object) -> None:
    from consent.import_job import lambda_handler

    with pytest.raises(msgspec.ValidationError):
        lambda_handler(event, lambda_context("import"))


def test_posting_a_file_queues_one_import_and_starts_it(api: ApiCall, started: list[str]) -> None:
    uri = upload("uploads/optouts.csv", lines(PROFILES_HEADER, "p-1,,,,true,,"))

    response = post(api, uri)

    assert response["statusCode"] == 202
    body = response["json"]
    assert (body["status"], body["kind"], body["uri"]) == ("queued", "profiles", uri)
    assert body["counts"] == {"rows": 0, "applied": 0, "rejected": 0, "unchanged": 0}
    assert started == [body["importId"]]
    assert api("GET", f"/v1/imports/{body['importId']}")["json"] == body


def test_the_same_file_posted_twice_is_one_import(api: ApiCall, started: list[str]) -> None:
    uri = upload("uploads/optouts.csv", lines(PROFILES_HEADER, "p-1,,,,true,,"))
    first = post(api, uri)["json"]
    run_job(first["importId"])

    again = post(api, uri)

    assert again["statusCode"] == 200
    assert again["json"]["importId"] == first["importId"]
    assert again["json"]["status"] == "done"
    assert started == [first["importId"]]  # a done import is not started again
    assert len(consent_events("p-1")) == 1


def test_a_repeated_post_of_a_queued_import_starts_it_again(
    api: ApiCall, started: list[str]
) -> None:
    uri = upload("uploads/optouts.csv", lines(PROFILES_HEADER, "p-1,,,,true,,"))
    first = post(api, uri)["json"]

    again = post(api, uri)

    assert (again["statusCode"], again["json"]["importId"]) == (200, first["importId"])
    assert started == [first["importId"], first["importId"]]


def test_a_changed_file_at_the_same_key_is_a_new_import(api: ApiCall, started: list[str]) -> None:
    first = post(api, upload("uploads/list.csv", lines(PROFILES_HEADER, "p-1,,,,true,,")))
    second = post(api, upload("uploads/list.csv", lines(PROFILES_HEADER, "p-2,,,,true,,")))

    assert second["statusCode"] == 202
    assert second["json"]["importId"] != first["json"]["importId"]


def test_the_same_file_as_another_kind_is_another_import(api: ApiCall, started: list[str]) -> None:
    uri = upload("uploads/list.csv", lines(PROFILES_HEADER))

    assert (
        post(api, uri, "profiles")["json"]["importId"]
        != (post(api, uri, "addresses")["json"]["importId"])
    )


@pytest.mark.parametrize(
    "uri",
    [
        "s3://DataBucket/no/such/file.csv",
        "s3://someone-elses-bucket/list.csv",
    ],
)
def test_a_uri_that_names_no_object_of_the_data_bucket_is_422_naming_uri(
    api: ApiCall, started: list[str], uri: str
) -> None:
    response = post(api, uri)

    assert (response["statusCode"], response["json"]["field"]) == (422, "uri")
    assert started == []


@pytest.mark.parametrize(
    "body",
    [
        {"uri": "https://example.com/list.csv", "kind": "profiles"},
        {"uri": "s3://DataBucket/", "kind": "profiles"},
        {"uri": "s3://DataBucket/list.csv", "kind": "subscriptions"},
        {"uri": "s3://DataBucket/list.csv"},
    ],
)
def test_a_malformed_request_is_422(api: ApiCall, started: list[str], body: dict[str, Any]) -> None:
    response = api("POST", "/v1/imports", json_body=body)

    assert response["statusCode"] == 422
    assert started == []


def test_an_unknown_import_is_404(api: ApiCall) -> None:
    response = api("GET", "/v1/imports/0123456789abcdef")

    assert response["statusCode"] == 404


def test_an_idempotency_key_replays_the_first_answer(api: ApiCall, started: list[str]) -> None:
    uri = upload("uploads/optouts.csv", lines(PROFILES_HEADER, "p-1,,,,true,,"))
    headers = {"Idempotency-Key": "k-1"}

    first = api("POST", "/v1/imports", json_body={"uri": uri, "kind": "profiles"}, headers=headers)
    replay = api("POST", "/v1/imports", json_body={"uri": uri, "kind": "profiles"}, headers=headers)

    assert (first["statusCode"], replay["statusCode"]) == (202, 202)
    assert replay["json"] == first["json"]
    assert len(started) == 1


# ---------------------------------------------------------------- the hand-over


class FakeLambda:
    """Records invocations; fails them while `error` is set."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.import_ids: list[str] = []
        self.error: Exception | None = None

    def invoke(self, **request: Any) -> dict[str, int]:
        if self.error:
            raise self.error
        self.calls.append(request)
        self.import_ids.append(json.loads(request["Payload"])["importId"])
        return {"StatusCode": 202}


def test_the_import_function_is_invoked_asynchronously_with_the_import_id(
    lambda_client: FakeLambda,
) -> None:
    LambdaImportJobs(cast("LambdaClient", lambda_client), IMPORT_FUNCTION).start("abc")

    assert lambda_client.calls == [
        {
            "FunctionName": IMPORT_FUNCTION,
            "InvocationType": "Event",
            "Payload": b'{"importId": "abc"}',
        }
    ]


def test_an_import_that_could_not_be_started_is_503_and_started_by_the_next_post(
    api: ApiCall, lambda_client: FakeLambda
) -> None:
    uri = upload("uploads/optouts.csv", lines(PROFILES_HEADER, "p-1,,,,true,,"))
    lambda_client.error = ClientError(
        {"Error": {"Code": "TooManyRequestsException", "Message": "Rate exceeded"}}, "Invoke"
    )

    refused = post(api, uri)
    lambda_client.error = None
    retried = post(api, uri)

    assert refused["statusCode"] == 503
    assert (retried["statusCode"], retried["json"]["status"]) == (200, "queued")
    assert [json.loads(call["Payload"]) for call in lambda_client.calls] == [
        {"importId": retried["json"]["importId"]}
    ]


def test_a_function_without_the_import_function_name_cannot_start_imports(api: ApiCall) -> None:
    assert get_settings().import_function_name is None
    uri = upload("uploads/optouts.csv", lines(PROFILES_HEADER, "p-1,,,,true,,"))

    with pytest.raises(RuntimeError, match="IMPORT_FUNCTION_NAME"):
        post(api, uri)


# ---------------------------------------------------------------- the import function


def test_a_profiles_file_is_applied_as_events_from_the_import(
    api: ApiCall, started: list[str]
) -> None:
    record = imported(
        api,
        "uploads/profiles.csv",
        lines(
            PROFILES_HEADER,
            "p-1,fr,Jane@Example.COM,,TRUE,,",
            "p-2,,,+31 6 1234 5678,,no,yes",
        ),
    )

    assert (record["status"], record["error"]) == ("done", None)
    assert record["counts"] == {"rows": 2, "applied": 2, "rejected": 0, "unchanged": 0}
    actor = f"import:{record['importId']}"
    p1 = profile_store.get_consent(ProfileId("p-1"))
    assert (p1.opt_out_all, p1.addresses, p1.locale) == (
        True,
        {Channel.EMAIL: "jane@example.com"},
        "fr",
    )
    p2 = profile_store.get_consent(ProfileId("p-2"))
    assert (p2.opt_out_all, p2.opt_out_channels) == (False, frozenset({Channel.SMS}))
    assert p2.addresses == {Channel.SMS: "+31612345678"}
    events = consent_events("p-1") + consent_events("p-2")
    assert [(e.scope, e.action) for e in events] == [
        ("all", "opt_out"),
        ("channel:sms", "opt_out"),  # email=no on a profile never opted out changes nothing
    ]
    assert {(e.source, e.actor, e.reason) for e in events} == {
        (Source.IMPORT.value, actor, f"import {record['importId']}")
    }
    assert report(record) == [
        {"row": "2", "outcome": "applied", "reason": ""},
        {"row": "3", "outcome": "applied", "reason": ""},
    ]


def test_a_spreadsheet_export_with_a_byte_order_mark_and_crlf_lines_is_read(
    api: ApiCall, started: list[str]
) -> None:
    uri = upload(
        "uploads/excel.csv",
        "",
        raw='\ufeffProfile_ID,Email\r\np-1,"jane@example.com"\r\n'.encode(),
    )
    import_id = post(api, uri)["json"]["importId"]

    run_job(import_id)

    assert import_store.get(import_id).counts.applied == 1
    assert profile_store.get_consent(ProfileId("p-1")).addresses == {
        Channel.EMAIL: "jane@example.com"
    }


def test_columns_left_empty_leave_the_profile_as_it_is(api: ApiCall, started: list[str]) -> None:
    profile_store.register_profile(ProfileId("p-1"), {Channel.SMS: "+31612345678"}, "nl")

    imported(api, "uploads/profiles.csv", lines(PROFILES_HEADER, "p-1,,jane@example.com,,,,"))

    state = profile_store.get_consent(ProfileId("p-1"))
    assert state.addresses == {Channel.SMS: "+31612345678", Channel.EMAIL: "jane@example.com"}
    assert state.locale == "nl"
    assert not state.opted_out


def test_an_addresses_file_sets_the_statuses(api: ApiCall, started: list[str]) -> None:
    record = imported(
        api,
        "uploads/addresses.csv",
        lines(
            "channel,address,status,reason",
            "email,Bounced@Example.com,quarantine,user_unknown",
            "sms,+31 6 1234 5678,denylisted,STOP in the old platform",
            "email,seed@example.com,allowlisted,seed list",
        ),
        kind="addresses",
    )

    assert record["status"] == "done"
    assert record["counts"] == {"rows": 3, "applied": 3, "rejected": 0, "unchanged": 0}
    quarantined = present(address_store.find_address(Channel.EMAIL, Address("bounced@example.com")))
    denylisted = present(address_store.find_address(Channel.SMS, Address("+31612345678")))
    seed = present(address_store.find_address(Channel.EMAIL, Address("seed@example.com")))
    assert (quarantined.status, quarantined.reason) == (AddressStatus.QUARANTINE, "user_unknown")
    assert (denylisted.status, denylisted.denylist_origins) == (
        AddressStatus.DENYLISTED,
        frozenset({"import"}),
    )
    assert seed.status is AddressStatus.ALLOWLISTED
    (event,) = address_events("sms", "+31612345678")
    assert (event.kind, event.actor, event.reason) == (
        "import",
        f"import:{record['importId']}",
        "STOP in the old platform",
    )


def test_rejected_rows_are_reported_with_their_reason_and_the_rest_applied(
    api: ApiCall, started: list[str]
) -> None:
    record = imported(
        api,
        "uploads/mixed.csv",
        lines(
            PROFILES_HEADER,
            "p-1,,not-an-address,,true,,",
            "p-2,,,,maybe,,",
            ",,,,true,,",
            "p-3,,,,true",
            "p/4,,,,true,,",
            "",
            "p-5,,,12,,,",
            "p-6,english,,,,,",
            "p-7,,,,true,,",
            '"p-8",,"jane@example.com",,,"1",',
        ),
    )

    assert record["status"] == "done"
    assert record["counts"] == {"rows": 9, "applied": 2, "rejected": 7, "unchanged": 0}
    assert report(record) == [
        {"row": "2", "outcome": "rejected", "reason": "invalid email address"},
        {
            "row": "3",
            "outcome": "rejected",
            "reason": "no_longer_contact_all must be true, false, 1, 0, yes, no or empty",
        },
        {"row": "4", "outcome": "rejected", "reason": "profile_id is required"},
        {"row": "5", "outcome": "rejected", "reason": "expected 7 fields, found 5"},
        {"row": "6", "outcome": "rejected", "reason": "invalid profile_id"},
        {"row": "8", "outcome": "rejected", "reason": "invalid sms address"},
        {
            "row": "9",
            "outcome": "rejected",
            "reason": "invalid locale 'english' (expected a form like en or fr-CA)",
        },
        {"row": "10", "outcome": "applied", "reason": ""},
        {"row": "11", "outcome": "applied", "reason": ""},
    ]
    assert profile_store.find_consent(ProfileId("p-1")) is None
    assert profile_store.get_consent(ProfileId("p-7")).opt_out_all


def test_address_rows_need_a_known_channel_an_importable_status_and_a_reason(
    api: ApiCall, started: list[str]
) -> None:
    record = imported(
        api,
        "uploads/addresses.csv",
        lines(
            "channel,address,status,reason",
            "fax,+31612345678,quarantine,old list",
            "email,nobody,quarantine,old list",
            "email,a@example.com,erroneous,old list",
            "email,a@example.com,quarantine,",
            "email,a@example.com,quarantine,user_unknown",
        ),
        kind="addresses",
    )

    assert [(row["outcome"], row["reason"]) for row in report(record)] == [
        ("rejected", "channel must be one of email, sms, phone, direct_mail, push"),
        ("rejected", "invalid email address"),
        ("rejected", "status must be one of quarantine, denylisted, allowlisted, valid"),
        ("rejected", "reason is required"),
        ("applied", ""),
    ]


def test_importing_the_same_rows_again_changes_nothing(api: ApiCall, started: list[str]) -> None:
    profiles = lines(PROFILES_HEADER, "p-1,fr,jane@example.com,,true,,", "p-2,,,,,true,")
    addresses = lines(
        "channel,address,status,reason",
        "email,bounced@example.com,quarantine,user_unknown",
        "email,stop@example.com,denylisted,complaint",
        "email,gone@example.com,valid,released",
    )
    imported(api, "uploads/profiles-1.csv", profiles)
    imported(api, "uploads/addresses-1.csv", addresses, kind="addresses")
    before = [len(consent_events(p)) for p in ("p-1", "p-2")] + [
        len(address_events("email", a)) for a in ("bounced@example.com", "stop@example.com")
    ]

    again = imported(api, "uploads/profiles-2.csv", profiles)
    again_addresses = imported(api, "uploads/addresses-2.csv", addresses, kind="addresses")

    after = [len(consent_events(p)) for p in ("p-1", "p-2")] + [
        len(address_events("email", a)) for a in ("bounced@example.com", "stop@example.com")
    ]
    assert before == after == [1, 1, 1, 1]
    assert again["counts"] == {"rows": 2, "applied": 0, "rejected": 0, "unchanged": 2}
    assert again_addresses["counts"] == {"rows": 3, "applied": 0, "rejected": 0, "unchanged": 3}
    assert {row["outcome"] for row in report(again)} == {"unchanged"}
    assert address_store.find_address(Channel.EMAIL, Address("gone@example.com")) is None


def test_a_retried_run_applies_nothing_twice(
    api: ApiCall, started: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    response = post(
        api,
        upload(
            "uploads/profiles.csv",
            lines(PROFILES_HEADER, "p-1,,,,true,,", "p-2,,,,true,,", "p-3,,,,true,,"),
        ),
    )
    import_id = response["json"]["importId"]
    record_changes = profile_store.record_changes
    calls = []

    def unavailable_on_the_second_row(
        profile_id: ProfileId, changes: list[ConsentChange], **options: Any
    ) -> ChangeResult:
        calls.append(profile_id)
        if len(calls) == 2:
            raise StoreUnavailableError("throttled")
        return record_changes(profile_id, changes, **options)

    monkeypatch.setattr(profile_store, "record_changes", unavailable_on_the_second_row)

    with pytest.raises(StoreUnavailableError):
        run_job(import_id)  # Lambda retries an asynchronous invocation that raised
    failed = import_store.get(import_id)
    run_job(import_id)

    assert failed.error is not None
    assert (failed.status.value, "consent store is unavailable" in failed.error) == ("failed", True)
    done = api("GET", f"/v1/imports/{import_id}")["json"]
    assert (done["status"], done["error"]) == ("done", None)
    assert done["counts"] == {"rows": 3, "applied": 2, "rejected": 0, "unchanged": 1}
    assert [len(consent_events(p)) for p in ("p-1", "p-2", "p-3")] == [1, 1, 1]


def test_a_done_import_is_left_alone_by_a_repeated_invocation(
    api: ApiCall, started: list[str]
) -> None:
    record = imported(api, "uploads/profiles.csv", lines(PROFILES_HEADER, "p-1,,,,true,,"))

    result = run_job(record["importId"])

    assert result == {"importId": record["importId"], "status": "done"}
    assert api("GET", f"/v1/imports/{record['importId']}")["json"] == record


def test_a_run_never_overlaps_a_run_that_holds_the_import(api: ApiCall, started: list[str]) -> None:
    response = post(api, upload("uploads/profiles.csv", lines(PROFILES_HEADER, "p-1,,,,true,,")))
    import_id = response["json"]["importId"]
    now = import_store.get(import_id).created_at
    import_store.claim(import_id, now=now, until=now + timedelta(minutes=15))

    record = import_run.run(import_id, job(clock=lambda: now + timedelta(minutes=1)))

    assert record.status.value == "running"
    assert profile_store.find_consent(ProfileId("p-1")) is None


def test_a_run_out_of_time_fails_with_what_it_did_reported(
    api: ApiCall, started: list[str]
) -> None:
    response = post(
        api,
        upload(
            "uploads/profiles.csv",
            lines(PROFILES_HEADER, "p-1,,,,true,,", "p-2,,,,true,,", "p-3,,,,true,,"),
        ),
    )
    import_id = response["json"]["importId"]
    remaining = iter([timedelta(minutes=15)] * 3 + [timedelta(seconds=5)] * 5)

    import_run.run(import_id, job(time_left=lambda: next(remaining)))

    record = api("GET", f"/v1/imports/{import_id}")["json"]
    assert record["status"] == "failed"
    assert record["error"].startswith("stopped before row 4: the run's time was up")
    assert record["counts"] == {"rows": 3, "applied": 2, "rejected": 0, "unchanged": 0}
    assert [row["row"] for row in report(record)] == ["2", "3"]


@pytest.mark.parametrize(
    ("content", "error_part"),
    [
        (b"", "no header"),
        (b"\n", "no header"),
        (b"profile_id,no_longer_contact_all\np-1,true\np-\xe9,true\n", "not UTF-8"),
        (b"profile_id,opted_out\np-1,true\n", "unknown columns"),
        (b"email,no_longer_contact_all\na@example.com,true\n", "missing columns: profile_id"),
        (b"profile_id,email,EMAIL\np-1,,\n", "columns named twice: email"),
        (b'profile_id,no_longer_contact_all\np-1,true\np-2,"true\n', "not valid CSV"),
    ],
)
def test_a_malformed_file_fails_the_import_and_applies_nothing(
    api: ApiCall, started: list[str], content: bytes, error_part: str
) -> None:
    import_id = post(api, upload("uploads/bad.csv", "", raw=content))["json"]["importId"]

    run_job(import_id)

    record = api("GET", f"/v1/imports/{import_id}")["json"]
    assert record["status"] == "failed"
    assert error_part in record["error"]
    assert record["reportUri"] is None
    assert profile_store.find_consent(ProfileId("p-1")) is None


def test_an_addresses_file_with_profile_columns_fails(api: ApiCall, started: list[str]) -> None:
    record = imported(api, "uploads/bad.csv", lines(PROFILES_HEADER), kind="addresses")

    assert record["status"] == "failed"
    assert record["error"].startswith("unknown columns for an import of addresses: 'profile_id'")


def test_a_file_changed_after_the_post_fails_the_import(api: ApiCall, started: list[str]) -> None:
    uri = upload("uploads/profiles.csv", lines(PROFILES_HEADER, "p-1,,,,true,,"))
    import_id = post(api, uri)["json"]["importId"]
    upload("uploads/profiles.csv", lines(PROFILES_HEADER, "p-2,,,,true,,"))

    run_job(import_id)

    record = import_store.get(import_id)
    assert record.error is not None
    assert (record.status.value, "changed or deleted" in record.error) == ("failed", True)
    assert profile_store.find_consent(ProfileId("p-2")) is None
