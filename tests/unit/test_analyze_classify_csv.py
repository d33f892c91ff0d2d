"""The Classify step's loop (`analyze.classify.classify_lines`, which runs
`consentry.analysis.classify_csv` over blocks of lines) gives the reference's answer: the
audience's rows (`consentry.analysis.audience.rows`) with the classifier called per row, each
targeted row ending with the audience's line end. The
same target, the same exclusion log, the same counts, the same error, whatever the
blocks the audience is read in; for every channel, and audiences with quotes, fields
spanning lines, blank and blank-looking lines, LF, CRLF and CR line ends, padded and
mixed-case addresses."""

import csv
import io
import re
from collections.abc import Callable
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyze import classify as steps
from analyze.partition import partition_lines
from consentry.analysis.audience import Layout, RowPlace, layout_of, rows
from consentry.analysis.classifier import (
    TARGETED,
    VERDICTS,
    Rules,
    ShardClassifier,
    Suppression,
)
from consentry.analysis.classify_csv import CAUSE_NAMES, LOG_HEADER
from consentry.analysis.terms import AudienceError, CheckedAudience
from consentry.core.types import Channel, MessageClass

Result = tuple[str, str, list[int]]
"""The target, the exclusion log and the counts."""

EMAILS = [
    "a@example.com",
    "A@Example.COM",
    " b@example.org ",
    "b@example.org",
    "c@example.net",
    "d.e+f@example.com",
    "q@example.com",
    "x@example.com",
    "user@xn--bcher-kva.example",
    "user@Bücher.example",
    "üser@example.com",
    "a" * 64 + "@example.com",
    "a" * 65 + "@example.com",
    "bad",
    "a@@example.com",
    "x,y@example.com",
    '"q"@example.com',
    "",
    "   ",
]
PHONES = [
    "+31612345678",
    "06 12345678",
    "+1 415 555 0100",
    "+14155550100",
    "12",
    "",
    "x",
    "+1 800 356 9377",
    "+1 012 345 6789",
    "+9991234567890",
]
OTHERS = ["12 Main St", " token-1 ", "token-1", "", "  "]
ADDRESSES = {
    Channel.EMAIL: EMAILS,
    Channel.SMS: PHONES,
    Channel.PHONE: PHONES,
    Channel.DIRECT_MAIL: OTHERS,
    Channel.PUSH: OTHERS,
}
PROFILES = ["p1", "p2", "p3", " p4 ", "p5"]
NAMES = ["Ann", "Doe, Jane", 'Say "hi"', "two\nlines", ""]
QUOTED_PROFILES = ["p,6", 'p"7', "p\n8"]
SUPPRESSION = Suppression.of(
    opted_out={"p1"},
    denylisted={"x@example.com", "+31612345678"},
    quarantined={"q@example.com", "+14155550100"},
    subscribers={"p2", "p4", "p5"},
)


