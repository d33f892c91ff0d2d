"""The deployment's data bucket: audiences and imports come in, targets, exclusion logs and
reports go out. The only module that talks to S3.

An object that is missing, or is no longer the version a reader pinned (its ETag), is
`ObjectGoneError`: the caller's problem, which no retry fixes (an analysis names it an
audience error, an import a file error). Anything else S3 answers is
`BucketUnavailableError`, transient. The S3 client is made at the first call, not at
cold start: most requests of a function never touch the bucket.
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import IO, TYPE_CHECKING, Any, cast

from botocore.exceptions import BotoCoreError, ClientError

from consentry.core.errors import BucketUnavailableError, ConsentryError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

READ_CHUNK = 1 << 20
"""Bytes read from S3 at a time when streaming."""
SINGLE_PUT_BYTES = 256 * 1024 * 1024
"""Files up to this size are written in one request (PutObject takes up to 5 GB):
every request is billed as one write, and multipart uploads of 8 MB parts made a
run's writes grow with its bytes (a 55 MB target part took nine)."""
PART_BYTES = 32 * 1024 * 1024
"""A part of a larger file; the transfer holds up to ten in memory at once."""
SPOOL_BYTES = 16 * 1024 * 1024
"""An output up to this size stays in memory; a larger one spills to /tmp."""
_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})
_CHANGED = frozenset({"PreconditionFailed", "412"})
_DENIED = frozenset({"403", "AccessDenied"})


class ObjectGoneError(ConsentryError):
    """The object is missing, unreadable to us, or no longer the version that was pinned."""

    def __init__(self, key: str, why: str) -> None:
        super().__init__(f"{key}: {why}")
        self.key = key
        self.why = why


