"""Address normalization: the fast path agrees with the libraries."""

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from consentry.addresses import normalize as n
from consentry.core.types import Channel


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("  Jane.Doe@Example.COM ", "jane.doe@example.com"),
        ("a@b.co", "a@b.co"),
        ("user+tag@sub.example.org", "user+tag@sub.example.org"),
        ("a@xn--bcher-kva.de", "a@bücher.de"),
        ("Ä@x.de", "ä@x.de"),
    ],
)
def test_emails_are_normalized(raw: str, normal: str) -> None:
    assert n.normalize_email(raw) == normal


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "plain",
        "a@example",
        "a..b@x.com",
        ".a@x.com",
        "a@-x.com",
        "a@x.123",
        "a@foo.test",
        "a@localhost",
        '"q"@x.com',
        "a@[1.2.3.4]",
        "a@x.com.",
        "a@b@c.com",
    ],
)
def test_non_emails_are_refused(raw: str) -> None:
    assert n.normalize_email(raw) is None


@given(
    st.emails()
    | st.text(max_size=40)
    | st.from_regex(r"[A-Za-z0-9.+_-]{1,20}@[A-Za-z0-9.-]{1,20}\.[a-z]{2,5}", fullmatch=True)
)
@example("a@xn--80ak6aa92e.com")
@example("A@B.LOCAL")
def test_the_fast_path_gives_the_same_answer_as_email_validator(raw: str) -> None:
    assert n.normalize_email(raw) == n._validated_email.__wrapped__(raw.strip().lower())


@pytest.mark.parametrize(
    ("raw", "region", "normal"),
    [
        ("+31612345678", "US", "+31612345678"),
        (" +31 6 1234 5678 ", "US", "+31612345678"),
        ("06 12345678", "NL", "+31612345678"),
        ("(202) 555-0143", "US", "+12025550143"),
        ("+44 20 7946 0958", "NL", "+442079460958"),
    ],
)
def test_phones_are_normalized_to_e164(raw: str, region: str, normal: str) -> None:
    assert n.normalize_phone(raw, region) == normal


@pytest.mark.parametrize("raw", ["", "abc", "12", "+0123456789", "0612345678901234567", "+31 6"])
def test_non_phones_are_refused(raw: str) -> None:
    assert n.normalize_phone(raw, "NL") is None


@given(st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True))
def test_e164_input_is_kept_as_it_is(raw: str) -> None:
    assert n.normalize_phone(raw, "US") == raw


def test_each_channel_has_its_rule() -> None:
    assert n.normalize(Channel.EMAIL, "A@B.CO", "US") == "a@b.co"
    assert n.normalize(Channel.SMS, "06 12345678", "NL") == "+31612345678"
    assert n.normalize(Channel.PHONE, "nope", "NL") is None
    assert n.normalize(Channel.PUSH, " device-token ", "NL") == "device-token"
    assert n.normalize(Channel.DIRECT_MAIL, "  ", "NL") is None
