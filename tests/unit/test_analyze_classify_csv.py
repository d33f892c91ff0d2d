"""The Classify step's fused loop (`consentry.classify_csv`) gives the reference's
answer: the audience's rows (`consentry.audience.rows`) with the classifier called per
row. The same targeted rows as written, the same exclusion log, the same counts, the
same error, whatever the blocks the audience is read in; for audiences with quotes,
fields spanning lines, blank lines, CRLF line ends, padded and mixed-case addresses."""

import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry.analysis import Audience, AudienceError
from consentry.audience import RowPlace, layout_of, rows
from consentry.classifier import VERDICTS, Rules, ShardClassifier, Suppression
from consentry.classify_csv import CAUSE_NAMES, classify_csv
from consentry.types import Channel, MessageClass

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
    "bad",
    "a@@example.com",
    "x,y@example.com",
    '"q"@example.com',
    "",
    "   ",
]
PHONES = ["+31612345678", "06 12345678", "+1 415 555 0100", "+14155550100", "12", "", "x"]
PROFILES = ["p1", "p2", "p3", " p4 ", "p5"]
NAMES = ["Ann", "Doe, Jane", 'Say "hi"', "two\nlines", ""]
QUOTED_PROFILES = ["p,6", 'p"7', "p\n8"]
SUPPRESSION = Suppression.of(
    opted_out={"p1"},
    denylisted={"x@example.com", "+31612345678"},
    quarantined={"q@example.com", "+14155550100"},
    subscribers={"p2", "p4", "p5"},
)


def cell(value):
    """A value as a CSV writer with minimal quoting writes it."""
    if any(char in value for char in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


@st.composite
def audiences(draw):
    channel = draw(st.sampled_from([Channel.EMAIL, Channel.SMS]))
    columns = draw(st.permutations(["profile_id", "address", "name"]))
    addresses = EMAILS if channel is Channel.EMAIL else PHONES
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    lines = [",".join(columns) + newline]
    for _ in range(draw(st.integers(0, 40))):
        if draw(st.integers(0, 19)) == 0:
            lines.append(newline)  # a blank line
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
    )
    service = draw(st.booleans())
    return "".join(lines), rules, service


def logged(*row):
    """A log line as the csv module writes it."""
    number, profile_id, address, code = row
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(
        (number, profile_id, address, CAUSE_NAMES[code])
    )
    return buffer.getvalue()


def suppression(service):
    if service:
        return SUPPRESSION
    return Suppression(SUPPRESSION.opted_out, SUPPRESSION.blocked, None)


def reference(text, layout, start, rules, service):
    classifier = ShardClassifier(suppression(service), rules)
    counts = [0] * VERDICTS
    targeted, log = [], []
    body = io.StringIO(text[start:], newline="")
    for number, (row, profile_id, address) in enumerate(rows(body, layout, RowPlace()), 1):
        code = classifier(profile_id, address)
        if code:
            counts[code] += 1
            log.append(logged(number, profile_id, address.strip(), code))
        else:
            targeted.append(row)
    return targeted, log, counts


def fused(text, layout, start, rules, service, *, hint):
    classifier = ShardClassifier(suppression(service), rules)
    counts = [0] * VERDICTS
    targeted, log = [], []
    body = io.StringIO(text[start:], newline="")
    number = 0
    while block := body.readlines(hint):
        kept, excluded, count = classify_csv(
            block, body, layout, classifier, counts, rows_before=number, place=RowPlace()
        )
        targeted += kept
        log += excluded
        number += count
    return targeted, log, counts


def outcome(compute):
    try:
        return compute()
    except AudienceError as error:
        return str(error)


@settings(max_examples=400, deadline=None)
@given(audiences(), st.integers(1, 300))
def test_the_fused_loop_gives_the_reference_s_answer(audience, hint):
    text, rules, service = audience
    layout, start = layout_of(Audience(uri="s3://b/a.csv"), text.encode(), len(text.encode()))
    expected = outcome(lambda: reference(text, layout, start, rules, service))
    assert outcome(lambda: fused(text, layout, start, rules, service, hint=hint)) == expected


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("p1,a@example.com,Ann,extra\n", "row 2 has 4 fields, the header 3"),
        ("p1,a@example.com\n", "row 2 has 2 fields, the header 3"),
        (" ,a@example.com,Ann\n", "row 2 has no profile_id"),
        ('p1,"a@example.com,Ann\n', "row 2 is not valid CSV"),
    ],
)
def test_a_malformed_row_stops_the_loop_with_its_number(line, error):
    text = "profile_id,address,name\np0,b@example.org,Bo\n" + line
    layout, start = layout_of(Audience(uri="s3://b/a.csv"), text.encode(), len(text))
    rules = Rules(Channel.EMAIL, MessageClass.MARKETING, "NL")
    with pytest.raises(AudienceError, match=error):
        fused(text, layout, start, rules, service=False, hint=1)
