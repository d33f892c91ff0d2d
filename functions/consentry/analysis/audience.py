"""Reading an audience: its header, its rows, and where its rows start.

A CSV audience is read line by line: a line without a quote is split on commas (the
common case, and cheap); a line with a quote goes to the csv module, which may read
the next lines of a quoted field. Every row must have as many fields as the header;
blank lines are skipped. A JSONL audience has one JSON object per line. Rows keep the
audience's bytes: a targeted row is written out as it came in (a CSV row with quotes
is written back by the csv module, with the same values), except its line end: every
row of a CSV target ends with the audience's line end, the one its header row ends
with (`Layout.line_end`; LF when the header has none).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial

from consentry.analysis.terms import AudienceError, AudienceFormat, CheckedAudience
from consentry.core.errors import InvalidInputError

SAMPLE_BYTES = 1 << 20
"""What Plan reads of an audience to find its header and estimate its rows."""

Row = tuple[str, str, str]
"""(the row as written in the audience, profile id, address as written)."""


@dataclass(frozen=True)
class Layout:
    """Where a row's profile id and address are, and what a target part starts with."""

    format: AudienceFormat
    profile_field: str
    address_field: str
    header_line: str = ""
    """A CSV audience's header row, as written; the first line of every target part."""
    width: int = 0
    profile_index: int = 0
    address_index: int = 0
    line_end: str = "\n"
    """A CSV audience's line end (its header row's): every row of its target ends so."""


def layout_of(audience: CheckedAudience, sample: bytes, size: int) -> tuple[Layout, int]:
    """The audience's layout and the byte offset of its first data row.

    `sample` is the start of the object, `size` its length.
    """
    complete = len(sample) >= size
    if audience.format is AudienceFormat.JSONL:
        _check_first_object(audience, sample, complete=complete)
        return Layout(AudienceFormat.JSONL, audience.profile_id_field, audience.address_field), 0
    (header_end,) = row_starts([sample], [1], quote_aware=True)
    if header_end >= len(sample) and not complete:
        raise AudienceError(f"no header row in the first {len(sample)} bytes")
    header_bytes = sample[:header_end]
    header_line = _decode(header_bytes, "the header row").lstrip("\ufeff")
    try:
        columns = next(csv.reader([header_line], strict=True), [])
    except csv.Error as error:
        raise AudienceError(f"the header row is not valid CSV: {error}") from None
    if not columns:
        raise AudienceError("the audience is empty: its first line must name the columns")
    line_end = "\r\n" if header_line.endswith("\r\n") else "\n"
    layout = Layout(
        AudienceFormat.CSV,
        audience.profile_id_field,
        audience.address_field,
        header_line=header_line.rstrip("\r\n") + line_end,
        width=len(columns),
        profile_index=_index(columns, audience.profile_id_field, "audience.profileIdField"),
        address_index=_index(columns, audience.address_field, "audience.addressField"),
        line_end=line_end,
    )
    return layout, header_end


def _index(columns: list[str], name: str, field: str) -> int:
    try:
        return columns.index(name)
    except ValueError:
        shown = ", ".join(columns[:20])
        raise InvalidInputError(
            field, f"the audience has no column {name!r} (its columns: {shown})"
        ) from None


def _check_first_object(audience: CheckedAudience, sample: bytes, *, complete: bool) -> None:
    """Fail early, before any consent data is read, when row 1 is not what it should be."""
    lines = sample.split(b"\n")
    if not complete:
        lines.pop()  # it may be cut short
    first = next((line for line in lines if line.strip()), None)
    if first is None:
        return
    row = _json_object(_decode(first, "row 1"), "row 1")
    if audience.profile_id_field not in row:
        raise InvalidInputError(
            "audience.profileIdField", f"row 1 has no field {audience.profile_id_field!r}"
        )


