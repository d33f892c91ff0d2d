"""The unit tier cannot reach the network, moto's server or AWS."""

from __future__ import annotations

import socket

import boto3
import pytest
from botocore.exceptions import HTTPClientError
from pytest_socket import SocketBlockedError


def test_a_unit_test_cannot_open_a_socket() -> None:
    with pytest.raises(SocketBlockedError):
        socket.create_connection(("127.0.0.1", 4566), timeout=1)


def test_a_unit_test_that_calls_aws_fails() -> None:
    client = boto3.client(
        "dynamodb",
        region_name="eu-west-1",
        endpoint_url="http://127.0.0.1:4566",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )

    with pytest.raises(HTTPClientError, match="A test tried to use socket"):
        client.list_tables()
