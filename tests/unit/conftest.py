"""Unit tests are pure rules: no network, no moto. Every socket is refused while one runs,
so a test that reaches AWS, moto's server or anything else fails instead of passing
slowly (tests that need moto are integration tests)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_socket import disable_socket, enable_socket


@pytest.fixture(autouse=True)
def no_network() -> Iterator[None]:
    disable_socket(allow_unix_socket=False)
    yield
    enable_socket()
