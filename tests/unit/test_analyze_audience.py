"""Reading audiences: CSV and JSONL rows, the header, malformed input, and the row starts
that Plan splits a CSV audience at."""

import csv
import io
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry.analysis.audience import (
    Layout,
    Row,
    RowCount,
    RowPlace,
    layout_of,
    most_rows,
    row_starts,
    rows,
    scan_segment,
    stitch,
)
from consentry.analysis.terms import AudienceError, AudienceFormat, CheckedAudience
from consentry.core.errors import InvalidInputError

CSV_AUDIENCE = CheckedAudience(uri="s3://b/a.csv")
JSONL_AUDIENCE = CheckedAudience(uri="s3://b/a.jsonl", format=AudienceFormat.JSONL)


def csv_rows(text: str, first_row: int = 1) -> list[Row]:
    data = text.encode()
    layout, start = layout_of(CSV_AUDIENCE, data, len(data))
    lines = io.StringIO(data[start:].decode(), newline="")
    return list(rows(lines, layout, RowPlace(first_row)))


def test_a_csv_row_keeps_its_text_and_names_its_profile_and_address() -> None:
    found = csv_rows("name,address,profile_id\nJane, j@x.com ,p1\n")

    assert found == [("Jane, j@x.com ,p1\n", "p1", " j@x.com ")]


def test_quoted_fields_may_hold_commas_quotes_and_newlines() -> None:
    text = 'profile_id,address,note\np1,a@x.com,"one, ""two""\nthree"\np2,b@x.com,plain\n'

    found = csv_rows(text)

    assert [(p, a) for _, p, a in found] == [("p1", "a@x.com"), ("p2", "b@x.com")]
    assert next(csv.reader(io.StringIO(found[0][0]))) == ["p1", "a@x.com", 'one, "two"\nthree']


def test_a_bom_crlf_line_ends_blank_lines_and_a_last_line_without_newline_are_read() -> None:
    text = "\ufeffprofile_id,address\r\np1,a@x.com\r\n\r\np2,b@x.com"

    found = csv_rows(text)

    assert [(p, a) for _, p, a in found] == [("p1", "a@x.com"), ("p2", "b@x.com")]
    assert found[1][0] == "p2,b@x.com"


def test_a_row_with_another_number_of_fields_is_an_error_naming_it() -> None:
    with pytest.raises(AudienceError, match="row 2 has 3 fields, the header 2"):
        csv_rows("profile_id,address\np1,a@x.com\np2,b@x.com,extra\n")


def test_a_row_without_a_profile_id_is_an_error() -> None:
    with pytest.raises(AudienceError, match="row 1 has no profile_id"):
        csv_rows("profile_id,address\n ,a@x.com\n")


def test_an_unclosed_quote_is_an_error() -> None:
    with pytest.raises(AudienceError, match="not valid CSV"):
        csv_rows('profile_id,address\np1,"a@x.com\n')


def test_a_header_without_the_named_column_names_the_field() -> None:
    data = b"profile_id,email\np1,a@x.com\n"

    with pytest.raises(InvalidInputError) as raised:
        layout_of(CSV_AUDIENCE, data, len(data))

    assert raised.value.field == "audience.addressField"
    assert "profile_id, email" in raised.value.message


def test_an_empty_file_has_no_header() -> None:
    with pytest.raises(AudienceError, match="empty"):
        layout_of(CSV_AUDIENCE, b"", 0)


def test_jsonl_rows_read_their_fields_and_a_missing_address_is_empty() -> None:
    text = '{"profile_id": "p1", "address": "a@x.com", "x": 1}\n\n{"profile_id": 7}\n'
    layout = Layout(AudienceFormat.JSONL, "profile_id", "address")

    found = list(rows(io.StringIO(text), layout, RowPlace()))

    assert [(p, a) for _, p, a in found] == [("p1", "a@x.com"), ("7", "")]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json\n", "row 1 is not valid JSON"),
        ("[1, 2]\n", "row 1 is not a JSON object"),
        ('{"address": "a@x.com"}\n', "row 1 has no profile_id"),
        ('{"profile_id": "p", "address": {"a": 1}}\n', "address must be a string"),
    ],
)
def test_malformed_jsonl_rows_are_errors(line: str, message: str) -> None:
    layout = Layout(AudienceFormat.JSONL, "profile_id", "address")

    with pytest.raises(AudienceError, match=message):
        list(rows(io.StringIO(line), layout, RowPlace()))


