"""`consentry ses-import`: SES's account-level suppression list into Consentry, once,
as a migration path.

Pages ListSuppressedDestinations, writes one address import (docs: POST /v1/imports,
kind `addresses`): a bounce quarantines the address, a complaint denylists it. The
file is named by its content, so running the command again with the list unchanged
is the same import (the API answers the first one), and applying a status an address
already has changes nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from consentry_cli.stack import Stack

POLL_S = 0.5
TIMEOUT_S = 900
STATUSES = {"BOUNCE": "quarantine", "COMPLAINT": "denylisted"}
"""What each SES suppression reason becomes in Consentry."""


class ImportFailedError(Exception):
    pass


def suppressed(ses: Any) -> Iterator[tuple[str, str]]:
    """Every (address, reason) of the account's suppression list, page by page."""
    token: str | None = None
    while True:
        page = ses.list_suppressed_destinations(**({"NextToken": token} if token else {}))
        for summary in page.get("SuppressedDestinationSummaries", []):
            yield summary["EmailAddress"], summary["Reason"]
        token = page.get("NextToken")
        if not token:
            return


def import_file(entries: Iterator[tuple[str, str]]) -> bytes:
    """The address import, one row per address, in a stable order."""
    rows = sorted(
        {(address.strip().lower(), reason) for address, reason in entries if reason in STATUSES}
    )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("channel", "address", "status", "reason"))
    for address, reason in rows:
        writer.writerow(("email", address, STATUSES[reason], f"SES suppression list ({reason})"))
    return out.getvalue().encode()


@dataclass(frozen=True)
class Api:
    """The stack's /v1 API; requests are signed (IAM) when the stack is deployed."""

    url: str
    region: str | None
    sign: bool

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        request = AWSRequest(method=method, url=f"{self.url}{path}", data=data, headers=headers)
        if self.sign:
            credentials = boto3.Session().get_credentials()
            if credentials is None:
                raise ImportFailedError("no AWS credentials to sign the API's requests with")
            SigV4Auth(credentials, "execute-api", self.region or "us-east-1").add_auth(request)
        prepared = urllib.request.Request(  # noqa: S310 (the stack's own https URL)
            str(request.url), data=data, headers=dict(request.headers.items()), method=method
        )
        with urllib.request.urlopen(prepared, timeout=60) as response:  # noqa: S310
            return json.loads(response.read())


def run(stack: Stack, ses: Any, api: Api, out: IO[str]) -> dict[str, Any]:
    """Import the suppression list; the import as GET /v1/imports/{id} answers it."""
    body = import_file(suppressed(ses))
    key = f"imports/ses-suppression-{hashlib.sha256(body).hexdigest()[:16]}.csv"
    stack.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=body)
    started = api.call(
        "POST", "/v1/imports", {"uri": f"s3://{stack.bucket}/{key}", "kind": "addresses"}
    )
    import_id = started["importId"]
    addresses = len(body.splitlines()) - 1
    print(f"import {import_id}: {addresses} addresses", file=out)
    deadline = time.monotonic() + TIMEOUT_S
    while (record := api.call("GET", f"/v1/imports/{import_id}"))["status"] not in (
        "done",
        "failed",
    ):
        if time.monotonic() > deadline:
            raise ImportFailedError(f"import {import_id} still {record['status']}")
        time.sleep(POLL_S)
    if record["status"] == "failed":
        raise ImportFailedError(f"import {import_id} failed: {record.get('error')}")
    counts = record["counts"]
    print(
        f"applied={counts['applied']} unchanged={counts['unchanged']} "
        f"rejected={counts['rejected']}",
        file=out,
    )
    return dict(record)


def main_ses_import(stack: Stack, *, ses: Any = None, out: IO[str] = sys.stdout) -> int:
    if stack.api_url is None:
        print("consentry: the stack has no ApiUrl output", file=sys.stderr)
        return 2
    api = Api(stack.api_url, stack.region, sign=stack.endpoint_url is None)
    client = ses or boto3.client("sesv2", region_name=stack.region)
    try:
        run(stack, client, api, out)
    except ImportFailedError as error:
        print(f"consentry: {error}", file=sys.stderr)
        return 1
    return 0
