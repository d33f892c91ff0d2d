"""Analysis step 1b, Count (an audience too large to size from its first bytes): read one
byte range of the audience and scan it for both states it may begin in (outside or
inside a quoted field). Plan stitches the ranges' scans in order (`audience.stitch`)
into the audience's rows and the row starts its chunks are cut at.

The ranges are read by separate functions at once, so counting 5.5 GB takes about as
long as one function reading its 172 MB, not as long as one function taking in the
whole audience.
"""

from __future__ import annotations

from consentry.core import cold_start  # first: the collector waits while this loads

# isort: split

from analyze.sizing import ScannedRange, load_sizing
from analyze.step import PlannedTask, Wiring, step
from consentry.analysis.audience import scan_segment
from consentry.analysis.terms import CHANGED, AudienceError, AudienceFormat
from consentry.core.bucket import ObjectGoneError


class RangeTask(PlannedTask, frozen=True, kw_only=True):
    """A Count map item: one range of the audience; `plan` is where the sizing is."""

    range: int

    @property
    def number(self) -> int:
        return self.range


@step(RangeTask, keeps_error="0-count")
def lambda_handler(task: RangeTask, wiring: Wiring) -> ScannedRange:
    sizing = load_sizing(wiring.bucket, task.plan)
    start, end, targets = sizing.range_of(task.range)
    blocks = wiring.bucket.blocks(
        sizing.request.audience.key,
        sizing.etag,
        sizing.data_start + start,
        sizing.data_start + end,
    )
    try:
        scan = scan_segment(
            blocks,
            start,
            targets,
            quote_aware=sizing.layout.format is AudienceFormat.CSV,
        )
    except ObjectGoneError:
        raise AudienceError(CHANGED) from None
    return ScannedRange.of(scan)


cold_start.loaded()
