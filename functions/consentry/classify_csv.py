"""The classify loop over the lines of a CSV shard: parse, normalize, classify, sort.

This is `consentry.audience.rows` and `ShardClassifier.__call__` in one loop, without a
call per row: the one place where the analysis spends its time per row. A plain line
(no quote, as many commas as the header) is split here; any other line goes to
`consentry.audience.irregular_row`. An email address in normal form takes the same
fast path as `consentry.normalize.normalize_email`, inline; any other address goes to
the classifier's normalizer. A property test holds this loop to the reference (rows,
then the classifier per row) on generated audiences.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator

from consentry.analysis import AudienceError
from consentry.audience import Layout, RowPlace, irregular_row
from consentry.classifier import (
    ADDRESS_INVALID,
    ADDRESS_MISSING,
    CAUSES,
    CONTROL_GROUP,
    DUPLICATE,
    NOT_SUBSCRIBED,
    PROFILE_OPTED_OUT,
    ShardClassifier,
)
from consentry.normalize import LOCAL_PART, MAX_LOCAL_PART, PLAIN_DOMAINS, plain_domain

CAUSE_NAMES = ("", *(cause.value for cause in CAUSES))
"""The name of verdict n, as the exclusion log writes it."""

LogRow = tuple[int, str, str, str]
"""(row number, profile id, address as written but trimmed, cause)."""


def classify_csv(  # noqa: PLR0912, PLR0915 (one loop on purpose: see the module doc)
    lines: Iterable[str],
    more: Iterator[str],
    layout: Layout,
    classifier: ShardClassifier,
    counts: list[int],
    *,
    rows_before: int,
    place: RowPlace,
) -> tuple[list[str], list[LogRow], int]:
    """Classify `lines`, data rows of a CSV audience after its first `rows_before` rows;
    `more` yields the lines after them (a quoted field may span lines). A row's number
    in the log is its place in the audience, from 1.

    Returns the targeted rows as written, the exclusion log's rows, and the number of
    rows; adds each excluded row to `counts` under its verdict.
    """
    width, profile_index, address_index = layout.width, layout.profile_index, layout.address_index
    email, normalize = classifier.email, classifier.normalize
    blocked, opted_out, subscribers = (
        classifier.blocked.get,
        classifier.opted_out,
        classifier.subscribers,
    )
    held, in_control = classifier.held, classifier.in_control
    hold = held.add
    domain_known, local_plain = PLAIN_DOMAINS.get, LOCAL_PART.fullmatch
    targeted: list[str] = []
    keep = targeted.append
    excluded: list[LogRow] = []
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
                if not address:
                    counts[ADDRESS_MISSING] += 1
                    log((number, profile_id, "", CAUSE_NAMES[ADDRESS_MISSING]))
                    continue
                normal = normalize(address)
                if normal is None:
                    counts[ADDRESS_INVALID] += 1
                    log((number, profile_id, raw.strip(), CAUSE_NAMES[ADDRESS_INVALID]))
                    continue
                address = normal
        else:
            trimmed = raw.strip()
            normal = normalize(trimmed) if trimmed else None
            if normal is None:
                code = ADDRESS_INVALID if trimmed else ADDRESS_MISSING
                counts[code] += 1
                log((number, profile_id, trimmed, CAUSE_NAMES[code]))
                continue
            address = normal
        code = blocked(address, 0)
        if not code:
            if profile_id in opted_out:
                code = PROFILE_OPTED_OUT
            elif subscribers is not None and profile_id not in subscribers:
                code = NOT_SUBSCRIBED
            elif address in held:
                code = DUPLICATE
            else:
                hold(address)
                if in_control is None or not in_control(address):
                    keep(line)
                    continue
                code = CONTROL_GROUP
        counts[code] += 1
        log((number, profile_id, raw.strip(), CAUSE_NAMES[code]))
    return targeted, excluded, number - rows_before
