"""The local stack's outbox: what moto's SES holds, copied to a JSON-lines file."""

import json
from pathlib import Path

import boto3
from moto import mock_aws

from infra.local.outbox import Outbox
from tests.conftest import REGION


def test_each_sent_email_is_appended_once(tmp_path: Path) -> None:
    with mock_aws():
        ses = boto3.client("ses", region_name=REGION)
        ses.verify_email_identity(EmailAddress="no-reply@example.com")
        outbox = Outbox(REGION, tmp_path / "outbox.jsonl")
        outbox.start()
        outbox.stop()  # copies what is left, and nothing runs on
        for subject in ("one", "two"):
            ses.send_email(
                Source="no-reply@example.com",
                Destination={"ToAddresses": ["reader@example.org"]},
                Message={
                    "Subject": {"Data": subject},
                    "Body": {"Text": {"Data": "plain"}, "Html": {"Data": "<p>html</p>"}},
                },
            )

        copied = outbox.copy(), outbox.copy()

    lines = (tmp_path / "outbox.jsonl").read_text().splitlines()
    assert copied == (2, 0)
    assert [json.loads(line)["subject"] for line in lines] == ["one", "two"]
    assert json.loads(lines[0])["to"] == ["reader@example.org"]
    assert json.loads(lines[0])["body"] == "<p>html</p>"
