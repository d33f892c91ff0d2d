"""What Plan hands the Count map and takes back from it: the sizing of an audience that
must be read to be counted (`sizing.json` under the run's prefix), and each range's
scan as the state machine carries it. Apart from Plan, so that Count loads none of
Plan's suppression reading."""

from __future__ import annotations

import math
from dataclasses import asdict

import msgspec

from analyze.step import ObjectRef, StepPayload, load_stored
from consentry.analysis.audience import Layout, SegmentScan
from consentry.analysis.terms import CheckedRequest
from consentry.core.bucket import DataBucket

EDGES = 1000
"""Row starts the count finds, evenly spaced in bytes, to cut chunks at."""
COUNT_RANGES = 32
"""At most this many Count functions read an audience at once (an inline map runs up to
40 iterations at a time): 5.5 GB in ranges of about 172 MB, each about two seconds of
one S3 stream, which the scan keeps up with (`count_bytes_per_s` in bench.analyze)."""


class Sizing(StepPayload, frozen=True, kw_only=True):
    """What Plan knew of the audience before it was counted (`sizing.json`); the Count
    functions read their ranges from it."""

    request: CheckedRequest
    etag: str
    size: int
    data_start: int
    layout: Layout
    range_bytes: int

    @property
    def length(self) -> int:
        """The bytes of the audience's data rows."""
        return self.size - self.data_start

    def cuts(self) -> list[int]:
        """Where the Count ranges begin and end, from the first data row."""
        ranges = max(1, min(COUNT_RANGES, math.ceil(self.length / self.range_bytes)))
        return [self.length * number // ranges for number in range(ranges + 1)]

    def targets(self) -> list[int]:
        """The offsets, from the first data row, whose row starts cut the chunks."""
        step = self.length / EDGES
        return [round(step * number) for number in range(1, EDGES)]

    def range_of(self, number: int) -> tuple[int, int, list[int]]:
        """Count range `number`: where it begins and ends, and the targets whose search
        for a row start begins in it."""
        cuts = self.cuts()
        start, end = cuts[number], cuts[number + 1]
        return start, end, [target for target in self.targets() if start <= target - 1 < end]


class ScannedRange(StepPayload, frozen=True, kw_only=True):
    """One Count function's `SegmentScan`, as the state machine carries it."""

    end: int
    quotes_odd: bool
    line_ends: tuple[int, int]
    starts: tuple[list[int], list[int]]
    targets: list[int]
    last: str
    """The range's last byte (Latin-1), or empty."""

    @classmethod
    def of(cls, scan: SegmentScan) -> ScannedRange:
        return cls(**{**asdict(scan), "last": scan.last.decode("latin-1")})

    def scan(self) -> SegmentScan:
        return SegmentScan(**{**msgspec.structs.asdict(self), "last": self.last.encode("latin-1")})


def load_sizing(bucket: DataBucket, ref: ObjectRef) -> Sizing:
    """The sizing Plan wrote before the count."""
    return load_stored(bucket, ref, Sizing, "sizing")