class DataBucket:
    """One bucket, read and written by key."""

    def __init__(self, name: str, *, region: str, client: S3Client | None = None) -> None:
        self.name = name
        self._region = region
        if client is not None:
            self.client = client

    @cached_property
    def client(self) -> S3Client:
        import boto3  # noqa: PLC0415 (made when first needed, not at cold start)

        return boto3.client("s3", region_name=self._region)

    def uri(self, key: str) -> str:
        return f"s3://{self.name}/{key}"

    def head(self, key: str) -> tuple[int, str]:
        """The object's size and ETag."""
        with self._errors(key, "read"):
            head = self.client.head_object(Bucket=self.name, Key=key)
        return int(head["ContentLength"]), str(head["ETag"])

    @contextmanager
    def open_range(self, key: str, etag: str | None, start: int, end: int) -> Iterator[IO[bytes]]:
        """A binary stream of bytes [start, end) of the object (of its version `etag`)."""
        if end <= start:
            yield io.BytesIO()
            return
        byte_range = f"bytes={start}-{end - 1}"
        with self._errors(key, "read"):
            response = (
                self.client.get_object(Bucket=self.name, Key=key, Range=byte_range)
                if etag is None
                else self.client.get_object(
                    Bucket=self.name, Key=key, IfMatch=etag, Range=byte_range
                )
            )
        body = cast(IO[bytes], response["Body"])
        try:
            yield body
        except (BotoCoreError, OSError) as error:
            raise BucketUnavailableError(f"s3://{self.name}/{key}: {error}") from error
        finally:
            body.close()

    @contextmanager
    def open_text(
        self, key: str, etag: str | None = None, start: int = 0, end: int | None = None
    ) -> Iterator[IO[str]]:
        """Lines of the object (bytes [start, end) of version `etag`), UTF-8, newlines kept."""
        with self._open(key, etag, start, end) as body, _text(body) as text:
            yield text

    def read(self, key: str, etag: str | None, start: int, end: int) -> bytes:
        """Bytes [start, end) of the object (of its version `etag`)."""
        with self.open_range(key, etag, start, end) as body:
            return body.read()

    def blocks(self, key: str, etag: str, start: int, end: int) -> Iterator[bytes]:
        """Bytes [start, end) of the version `etag`, in blocks of READ_CHUNK."""
        with self.open_range(key, etag, start, end) as body:
            while block := body.read(READ_CHUNK):
                yield block

    def get_bytes(self, key: str) -> bytes:
        with self._errors(key, "read"):
            return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()

    def get_json(self, key: str) -> Any:
        return json.loads(self.get_bytes(key))

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        with self._errors(key, "write"):
            self.client.put_object(Bucket=self.name, Key=key, Body=data, ContentType=content_type)

    def put_json(self, key: str, document: Any) -> None:
        self.put_bytes(
            key, json.dumps(document, separators=(",", ":")).encode(), "application/json"
        )

    def upload(self, key: str, file: IO[bytes], content_type: str) -> None:
        """Write a (spooled) file whole: one request up to SINGLE_PUT_BYTES, in parts
        above."""
        from boto3.s3.transfer import TransferConfig  # noqa: PLC0415 (as the client)

        file.seek(0)
        with self._errors(key, "write"):
            self.client.upload_fileobj(
                file,
                self.name,
                key,
                ExtraArgs={"ContentType": content_type},
                Config=TransferConfig(
                    multipart_threshold=SINGLE_PUT_BYTES, multipart_chunksize=PART_BYTES
                ),
            )

    def list_keys(self, prefix: str) -> list[str]:
        """The keys under `prefix`, in name order."""
        with self._errors(prefix, "list"):
            return [
                item["Key"]
                for page in self.client.get_paginator("list_objects_v2").paginate(
                    Bucket=self.name, Prefix=prefix
                )
                for item in page.get("Contents", [])
            ]

    def delete(self, key: str) -> None:
        """Delete one object; one that is not there is no error."""
        with self._errors(key, "delete"):
            self.client.delete_object(Bucket=self.name, Key=key)

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under `prefix`; how many there were."""
        keys = self.list_keys(prefix)
        with self._errors(prefix, "delete"):
            for start in range(0, len(keys), 1000):
                batch: list[ObjectIdentifierTypeDef] = [
                    {"Key": key} for key in keys[start : start + 1000]
                ]
                self.client.delete_objects(
                    Bucket=self.name, Delete={"Objects": batch, "Quiet": True}
                )
        return len(keys)

    @contextmanager
    def _open(self, key: str, etag: str | None, start: int, end: int | None) -> Iterator[IO[bytes]]:
        if end is not None:
            with self.open_range(key, etag, start, end) as body:
                yield body
            return
        with self._errors(key, "read"):
            response = (
                self.client.get_object(Bucket=self.name, Key=key)
                if etag is None
                else self.client.get_object(Bucket=self.name, Key=key, IfMatch=etag)
            )
            body = cast(IO[bytes], response["Body"])
        try:
            yield body
        except (BotoCoreError, OSError) as error:
            raise BucketUnavailableError(f"s3://{self.name}/{key}: {error}") from error
        finally:
            body.close()

    @contextmanager
    def _errors(self, key: str, doing: str) -> Iterator[None]:
        try:
            yield
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in _MISSING:
                raise ObjectGoneError(key, "no such object") from error
            if code in _CHANGED:
                raise ObjectGoneError(key, "the object was changed or deleted") from error
            if code in _DENIED and doing == "read":
                raise ObjectGoneError(key, "access denied") from error
            raise BucketUnavailableError(f"{doing} s3://{self.name}/{key}: {error}") from error
        except BotoCoreError as error:
            raise BucketUnavailableError(f"{doing} s3://{self.name}/{key}: {error}") from error


class TextSpool:
    """A text file kept in memory, then /tmp, until it is uploaded whole."""

    def __init__(self) -> None:
        self._file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (closed by close)
        self.text = io.TextIOWrapper(self._file, encoding="utf-8", newline="")

    def upload(self, bucket: DataBucket, key: str, content_type: str) -> None:
        self.text.flush()
        bucket.upload(key, self._file, content_type)

    def close(self) -> None:
        self.text.close()


@contextmanager
def spools(count: int) -> Iterator[list[TextSpool]]:
    opened = [TextSpool() for _ in range(count)]
    try:
        yield opened
    finally:
        for spool in opened:
            spool.close()


def _text(body: IO[bytes]) -> io.TextIOWrapper:
    return io.TextIOWrapper(
        io.BufferedReader(cast(Any, body), READ_CHUNK), encoding="utf-8-sig", newline=""
    )