def not_utf8(place: RowPlace, index: int) -> AudienceError:
    """The error for bytes that do not decode, found while reading row `index`: the
    decoder reads ahead, so the bytes are in that row or a later one."""
    return AudienceError(f"{place.name(index)} or a row after it is not UTF-8 text")


def _decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise AudienceError(f"{where} is not UTF-8 text") from None


def rows(lines: Iterable[str], layout: Layout, place: RowPlace) -> Iterator[Row]:
    """The data rows of a stream of lines (the header already skipped)."""
    if layout.format is AudienceFormat.JSONL:
        return _jsonl_rows(lines, layout, place)
    return _csv_rows(iter(lines), layout, place)


@dataclass(frozen=True)
class RowPlace:
    """How an error names a row: by number, or by number after a byte offset."""

    first_row: int = 1
    after_byte: int | None = None

    def name(self, index: int) -> str:
        if self.after_byte is None:
            return f"row {self.first_row + index}"
        return f"row {index + 1} after byte {self.after_byte}"


def _csv_rows(lines: Iterator[str], layout: Layout, place: RowPlace) -> Iterator[Row]:
    width, profile_index, address_index = layout.width, layout.profile_index, layout.address_index
    address_last = address_index == width - 1  # it carries the line end
    index = 0
    try:
        for line in lines:
            if '"' in line or len(fields := line.split(",")) != width:
                row = irregular_row(line, lines, layout, place, index)
                if row is None:
                    continue
                yield row
            else:
                profile_id = fields[profile_index].strip()
                if not profile_id:
                    raise AudienceError(f"{place.name(index)} has no {layout.profile_field}")
                address = fields[address_index]
                yield line, profile_id, address.rstrip("\r\n") if address_last else address
            index += 1
    except UnicodeDecodeError:
        raise not_utf8(place, index) from None


def irregular_row(
    line: str, lines: Iterator[str], layout: Layout, place: RowPlace, index: int
) -> Row | None:
    """A CSV line that is not a plain comma-separated row: a row with quotes (read on
    from `lines` when a quoted field spans lines), a blank line (None), or an error.

    `index` is the row's index among the data rows, for the error's wording."""
    try:
        if '"' in line:
            fields, text = _quoted_row(line, lines, layout.line_end)
        else:
            fields, text = line.split(","), line
    except csv.Error as error:
        raise AudienceError(f"{place.name(index)} is not valid CSV: {error}") from None
    if len(fields) != layout.width:
        if not line.strip():
            return None
        raise AudienceError(
            f"{place.name(index)} has {len(fields)} fields, the header {layout.width}"
        )
    profile_id = fields[layout.profile_index].strip()
    if not profile_id:
        raise AudienceError(f"{place.name(index)} has no {layout.profile_field}")
    return text, profile_id, fields[layout.address_index].rstrip("\r\n")


def _quoted_row(line: str, lines: Iterator[str], line_end: str) -> tuple[list[str], str]:
    """A row with quotes: parsed by the csv module (a quoted field may span lines),
    and written back by it, ending with `line_end`."""
    fields = next(csv.reader(itertools.chain([line], lines), strict=True))
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=line_end).writerow(fields)
    return fields, buffer.getvalue()


def target_join(layout: Layout) -> Callable[[list[str]], str]:
    """How a block of targeted rows is written: CSV rows with the audience's line end,
    JSONL rows as they are."""
    if layout.format is AudienceFormat.CSV:
        return partial(with_line_end, line_end=layout.line_end)
    return "".join


def with_line_end(rows: list[str], line_end: str) -> str:
    """CSV rows as written (each with its own line end, the last perhaps with none),
    joined so that every row ends with `line_end`: the audience's, in a target.

    The rows are checked together first (a few scans in C); only rows of a block that
    has another line end are rewritten one by one. A row's line end is what follows its
    last field: a quoted field keeps the line breaks it holds."""
    text = "".join(rows)
    if not text:
        return text
    if line_end == "\n":
        if "\r" not in text and text[-1] == "\n":
            return text
    elif text.count("\r") == text.count("\n") == text.count("\r\n") and text[-1] == "\n":
        return text
    return "".join([row.rstrip("\r\n") + line_end for row in rows])


