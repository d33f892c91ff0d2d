"""The classify loop over the lines of a CSV shard: parse, normalize, classify, sort.

This is `consentry.analysis.audience.rows` and `ShardClassifier.__call__` in one loop, without a
call per row: the one place where the analysis of a one-shard audience spends its time
per row. A plain line (no quote, as many fields as the header) is split here; any other
line goes to `consentry.analysis.audience.irregular_row`. An email address in normal form takes
the same fast path as `consentry.addresses.normalize.normalize_email`, inline; any other address
goes to the classifier's normalizer. The loop reads the classifier's sets, so a change
to the rules in `ShardClassifier.__call__` is a change here too: a property test holds
the two together on generated audiences.

Lines must come from a text stream opened with newline="" (as `rows` wants them): then
a line holds no line end but its last.

`classify_partition_csv` is the same loop over the rows Partition wrote for a shard of
a partitioned run: a row's number comes from its index in its chunk, and a targeted row
is marked by that index rather than copied.
"""

from __future__ import annotations

import csv
import io
import itertools
from array import array
from collections.abc import Iterable, Iterator

from consentry.addresses.normalize import LOCAL_PART, MAX_LOCAL_PART, PLAIN_DOMAINS, plain_domain
from consentry.analysis.audience import Layout, RowPlace, irregular_row
from consentry.analysis.classifier import (
    ADDRESS_INVALID,
    ADDRESS_MISSING,
    CAUSES,
    CONTROL_GROUP,
    DUPLICATE,
    NOT_SUBSCRIBED,
    PROFILE_OPTED_OUT,
    ShardClassifier,
)
from consentry.analysis.terms import AudienceError

CAUSE_NAMES = ("", *(cause.value for cause in CAUSES))
"""The name of verdict n, as the exclusion log writes it."""
LOG_HEADER = "row,profile_id,address,cause\n"
PARTITION_FIELDS = 3
"""A row as Partition writes it: index in the chunk, profile id, address."""