def test_jsonl_row_1_is_checked_before_anything_is_read() -> None:
    data = b'{"id": "p1"}\n'

    with pytest.raises(InvalidInputError, match="no field 'profile_id'"):
        layout_of(JSONL_AUDIENCE, data, len(data))


def test_rows_after_a_byte_offset_are_named_by_it() -> None:
    layout = Layout(AudienceFormat.CSV, "profile_id", "address", width=2, address_index=1)

    with pytest.raises(AudienceError, match="row 2 after byte 1000"):
        list(rows(io.StringIO("p1,a\np2\n"), layout, RowPlace(after_byte=1000)))


fields = st.text(alphabet='ab,"\n\r ', max_size=6)


@settings(max_examples=200, deadline=None)
@given(
    records=st.lists(st.lists(fields, min_size=2, max_size=2), max_size=15),
    targets=st.lists(st.integers(0, 400), max_size=6),
    block=st.integers(1, 50),
)
def test_row_starts_are_the_starts_of_csv_rows(
    records: list[list[str]], targets: list[int], block: int
) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(records)
    data = buffer.getvalue().encode()
    starts, offset = {0}, 0
    for record in records:
        line = io.StringIO()
        csv.writer(line, lineterminator="\n").writerow(record)
        offset += len(line.getvalue().encode())
        starts.add(offset)
    blocks = [data[i : i + block] for i in range(0, len(data), block)]
    targets = sorted(targets)

    found = row_starts(blocks, targets, quote_aware=True)

    assert len(found) == len(targets)
    for target, start in zip(targets, found, strict=True):
        assert start == min([s for s in starts if s >= target] + [len(data)])


@settings(max_examples=200, deadline=None)
@given(
    records=st.lists(st.lists(fields, min_size=2, max_size=2), max_size=15),
    block=st.integers(1, 50),
    last_line_end=st.booleans(),
)
def test_the_row_count_is_the_csv_rows_whatever_the_blocks(
    records: list[list[str]], block: int, last_line_end: bool
) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(records)
    data = buffer.getvalue().encode()
    if not last_line_end:
        data = data.removesuffix(b"\n")
    counted = RowCount(quote_aware=True)

    assert (
        b"".join(counted.through(data[i : i + block] for i in range(0, len(data), block))) == data
    )
    assert counted.rows == len(records)


def test_blank_lines_count_as_rows_and_the_smallest_rows_bound_the_count() -> None:
    data = b"p1,a\n\np2,b\n,\n"
    layout, _ = layout_of(CSV_AUDIENCE, b"profile_id,address\n", 19)
    counted = RowCount(quote_aware=True)
    list(counted.through([data]))

    assert counted.rows == 4
    assert most_rows(len(data), layout) >= counted.rows


@settings(max_examples=300, deadline=None)
@given(
    records=st.lists(st.lists(fields, min_size=2, max_size=2), max_size=15),
    cuts=st.lists(st.integers(1, 400), max_size=5),
    targets=st.lists(st.integers(-3, 420), max_size=8),
    block=st.integers(1, 50),
    last_line_end=st.booleans(),
)
def test_ranges_read_apart_and_stitched_count_and_cut_as_one_read(
    records: list[list[str]],
    cuts: list[int],
    targets: list[int],
    block: int,
    last_line_end: bool,
) -> None:
    """The Count map reads a large audience in ranges at once: whatever quoted fields and line
    ends a cut falls into, the stitched ranges give the whole read's count and edges."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(records)
    data = buffer.getvalue().encode()
    if not last_line_end:
        data = data.removesuffix(b"\n")
    targets = sorted(targets)
    edges = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    scans = []
    for start, end in itertools.pairwise(edges):
        mine = [t for t in targets if start <= t - 1 < end]
        blocks = [data[i : min(i + block, end)] for i in range(start, end, block)]
        scans.append(scan_segment(blocks, start, mine, quote_aware=True))
    counted = RowCount(quote_aware=True)
    whole = row_starts(
        counted.through(data[i : i + block] for i in range(0, len(data), block)),
        targets,
        quote_aware=True,
    )

    assert stitch(scans, targets, len(data)) == (counted.rows, whole)