def cell(value: str) -> str:
    """A value as a CSV writer with minimal quoting writes it."""
    if any(char in value for char in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


@st.composite
def audiences(draw: st.DrawFn) -> tuple[str, Rules, bool]:
    channel = draw(st.sampled_from(list(Channel)))
    columns = draw(st.permutations(["profile_id", "address", "name"]))
    addresses = ADDRESSES[channel]
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    # Plan finds rows after a line feed: a file with CR line ends only is refused there,
    # so a lone CR can only end data rows after the header.
    lines = [",".join(columns) + ("\n" if newline == "\r" else newline)]
    for _ in range(draw(st.integers(0, 40))):
        if draw(st.integers(0, 19)) == 0:
            lines.append(draw(st.sampled_from(["", "  ", "\t", ",,"])) + newline)
            continue
        values = {
            "profile_id": draw(st.sampled_from(PROFILES + QUOTED_PROFILES)),
            "address": draw(st.sampled_from(addresses)),
            "name": draw(st.sampled_from(NAMES)),
        }
        lines.append(",".join(cell(values[column]) for column in columns) + newline)
    rules = Rules(
        channel,
        draw(st.sampled_from(list(MessageClass))),
        "NL",
        control_percent=draw(st.sampled_from([None, 40.0])),
        control_seed="seed",
        smtputf8=draw(st.booleans()),
        sms_any_number_type=draw(st.booleans()),
    )
    service = draw(st.booleans())
    return "".join(lines), rules, service


def logged(*row: *tuple[int, str, str, int]) -> str:
    """A log line as the csv module writes it."""
    number, profile_id, address, code = row
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(
        (number, profile_id, address, CAUSE_NAMES[code])
    )
    return buffer.getvalue()


def suppression(service: bool) -> Suppression:
    if service:
        return SUPPRESSION
    return Suppression(SUPPRESSION.opted_out, SUPPRESSION.blocked, None)


def reference(data: bytes, layout: Layout, start: int, rules: Rules, service: bool) -> Result:
    classifier = ShardClassifier(suppression(service), rules)
    counts = [0] * VERDICTS
    target, log = [layout.header_line], [LOG_HEADER]
    body = io.TextIOWrapper(io.BytesIO(data[start:]), encoding="utf-8-sig", newline="")
    number = 0
    for number, (row, profile_id, address) in enumerate(rows(body, layout, RowPlace()), 1):
        code = classifier(profile_id, address)
        if code:
            counts[code] += 1
            log.append(logged(number, profile_id, address.strip(), code))
        else:
            target.append(row.rstrip("\r\n") + layout.line_end)
    counts[TARGETED] = number - sum(counts)
    return "".join(target), "".join(log), counts


def fused(
    data: bytes, layout: Layout, start: int, rules: Rules, service: bool, *, hint: int
) -> Result:
    classifier = ShardClassifier(suppression(service), rules)
    counts = [0] * VERDICTS
    body = io.TextIOWrapper(io.BytesIO(data[start:]), encoding="utf-8-sig", newline="")
    log, target = io.StringIO(), io.StringIO()
    with mock.patch.object(steps, "READ_BLOCK", hint):
        steps.classify_lines(body, layout, classifier, counts, log=log, target=target)
    return target.getvalue(), log.getvalue(), counts


def outcome(compute: Callable[[], Result]) -> Result | str:
    try:
        return compute()
    except AudienceError as error:
        return str(error)


@settings(max_examples=400, deadline=None)
@given(audiences(), st.integers(1, 300))
def test_the_fused_loop_gives_the_reference_s_answer(
    audience: tuple[str, Rules, bool], hint: int
) -> None:
    text, rules, service = audience
    data = text.encode()
    layout, start = layout_of(CheckedAudience(uri="s3://b/a.csv"), data, len(data))
    expected = outcome(lambda: reference(data, layout, start, rules, service))
    assert outcome(lambda: fused(data, layout, start, rules, service, hint=hint)) == expected


@pytest.mark.parametrize(("smtputf8", "targeted"), [(False, 2), (True, 3)])
def test_the_loop_refuses_addresses_the_sender_cannot_deliver_to(
    smtputf8: bool, targeted: int
) -> None:
    """A local part past 64 characters is invalid; one with non-ASCII letters is invalid
    unless the sender supports SMTPUTF8; a Unicode domain is sent in IDNA form."""
    data = (
        "profile_id,address,name\n"
        f"p2,{'a' * 64}@example.com,Ann\n"
        f"p3,{'a' * 65}@example.com,Ann\n"
        "p4,üser@example.com,Ann\n"
        "p5,user@Bücher.example,Ann\n"
        "p6,user@xn--bcher-kva.example,Ann\n"
    ).encode()
    layout, start = layout_of(CheckedAudience(uri="s3://b/a.csv"), data, len(data))
    rules = Rules(Channel.EMAIL, MessageClass.TRANSACTIONAL, "NL", smtputf8=smtputf8)

    _, log, counts = fused(data, layout, start, rules, service=False, hint=64)

    assert counts[TARGETED] == targeted
    assert f"2,p3,{'a' * 65}@example.com,address_invalid\n" in log
    assert ("3,p4,üser@example.com,address_invalid\n" in log) is not smtputf8
    assert "5,p6,user@xn--bcher-kva.example,duplicate\n" in log


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("p1,a@example.com,Ann,extra\n", "row 2 has 4 fields, the header 3"),
        ("p1,a@example.com\n", "row 2 has 2 fields, the header 3"),
        (" ,a@example.com,Ann\n", "row 2 has no profile_id"),
        ('p1,"a@example.com,Ann\n', "row 2 is not valid CSV"),
    ],
)
def test_a_malformed_row_stops_the_loop_with_its_number(line: str, error: str) -> None:
    data = f"profile_id,address,name\np0,b@example.org,Bo\n{line}".encode()
    layout, start = layout_of(CheckedAudience(uri="s3://b/a.csv"), data, len(data))
    rules = Rules(Channel.EMAIL, MessageClass.MARKETING, "NL")
    with pytest.raises(AudienceError, match=error):
        fused(data, layout, start, rules, service=False, hint=1)