def _jsonl_rows(lines: Iterable[str], layout: Layout, place: RowPlace) -> Iterator[Row]:
    profile_field, address_field = layout.profile_field, layout.address_field
    index = 0
    try:
        for line in lines:
            if not line.strip():
                continue
            row = _json_object(line, place.name(index))
            profile_id = _text(row.get(profile_field), profile_field, place.name(index)).strip()
            if not profile_id:
                raise AudienceError(f"{place.name(index)} has no {profile_field}")
            address = _text(row.get(address_field), address_field, place.name(index))
            yield line, profile_id, address
            index += 1
    except UnicodeDecodeError:
        raise not_utf8(place, index) from None


def _json_object(line: str, where: str) -> dict[str, object]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as error:
        raise AudienceError(f"{where} is not valid JSON: {error.msg}") from None
    if not isinstance(row, dict):
        raise AudienceError(f"{where} is not a JSON object")
    return row


def _text(value: object, field: str, where: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise AudienceError(f"{where}: {field} must be a string")


def row_starts(blocks: Iterable[bytes], targets: list[int], *, quote_aware: bool) -> list[int]:
    """For each offset of `targets` (ascending), the offset of the first row that starts
    at or after it, in the bytes `blocks` yields in order; past the last row, the end.

    A row starts after a newline; in CSV (`quote_aware`), only after a newline outside
    a quoted field, which is where the count of quotes before it is even.
    """
    pending = list(reversed(targets))
    found: list[int] = []
    while pending and pending[-1] <= 0:
        found.append(pending.pop() * 0)  # the stream starts with a row
    offset = 0
    quoted = False
    for block in blocks:
        _starts_in_block(block, offset, pending, found, quoted=quoted, quote_aware=quote_aware)
        if quote_aware:
            quoted ^= bool(block.count(b'"') & 1)
        offset += len(block)
    found.extend(offset for _ in pending)
    return found


def _starts_in_block(
    block: bytes,
    offset: int,
    pending: list[int],
    found: list[int],
    *,
    quoted: bool,
    quote_aware: bool,
) -> None:
    """Move from `pending` (targets, the next one last) onto `found` each target whose
    row starts in `block`, which begins at `offset` inside a quoted field or not."""
    position = 0  # where the search may start in this block
    parity_at, parity = 0, quoted  # the quote parity at `parity_at` in this block
    while pending:
        target = pending[-1]
        start = max(position, target - offset - 1)
        newline = block.find(b"\n", start)
        if newline < 0:
            return
        if quote_aware:
            parity ^= bool(block.count(b'"', parity_at, newline) & 1)
            parity_at = newline
            if parity:
                position = newline + 1
                continue
        row_start = offset + newline + 1
        while pending and pending[-1] <= row_start:
            pending.pop()
            found.append(row_start)
        position = newline + 1


@dataclass(frozen=True)
class SegmentScan:
    """One byte range of an audience read apart from the rest: for each state it may
    begin in (outside a quoted field, inside one), its line ends outside quoted fields
    and where its first row and its targets' rows start; whether it holds an odd number
    of quotes (which tells the next range's state); its last byte."""

    end: int
    quotes_odd: bool
    line_ends: tuple[int, int]
    starts: tuple[list[int], list[int]]
    """Per state: the row start of the segment's first row (after its first line end
    outside quotes), then of each of its targets, as far as they start within it."""
    targets: list[int]
    last: bytes


def scan_segment(
    blocks: Iterable[bytes], start: int, targets: list[int], *, quote_aware: bool
) -> SegmentScan:
    """Read one range of an audience's rows (`blocks`, from offset `start`) for either
    state at its start. `targets` are the ascending offsets whose search for a row start
    begins in this range (`start < target <= end`). `stitch` puts ranges together."""
    searched = list(reversed([start + 1, *targets]))  # the first row's, then the targets'
    readings: list[tuple[bool, list[int], list[int]]] = [
        (began_quoted, list(searched), []) for began_quoted in (False, True)
    ]
    line_ends = [0, 0]
    quotes_odd = False
    offset, last = start, b""
    for block in blocks:
        if quote_aware and b'"' in block:
            parts = block.split(b'"')
            outside = sum(part.count(b"\n") for part in parts[0::2])
            inside = sum(part.count(b"\n") for part in parts[1::2])
            flips = len(parts) % 2 == 0
        else:
            outside, inside, flips = block.count(b"\n"), 0, False
        for state, (began_quoted, pending, found) in enumerate(readings):
            quoted = began_quoted ^ quotes_odd
            _starts_in_block(block, offset, pending, found, quoted=quoted, quote_aware=quote_aware)
            line_ends[state] += inside if quoted else outside
        quotes_odd ^= flips
        offset += len(block)
        last = block[-1:] or last
    return SegmentScan(
        end=offset,
        quotes_odd=quotes_odd,
        line_ends=(line_ends[0], line_ends[1]),
        starts=(readings[0][2], readings[1][2]),
        targets=targets,
        last=last,
    )


def stitch(scans: list[SegmentScan], targets: list[int], end: int) -> tuple[int, list[int]]:
    """Ranges read apart, in order, as `RowCount` and `row_starts` over the whole stream
    would count them: the rows, and each target's row start (`targets` ascending: those
    at or before the stream's start, then each range's, then those past its end)."""
    found = [0 for target in targets if target <= 0]  # the stream starts with a row
    carried: list[int] = []  # targets whose row starts in a later range
    quoted = False
    line_ends = 0
    last = b""
    for scan in scans:
        starts = scan.starts[quoted]
        line_ends += scan.line_ends[quoted]
        if starts:
            found += [starts[0]] * len(carried)
            carried = []
            found += starts[1:]
            carried += scan.targets[len(starts) - 1 :]
        else:
            carried += scan.targets
        quoted ^= scan.quotes_odd
        last = scan.last or last
    found += [end] * (len(carried) + sum(1 for t in targets if t > end))
    return line_ends + (1 if last not in (b"", b"\n") else 0), found


def most_rows(data_bytes: int, layout: Layout) -> int:
    """The most data rows `data_bytes` bytes of an audience can hold: a CSV row is at
    least its commas, a profile id of one character and a line end; a JSONL row at
    least `{"<profile field>":1}` and a line end (the last row may have no line end)."""
    if layout.format is AudienceFormat.JSONL:
        smallest = len(json.dumps(layout.profile_field).encode()) + 5
    else:
        smallest = layout.width + 1
    return data_bytes // smallest + 1


@dataclass
class RowCount:
    """Counts the rows of a stream of blocks as they go by (`through`): an upper bound,
    the line ends outside quoted fields (CSV, `quote_aware`) or all of them (JSONL),
    and one more when the last row has none. Blank lines count as rows."""

    quote_aware: bool
    line_ends: int = 0
    last: bytes = b""

    @property
    def rows(self) -> int:
        return self.line_ends + (1 if self.last not in (b"", b"\n") else 0)

    def through(self, blocks: Iterable[bytes]) -> Iterator[bytes]:
        quoted = False
        for block in blocks:
            if self.quote_aware and b'"' in block:
                parts = block.split(b'"')
                outside = parts[1::2] if quoted else parts[0::2]
                self.line_ends += sum(part.count(b"\n") for part in outside)
                quoted ^= len(parts) % 2 == 0
            elif not quoted:
                self.line_ends += block.count(b"\n")
            if block:
                self.last = block[-1:]
            yield block
