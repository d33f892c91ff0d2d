"""How an import file's header and rows read: plain rules, no AWS."""

import re

import pytest

from consentry.addresses.status import AddressStatus
from consentry.core.types import Channel
from consentry.imports.rules import (
    PROFILE_COLUMNS,
    AddressRow,
    ImportCounts,
    ImportFileError,
    ImportKind,
    ProfileRow,
    RejectedRow,
    RowOutcome,
    import_id_of,
    parse_s3_uri,
    read_address_row,
    read_header,
    read_profile_row,
    row_values,
)

REGION = "NL"


def profile(**values: str) -> ProfileRow:
    return read_profile_row({"profile_id": "p-1", **values}, REGION)


def address(**values: str) -> AddressRow:
    row = {"channel": "email", "address": "a@example.com", "status": "quarantine", "reason": "r"}
    return read_address_row({**row, **values}, REGION)


def test_the_profiles_header_names_every_documented_column() -> None:
    assert ",".join(PROFILE_COLUMNS) == (
        "profile_id,locale,email,sms,phone,direct_mail,push,no_longer_contact_all,"
        "no_longer_contact_email,no_longer_contact_sms,no_longer_contact_phone,"
        "no_longer_contact_direct_mail,no_longer_contact_push"
    )


def test_header_names_are_trimmed_and_lower_cased_in_any_order() -> None:
    assert read_header(ImportKind.PROFILES, [" No_Longer_Contact_All", "PROFILE_ID "]) == (
        "no_longer_contact_all",
        "profile_id",
    )


@pytest.mark.parametrize(
    ("kind", "header", "message"),
    [
        (ImportKind.PROFILES, ["profile_id", "opted_out"], "unknown columns"),
        (ImportKind.PROFILES, ["profile_id", ""], "unknown columns"),
        (ImportKind.PROFILES, ["email"], "missing columns: profile_id"),
        (ImportKind.PROFILES, ["profile_id", "email", "Email"], "named twice: email"),
        (ImportKind.ADDRESSES, ["channel", "address", "status"], "missing columns: reason"),
        (ImportKind.ADDRESSES, ["profile_id", "channel"], "unknown columns"),
    ],
)
def test_a_header_that_cannot_be_read_fails_the_file(
    kind: ImportKind, header: list[str], message: str
) -> None:
    with pytest.raises(ImportFileError, match=message):
        read_header(kind, header)


@pytest.mark.parametrize(
    ("text", "flag"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        (" Yes ", True),
        ("false", False),
        ("0", False),
        ("no", False),
        ("No", False),
        ("", None),
        ("  ", None),
    ],
)
def test_flags_read_true_false_or_leave_unchanged(text: str, flag: bool | None) -> None:
    row = profile(no_longer_contact_all=text, no_longer_contact_sms=text)

    assert row.opt_out_all is flag
    assert row.opt_out == ({} if flag is None else {Channel.SMS: flag})


@pytest.mark.parametrize("text", ["maybe", "y", "2", "on"])
def test_any_other_flag_rejects_the_row_naming_the_column(text: str) -> None:
    with pytest.raises(RejectedRow, match=r"^no_longer_contact_push must be"):
        profile(no_longer_contact_push=text)


def test_addresses_are_normalized_and_empty_ones_left_out() -> None:
    row = profile(email=" Jane@Example.COM ", sms="06 1234 5678", phone="", push=" device-1 ")

    assert row.addresses == {
        Channel.EMAIL: "jane@example.com",
        Channel.SMS: "+31612345678",
        Channel.PUSH: "device-1",
    }


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"email": "nope"}, "invalid email address"),
        ({"phone": "12"}, "invalid phone address"),
        ({"profile_id": " "}, "profile_id is required"),
        ({"profile_id": "a b"}, "invalid profile_id"),
        ({"profile_id": "x" * 129}, "invalid profile_id"),
        ({"locale": "fr_FR"}, "invalid locale 'fr_FR'"),
    ],
)
def test_a_profile_row_with_a_bad_value_is_rejected_with_the_reason(
    values: dict[str, str], reason: str
) -> None:
    with pytest.raises(RejectedRow, match=f"^{re.escape(reason)}"):
        profile(**values)


def test_a_row_must_have_as_many_fields_as_the_header() -> None:
    with pytest.raises(RejectedRow, match="expected 2 fields, found 3"):
        row_values(("profile_id", "email"), ["p-1", "a@example.com", "extra"])


def test_an_address_row_reads_channel_status_and_reason() -> None:
    row = address(channel=" SMS ", address="06 1234 5678", status="Denylisted", reason=" STOP ")

    assert (row.channel, row.address, row.status, row.reason) == (
        Channel.SMS,
        "+31612345678",
        AddressStatus.DENYLISTED,
        "STOP",
    )


def test_an_imported_address_follows_the_sender_s_rules() -> None:
    """A suppression list's address has the key the analysis computes: IDNA domains, and
    non-ASCII local parts only with SMTPUTF8."""
    values = {"channel": "email", "status": "quarantine", "reason": "r"}
    unicode_local = {**values, "address": "Üser@Bücher.de"}

    assert address(address="a@Bücher.de").address == "a@xn--bcher-kva.de"
    with pytest.raises(RejectedRow, match=r"^invalid email address"):
        read_address_row(unicode_local, REGION)
    assert read_address_row(unicode_local, REGION, smtputf8=True).address == (
        "üser@xn--bcher-kva.de"
    )
    assert read_profile_row(
        {"profile_id": "p-1", "email": "Üser@x.de"}, REGION, smtputf8=True
    ).addresses == {Channel.EMAIL: "üser@x.de"}


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"channel": "fax"}, "channel must be one of"),
        ({"address": " "}, "address is required"),
        ({"address": "nope"}, "invalid email address"),
        ({"status": "erroneous"}, "status must be one of quarantine, denylisted"),
        ({"reason": " "}, "reason is required"),
        ({"reason": "x" * 501}, "reason is longer than 500 characters"),
    ],
)
def test_an_address_row_with_a_bad_value_is_rejected_with_the_reason(
    values: dict[str, str], reason: str
) -> None:
    with pytest.raises(RejectedRow, match=f"^{re.escape(reason)}"):
        address(**values)


def test_the_import_id_is_the_file_version_and_the_kind() -> None:
    same = import_id_of(ImportKind.PROFILES, "bucket", "list.csv", '"abc"')

    assert same == import_id_of(ImportKind.PROFILES, "bucket", "list.csv", "abc")
    assert same != import_id_of(ImportKind.PROFILES, "bucket", "list.csv", '"abd"')
    assert same != import_id_of(ImportKind.ADDRESSES, "bucket", "list.csv", '"abc"')
    assert same != import_id_of(ImportKind.PROFILES, "bucket", "list2.csv", '"abc"')


def test_an_s3_uri_splits_at_the_first_slash_after_the_bucket() -> None:
    assert parse_s3_uri("s3://bucket/a/b c.csv") == ("bucket", "a/b c.csv")


def test_counts_add_one_outcome_at_a_time() -> None:
    counts = ImportCounts(rows=3).add(RowOutcome.APPLIED).add(RowOutcome.REJECTED)

    assert counts == ImportCounts(rows=3, applied=1, rejected=1, unchanged=0)