def log_line(number: int, profile_id: str, address: str, code: int) -> str:
    """One line of the exclusion log, as the csv module writes it."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(
        (number, profile_id, address, CAUSE_NAMES[code])
    )
    return buffer.getvalue()


def classify_csv(  # noqa: PLR0912, PLR0915 (one loop on purpose: see the module doc)
    lines: Iterable[str],
    more: Iterator[str],
    layout: Layout,
    classifier: ShardClassifier,
    counts: list[int],
    *,
    rows_before: int,
    place: RowPlace,
) -> tuple[list[str], list[str], int]:
    """Classify `lines`, data rows of a CSV audience after its first `rows_before` rows;
    `more` yields the lines after them (a quoted field may span lines). A row's number
    in the log is its place in the audience, from 1.

    Returns the targeted rows (as written, or as the csv module writes a row with
    quotes back), the exclusion log's lines, and the number of rows; adds each excluded
    row to `counts` under its verdict.

    A log line is formatted here when that text of the row has no quote: then none of
    its fields has a comma, a quote or a line end, and the csv module would write the
    same; any other row goes through `log_line`.
    """
    width, profile_index, address_index = layout.width, layout.profile_index, layout.address_index
    email, normalize = classifier.email, classifier.normalize
    blocked, opted_out, subscribers = (
        classifier.blocked.get,
        classifier.opted_out,
        classifier.subscribers,
    )
    seen, in_control = classifier.seen, classifier.in_control
    see = seen.add
    domain_known, local_plain = PLAIN_DOMAINS.get, LOCAL_PART.fullmatch
    targeted: list[str] = []
    keep = targeted.append
    excluded: list[str] = []
    log = excluded.append
    number = rows_before
    rest = iter(lines)
    following = itertools.chain(rest, more)
    for line in rest:
        if '"' in line or len(fields := line.split(",")) != width:
            row = irregular_row(line, following, layout, place, number)
            if row is None:
                continue
            line, profile_id, raw = row  # noqa: PLW2901 (the row as written back)
        else:
            profile_id = fields[profile_index].strip()
            if not profile_id:
                raise AudienceError(f"{place.name(number)} has no {layout.profile_field}")
            raw = fields[address_index]
        number += 1
        if email:
            address = raw.strip().lower()
            local, at, domain = address.partition("@")
            if not (
                at
                and (domain_known(domain) or plain_domain(domain))
                and len(local) <= MAX_LOCAL_PART
                and local_plain(local)
            ):
                normal = normalize(address) if address else None
                if normal is None:
                    code = ADDRESS_INVALID if address else ADDRESS_MISSING
                    counts[code] += 1
                    log(log_line(number, profile_id, raw.strip(), code))
                    continue
                address = normal
        else:
            trimmed = raw.strip()
            normal = normalize(trimmed) if trimmed else None
            if normal is None:
                code = ADDRESS_INVALID if trimmed else ADDRESS_MISSING
                counts[code] += 1
                log(log_line(number, profile_id, trimmed, code))
                continue
            address = normal
        if address in seen:  # blocked, or held by an earlier row
            code = blocked(address, 0)
            if not code:
                if profile_id in opted_out:
                    code = PROFILE_OPTED_OUT
                elif subscribers is not None and profile_id not in subscribers:
                    code = NOT_SUBSCRIBED
                else:
                    code = DUPLICATE
        elif profile_id in opted_out:
            code = PROFILE_OPTED_OUT
        elif subscribers is not None and profile_id not in subscribers:
            code = NOT_SUBSCRIBED
        else:
            see(address)
            if in_control is None or not in_control(address):
                keep(line)
                continue
            code = CONTROL_GROUP
        counts[code] += 1
        if '"' in line:
            log(log_line(number, profile_id, raw.strip(), code))
        else:
            log(f"{number},{profile_id},{raw.strip()},{CAUSE_NAMES[code]}\n")
    return targeted, excluded, number - rows_before


def classify_partition_csv(  # noqa: PLR0912, PLR0915 (one loop on purpose: see the module doc)
    lines: Iterable[str],
    more: Iterator[str],
    classifier: ShardClassifier,
    counts: list[int],
    *,
    first_row: int,
    targeted: array[int],
) -> tuple[list[str], int]:
    """The same loop over one chunk's rows of a shard, as Partition wrote them: `index in
    the chunk,profile id,address as written` (the csv module's quoting; the profile id
    trimmed). `more` yields the lines after `lines`; the chunk's first row is row
    `first_row` of the audience.

    Appends the index of each targeted row to `targeted`; returns the exclusion log's
    lines and the number of rows. Rule for rule the loop of `classify_csv`, which a
    property test holds it to."""
    email, normalize = classifier.email, classifier.normalize
    blocked, opted_out, subscribers = (
        classifier.blocked.get,
        classifier.opted_out,
        classifier.subscribers,
    )
    seen, in_control = classifier.seen, classifier.in_control
    see = seen.add
    domain_known, local_plain = PLAIN_DOMAINS.get, LOCAL_PART.fullmatch
    mark = targeted.append
    excluded: list[str] = []
    log = excluded.append
    count = 0
    rest = iter(lines)
    following = itertools.chain(rest, more)
    for line in rest:
        if '"' in line or len(fields := line.split(",")) != PARTITION_FIELDS:
            fields = next(csv.reader(itertools.chain([line], following), strict=True))
            index, profile_id, raw = fields
            quoted = True
        else:
            index, profile_id, raw = fields
            raw = raw[:-1] if raw[-1:] == "\n" else raw
            quoted = False
        count += 1
        if email:
            address = raw.strip().lower()
            local, at, domain = address.partition("@")
            if not (
                at
                and (domain_known(domain) or plain_domain(domain))
                and len(local) <= MAX_LOCAL_PART
                and local_plain(local)
            ):
                normal = normalize(address) if address else None
                if normal is None:
                    code = ADDRESS_INVALID if address else ADDRESS_MISSING
                    counts[code] += 1
                    log(log_line(first_row + int(index), profile_id, raw.strip(), code))
                    continue
                address = normal
        else:
            trimmed = raw.strip()
            normal = normalize(trimmed) if trimmed else None
            if normal is None:
                code = ADDRESS_INVALID if trimmed else ADDRESS_MISSING
                counts[code] += 1
                log(log_line(first_row + int(index), profile_id, trimmed, code))
                continue
            address = normal
        if address in seen:  # blocked, or held by an earlier row
            code = blocked(address, 0)
            if not code:
                if profile_id in opted_out:
                    code = PROFILE_OPTED_OUT
                elif subscribers is not None and profile_id not in subscribers:
                    code = NOT_SUBSCRIBED
                else:
                    code = DUPLICATE
        elif profile_id in opted_out:
            code = PROFILE_OPTED_OUT
        elif subscribers is not None and profile_id not in subscribers:
            code = NOT_SUBSCRIBED
        else:
            see(address)
            if in_control is None or not in_control(address):
                mark(int(index))
                continue
            code = CONTROL_GROUP
        counts[code] += 1
        if quoted:
            log(log_line(first_row + int(index), profile_id, raw.strip(), code))
        else:
            log(f"{first_row + int(index)},{profile_id},{raw.strip()},{CAUSE_NAMES[code]}\n")
    return excluded, count