@pytest.mark.parametrize("bad_row", [1, 5, 5001])
def test_bytes_that_are_not_utf8_are_placed_at_or_before_their_row(bad_row: int) -> None:
    """The decoder reads ahead, so neither reader knows the row exactly: both name a
    row at or before the one with the bytes, in the same words."""
    rows_ = [f"p{n},a{n}@example.com,Ann\n".encode() for n in range(1, 6001)]
    rows_[bad_row - 1] = b"p0,b\xff@example.com,Ann\n"
    data = b"profile_id,address,name\n" + b"".join(rows_)
    layout, start = layout_of(CheckedAudience(uri="s3://b/a.csv"), data[:1024], len(data))
    rules = Rules(Channel.EMAIL, MessageClass.MARKETING, "NL")
    compute: Callable[[], Result]
    for compute in (
        lambda: reference(data, layout, start, rules, service=False),
        lambda: fused(data, layout, start, rules, service=False, hint=4096),
    ):
        with pytest.raises(AudienceError, match=r"or a row after it is not UTF-8 text") as raised:
            compute()
        found = re.search(r"row (\d+) or", str(raised.value))
        assert found is not None
        named = int(found.group(1))
        assert 1 <= named <= bad_row


CRLF_AUDIENCE = (
    b"profile_id,address,note\r\n"
    b"p1,a@example.com,plain\r\n"
    b'p2,b@example.com,"quoted, with a comma"\r\n'
    b"p3,c@example.com,plain\r\n"
    b'p4,d@example.com,"two\r\nlines"\r\n'
    b"p5,e@example.com,last without a line end"
)
CRLF_TARGET = (
    b"profile_id,address,note\r\n"
    b"p1,a@example.com,plain\r\n"
    b'p2,b@example.com,"quoted, with a comma"\r\n'
    b"p3,c@example.com,plain\r\n"
    b'p4,d@example.com,"two\r\nlines"\r\n'
    b"p5,e@example.com,last without a line end\r\n"
)


@pytest.mark.parametrize("hint", [1, 40, 4096])
def test_a_crlf_audience_s_target_has_crlf_line_ends_only(hint: int) -> None:
    """Rows copied as written and rows the csv module writes back end alike."""
    layout, start = layout_of(
        CheckedAudience(uri="s3://b/a.csv"), CRLF_AUDIENCE, len(CRLF_AUDIENCE)
    )
    rules = Rules(Channel.EMAIL, MessageClass.TRANSACTIONAL, "NL")

    target, _, counts = fused(CRLF_AUDIENCE, layout, start, rules, service=False, hint=hint)

    assert counts[TARGETED] == 5
    assert target.encode() == CRLF_TARGET


def test_an_lf_audience_s_target_has_lf_line_ends_only() -> None:
    data = b'profile_id,address,note\np1,a@example.com,"x"\r\np2,b@example.com,y\r\n'
    layout, start = layout_of(CheckedAudience(uri="s3://b/a.csv"), data, len(data))
    rules = Rules(Channel.EMAIL, MessageClass.TRANSACTIONAL, "NL")

    target, _, _ = fused(data, layout, start, rules, service=False, hint=4096)

    assert target.encode() == b"profile_id,address,note\np1,a@example.com,x\np2,b@example.com,y\n"


def partitioned(text: str, rules: Rules, service: bool, *, fuse: bool, hint: int) -> Result:
    """The rows of an audience as Partition writes them for one shard, classified by the
    partitioned Classify loop (`fuse`) or by the classifier per row: the targeted
    indexes, the log and the counts."""
    data = text.encode()
    layout, start = layout_of(CheckedAudience(uri="s3://b/a.csv"), data, len(data))
    body = io.TextIOWrapper(io.BytesIO(data[start:]), encoding="utf-8-sig", newline="")
    shard_file = io.StringIO(newline="")
    normalize = rules.normalizer()
    partition_lines(body, layout, normalize, [shard_file], RowPlace())
    shard_file.seek(0)
    classifier = ShardClassifier(suppression(service), rules)
    counts = [0] * VERDICTS
    log = io.StringIO()
    if fuse:
        with mock.patch.object(steps, "READ_BLOCK", hint):
            _, targeted = steps.classify_shard_input(shard_file, classifier, 7, counts, log)
        return ",".join(map(str, targeted)), log.getvalue(), counts
    marks = []
    for index, profile_id, address in csv.reader(shard_file):
        code = classifier(profile_id, address)
        if code:
            counts[code] += 1
            log.write(logged(7 + int(index), profile_id, address.strip(), code))
        else:
            marks.append(index)
    return ",".join(marks), log.getvalue(), counts


@settings(max_examples=300, deadline=None)
@given(audiences(), st.integers(1, 300))
def test_the_partitioned_loop_gives_the_reference_s_answer(
    audience: tuple[str, Rules, bool], hint: int
) -> None:
    text, rules, service = audience
    expected = outcome(lambda: partitioned(text, rules, service, fuse=False, hint=hint))
    assert outcome(lambda: partitioned(text, rules, service, fuse=True, hint=hint)) == expected
