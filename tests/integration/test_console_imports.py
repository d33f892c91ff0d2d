"""/console/imports: the imports with their progress, and each one's report, read a
bounded part at a time, on /v1's imports logic."""

from __future__ import annotations

import re

import boto3
import pytest

from consent.logic import import_run, imports
from consent.logic.import_run import ImportRun
from consentry.core.bucket import DataBucket
from consentry.core.clock import utc_now
from consentry.core.settings import get_settings
from consentry.imports import import_store
from consentry.imports.rules import ImportKind, ImportRecord, ImportStatus, import_id_of
from tests.conftest import REGION
from tests.integration.console_support import ConsoleClient

HEADER = (
    "profile_id,locale,email,sms,no_longer_contact_all,no_longer_contact_email,"
    "no_longer_contact_sms"
)


def bucket() -> DataBucket:
    settings = get_settings()
    return DataBucket(settings.data_bucket, region=settings.aws_region)


def queued(key: str, text: str) -> str:
    """An import of `text` as the API queues it: its id."""
    data = bucket()
    boto3.client("s3", region_name=REGION).put_object(Bucket=data.name, Key=key, Body=text.encode())
    _, etag = data.head(key)
    now = utc_now()
    import_id = import_id_of(ImportKind.PROFILES, data.name, key, etag)
    import_store.create(
        ImportRecord(
            import_id=import_id,
            kind=ImportKind.PROFILES,
            bucket=data.name,
            key=key,
            etag=etag,
            status=ImportStatus.QUEUED,
            created_at=now,
            updated_at=now,
        )
    )
    return import_id


def ran(key: str, text: str) -> str:
    import_id = queued(key, text)
    import_run.run(import_id, ImportRun(bucket=bucket(), default_region="NL"))
    return import_id


ROWS = "\n".join([HEADER, "p-import-1,,,,true,,", "p-import-2,,,,maybe,,", "p-import-3,,,,,true,"])


@pytest.fixture
def with_imports(seeded: ConsoleClient) -> tuple[ConsoleClient, str, str]:
    done = ran("uploads/console.csv", ROWS + "\n")
    waiting = queued("uploads/later.csv", HEADER + "\np-later,,,,true,,\n")
    return seeded, done, waiting


def test_the_imports_list_each_import_with_its_progress(
    with_imports: tuple[ConsoleClient, str, str],
) -> None:
    console, done, waiting = with_imports
    console.sign_in("watcher")

    body = console.get("/console/imports")["body"]

    assert f'href="/console/imports/{done}"' in body
    assert f'href="/console/imports/{waiting}"' in body
    assert "3 of 3 rows" in body


def test_an_import_shows_its_report_with_the_rejected_rows_reason(
    with_imports: tuple[ConsoleClient, str, str],
) -> None:
    console, done, _ = with_imports
    console.sign_in("watcher")

    body = console.get(f"/console/imports/{done}")["body"]

    assert '<td class="num">3</td><td>rejected</td>' in body
    assert re.search(r'<td class="num">3</td><td>rejected</td><td>[^<]+</td>', body)
    assert '<td class="num">2</td><td>applied</td>' in body


def test_a_queued_import_has_no_report_yet(
    with_imports: tuple[ConsoleClient, str, str],
) -> None:
    console, _, waiting = with_imports
    console.sign_in("watcher")

    body = console.get(f"/console/imports/{waiting}")["body"]

    assert "The report is written once the rows have been applied." in body


def test_only_the_first_bytes_of_a_report_are_read_and_only_whole_rows_shown(
    with_imports: tuple[ConsoleClient, str, str],
) -> None:
    _, done, _ = with_imports

    head = imports.report_head(imports.get(done), bucket(), max_bytes=40)

    assert head is not None
    assert not head.complete
    assert [row[:2] for row in head.rows] == [("2", "applied")]


def test_an_expired_report_reads_as_none(with_imports: tuple[ConsoleClient, str, str]) -> None:
    _, done, _ = with_imports
    key = imports.get(done).report_uri
    assert key is not None
    boto3.client("s3", region_name=REGION).delete_object(
        Bucket=bucket().name, Key=key.partition(bucket().name + "/")[2]
    )

    assert imports.report_head(imports.get(done), bucket(), max_bytes=40) is None


@pytest.mark.parametrize(
    "path",
    ["/console/imports/0123456789abcdef", "/console/imports/%00", "/console/imports/" + "i" * 65],
)
def test_an_unknown_import_is_a_404_page(
    with_imports: tuple[ConsoleClient, str, str], path: str
) -> None:
    console, _, _ = with_imports
    console.sign_in("watcher")

    assert console.get(path)["statusCode"] == 404


def test_without_a_session_the_import_pages_send_to_the_sign_in_page(
    with_imports: tuple[ConsoleClient, str, str],
) -> None:
    console, done, _ = with_imports

    for path in ("/console/imports", f"/console/imports/{done}"):
        assert console.get(path)["statusCode"] in (302, 303, 401), path
