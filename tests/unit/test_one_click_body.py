"""Recognising the RFC 8058 one-click body in the encodings mailbox providers use."""

import pytest

from consentry.core.observability import mask_address
from landing.one_click import is_one_click_body

BOUNDARY = "----boundary42"


def multipart(name: str, value: str) -> bytes:
    return (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="{name}"\r\n\r\n'
        f"{value}\r\n"
        f"--{BOUNDARY}--\r\n"
    ).encode()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"List-Unsubscribe=One-Click", "application/x-www-form-urlencoded"),
        (b"List-Unsubscribe=One-Click", "application/x-www-form-urlencoded; charset=utf-8"),
        (b"List-Unsubscribe=One-Click", None),
        (multipart("List-Unsubscribe", "One-Click"), f"multipart/form-data; boundary={BOUNDARY}"),
    ],
)
def test_the_one_click_body_is_recognised(body: bytes, content_type: str | None) -> None:
    assert is_one_click_body(body, content_type)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"", "application/x-www-form-urlencoded"),
        (b"List-Unsubscribe=Yes", "application/x-www-form-urlencoded"),
        (
            b"List-Unsubscribe=One-Click&List-Unsubscribe=One-Click",
            "application/x-www-form-urlencoded",
        ),
        (b"unsubscribe", "application/x-www-form-urlencoded"),
        (b'{"List-Unsubscribe": "One-Click"}', "application/json"),
        (b"\xff\xfe", "application/x-www-form-urlencoded"),
        (multipart("Other", "One-Click"), f"multipart/form-data; boundary={BOUNDARY}"),
        (b"not multipart at all", f"multipart/form-data; boundary={BOUNDARY}"),
        (b"List-Unsubscribe=One-Click", "text/plain"),
    ],
)
def test_anything_else_is_not_a_one_click_body(body: bytes, content_type: str | None) -> None:
    assert not is_one_click_body(body, content_type)


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("jane.doe@example.com", "j***@example.com"),
        ("+31612345678", "+31*******78"),
        ("1234", "****"),
    ],
)
def test_addresses_are_masked_for_logs(address: str, masked: str) -> None:
    assert mask_address(address) == masked
