"""S3 for the analysis: the audience (read, pinned to the ETag Plan saw), the run's own
objects (written whole), and the errors that say which side failed.

An audience that is missing or changed is the caller's problem (AudienceError, not
retried); anything else S3 answers is transient (StoreUnavailableError, retried by
the state machine).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import IO, TYPE_CHECKING, Any, cast

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from consentry.analysis.contract import AudienceError, IncompleteAnalysisError
from consentry.core.errors import StoreUnavailableError
from consentry.core.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

READ_CHUNK = 1 << 20
"""Bytes read from S3 at a time when streaming."""
_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})
_CHANGED = frozenset({"PreconditionFailed", "412"})


@lru_cache(maxsize=1)
def s3() -> S3Client:
    return boto3.client("s3", region_name=get_settings().aws_region)


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def head_audience(bucket: str, key: str) -> tuple[int, str]:
    """The audience's size and ETag."""
    try:
        head = s3().head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if _code(error) in _MISSING:
            raise AudienceError(f"no object s3://{bucket}/{key}") from error
        if _code(error) in {"403", "AccessDenied"}:
            raise AudienceError(f"s3://{bucket}/{key} cannot be read: access denied") from error
        raise StoreUnavailableError(f"the audience could not be read: {error}") from error
    except BotoCoreError as error:
        raise StoreUnavailableError(f"the audience could not be read: {error}") from error
    return int(head["ContentLength"]), str(head["ETag"])


def read_audience(bucket: str, key: str, etag: str, start: int, end: int) -> bytes:
    """Bytes [start, end) of the audience, as it was when the analysis began."""
    if end <= start:
        return b""
    with open_audience(bucket, key, etag, start, end) as body:
        return body.read()


@contextmanager
def open_audience(bucket: str, key: str, etag: str, start: int, end: int) -> Iterator[IO[bytes]]:
    """A binary stream of bytes [start, end) of the audience."""
    if end <= start:
        yield io.BytesIO()
        return
    try:
        response = s3().get_object(
            Bucket=bucket, Key=key, IfMatch=etag, Range=f"bytes={start}-{end - 1}"
        )
    except ClientError as error:
        if _code(error) in _CHANGED | _MISSING:
            raise AudienceError(
                "the audience was changed or deleted after the analysis started; start it again"
            ) from error
        raise StoreUnavailableError(f"the audience could not be read: {error}") from error
    except BotoCoreError as error:
        raise StoreUnavailableError(f"the audience could not be read: {error}") from error
    body = cast(IO[bytes], response["Body"])
    try:
        yield body
    except (BotoCoreError, OSError) as error:
        raise StoreUnavailableError(f"the audience could not be read: {error}") from error
    finally:
        body.close()


@contextmanager
def open_text(bucket: str, key: str, etag: str, start: int, end: int) -> Iterator[IO[str]]:
    """Lines of bytes [start, end) of the audience, decoded as UTF-8, newlines kept."""
    with (
        open_audience(bucket, key, etag, start, end) as body,
        io.TextIOWrapper(
            io.BufferedReader(cast(Any, body), READ_CHUNK), encoding="utf-8-sig", newline=""
        ) as text,
    ):
        yield text


def blocks(bucket: str, key: str, etag: str, start: int, end: int) -> Iterator[bytes]:
    """The audience's bytes [start, end) in blocks of READ_CHUNK."""
    with open_audience(bucket, key, etag, start, end) as body:
        while block := body.read(READ_CHUNK):
            yield block


def get_bytes(bucket: str, key: str) -> bytes:
    """One of the run's own objects: missing, it is a step that did not finish."""
    try:
        return s3().get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        if _code(error) in _MISSING:
            raise IncompleteAnalysisError(f"s3://{bucket}/{key} is missing") from error
        raise StoreUnavailableError(f"s3://{bucket}/{key} could not be read: {error}") from error
    except BotoCoreError as error:
        raise StoreUnavailableError(f"s3://{bucket}/{key} could not be read: {error}") from error


@contextmanager
def open_object(bucket: str, key: str) -> Iterator[IO[str]]:
    """Lines of one of the run's own text objects."""
    try:
        body = s3().get_object(Bucket=bucket, Key=key)["Body"]
    except (ClientError, BotoCoreError) as error:
        raise StoreUnavailableError(f"s3://{bucket}/{key} could not be read: {error}") from error
    with io.TextIOWrapper(
        io.BufferedReader(cast(Any, body), READ_CHUNK), encoding="utf-8", newline=""
    ) as text:
        yield text


def get_json(bucket: str, key: str) -> Any:
    return json.loads(get_bytes(bucket, key))


def put_bytes(bucket: str, key: str, data: bytes, content_type: str) -> None:
    try:
        s3().put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)
    except (ClientError, BotoCoreError) as error:
        raise StoreUnavailableError(f"s3://{bucket}/{key} could not be written: {error}") from error


def put_json(bucket: str, key: str, document: Any) -> None:
    put_bytes(bucket, key, json.dumps(document, separators=(",", ":")).encode(), "application/json")


def upload(bucket: str, key: str, file: IO[bytes], content_type: str) -> None:
    """Write a (spooled) file whole, in parts when it is large."""
    file.seek(0)
    try:
        s3().upload_fileobj(file, bucket, key, ExtraArgs={"ContentType": content_type})
    except (ClientError, BotoCoreError) as error:
        raise StoreUnavailableError(f"s3://{bucket}/{key} could not be written: {error}") from error


def list_keys(bucket: str, prefix: str) -> list[str]:
    """The keys under `prefix`, in name order."""
    try:
        return [
            item["Key"]
            for page in s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for item in page.get("Contents", [])
        ]
    except (ClientError, BotoCoreError) as error:
        raise StoreUnavailableError(
            f"s3://{bucket}/{prefix} could not be listed: {error}"
        ) from error


def delete_prefix(bucket: str, prefix: str) -> int:
    """Delete every object under `prefix`; how many there were."""
    keys = list_keys(bucket, prefix)
    try:
        for start in range(0, len(keys), 1000):
            batch: list[ObjectIdentifierTypeDef] = [
                {"Key": key} for key in keys[start : start + 1000]
            ]
            s3().delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
    except (ClientError, BotoCoreError) as error:
        raise StoreUnavailableError(
            f"s3://{bucket}/{prefix} could not be removed: {error}"
        ) from error
    return len(keys)
