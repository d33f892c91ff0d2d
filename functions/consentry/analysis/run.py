"""One execution of the analysis: the plan every step reads, and where its objects go.

Plan writes `plan.json` under the run's prefix, `analyses/<deliveryId>/<run>/`, and
passes only its location on (`planRef`); each step reads it. Every object of a run is
under that prefix, so a failed run is removed whole and a re-run never mixes with an
earlier one.

    sizing.json                    what Plan knew before the Count map read the
                                   audience (when it had to be counted)
    plan.json                      this plan
    manifest.json                  the Classify map's items, one per shard
    suppression.json               the snapshot (when Plan read one)
    partitions/c00007.csv          Partition: the rows of chunk 7, shard by shard
    verdicts/s00003.bin            Classify: which rows of shard 3 are targeted, chunk
                                   by chunk
    exclusions/part-00003.csv      Classify: the exclusion log of shard 3
    target/part-00007.csv          Classify (one shard) or Assemble: the target, by chunk
    errors/2-classify-00003.json   a map step's error, for RecordFailure

A partitioned run writes two objects per chunk (its partition file, its target part),
two per shard (its verdicts, its exclusion log) and Plan's four: 2 x (shards +
chunks) + 4, growing with shards + chunks. Where each section of a partition or
verdict file ends is kept in the piece its writer stores (`Piece.ends`); readers fetch
their sections by ranged reads.
"""

from __future__ import annotations

import csv
import sys
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from itertools import accumulate

import msgspec

from consentry.analysis import piece_store
from consentry.analysis.audience import Layout, RowPlace, rows
from consentry.analysis.classifier import Rules
from consentry.analysis.piece_store import Piece, PieceKind
from consentry.analysis.terms import CHANGED, AudienceError, CheckedRequest, IncompleteAnalysisError
from consentry.core.bucket import DataBucket, ObjectGoneError

PLAN_FILE = "plan.json"
MANIFEST_FILE = "manifest.json"
SNAPSHOT_FILE = "suppression.json"
SIZING_FILE = "sizing.json"


class SuppressionRead(StrEnum):
    SNAPSHOT = "snapshot"
    """Plan read the channel's whole suppression data once (suppression.json)."""
    LOOKUPS = "lookups"
    """Each shard looks up the profiles and addresses it holds (BatchGetItem)."""


class Chunk(msgspec.Struct, frozen=True):
    """Bytes [start, end) of the audience, whole rows."""

    start: int
    end: int


class RunPlan(msgspec.Struct, frozen=True, kw_only=True):
    """What Plan decided for the run (`plan.json`); every later step reads it."""

    request: CheckedRequest
    execution_arn: str
    bucket: str
    prefix: str
    etag: str
    size: int
    data_start: int
    layout: Layout
    shards: int
    chunks: list[Chunk]
    """Empty when the audience is one shard and Classify reads it directly."""
    suppression: SuppressionRead
    consent_as_of: datetime | None
    """When Plan read the snapshot; with lookups each shard reads at its own time."""
    default_region: str
    smtputf8: bool = False
    sms_any_number_type: bool = False

    @property
    def partitioned(self) -> bool:
        return bool(self.chunks)

    @property
    def rules(self) -> Rules:
        control = self.request.control_group
        return Rules(
            channel=self.request.channel,
            message_class=self.request.message_class,
            default_region=self.default_region,
            control_percent=control.percent if control else None,
            control_seed=str(control.seed) if control else "",
            smtputf8=self.smtputf8,
            sms_any_number_type=self.sms_any_number_type,
        )

    @property
    def extension(self) -> str:
        return self.request.audience.format.value

    @property
    def content_type(self) -> str:
        """The target's content type: the audience's format."""
        return "text/csv" if self.extension == "csv" else "application/x-ndjson"

    def gone(self, error: ObjectGoneError) -> Exception:
        """What an object that went missing means for this run: the audience changed
        (the caller's to fix), or a piece of the run is missing (it cannot finish)."""
        if error.key == self.request.audience.key:
            return AudienceError(CHANGED)
        return IncompleteAnalysisError(f"{error.key} is missing")

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    @property
    def target_prefix(self) -> str:
        return self.key("target/")

    @property
    def exclusions_prefix(self) -> str:
        return self.key("exclusions/")

    def target_part(self, part: int) -> str:
        return self.key(f"target/part-{part:05d}.{self.extension}")

    def exclusions_part(self, shard: int) -> str:
        return self.key(f"exclusions/part-{shard:05d}.csv")

    def partition_file(self, chunk: int) -> str:
        return self.key(f"partitions/c{chunk:05d}.csv")

    def verdicts(self, shard: int) -> str:
        return self.key(f"verdicts/s{shard:05d}.bin")


@dataclass(frozen=True)
class ChunkIndex:
    """What Partition stored about the chunks: the audience row number before each
    chunk's first row, and each chunk's piece (where its shards' rows end)."""

    offsets: list[int]
    pieces: list[Piece]

    def shard_section(self, chunk: int, shard: int) -> tuple[int, int]:
        return self.pieces[chunk].section(shard)


def chunk_index(plan: RunPlan) -> ChunkIndex:
    """The chunks' row offsets and sections, from Partition's pieces of this run."""
    found = {p.item: p for p in piece_store.pieces(plan.request.delivery_id, PieceKind.CHUNK)}
    pieces = []
    for chunk in range(len(plan.chunks)):
        piece = found.get(PieceKind.CHUNK.item(chunk))
        if piece is None or piece.execution_arn != plan.execution_arn:
            raise IncompleteAnalysisError(f"chunk {chunk} was not partitioned by this run")
        if len(piece.ends) != plan.shards:
            raise IncompleteAnalysisError(f"chunk {chunk} has no index of its shards")
        pieces.append(piece)
    return ChunkIndex([0, *accumulate(piece.rows for piece in pieces)], pieces)


def shard_rows(plan: RunPlan, bucket: DataBucket, shard: int) -> Iterator[tuple[int, str, str]]:
    """(row number in the audience, profile id, address as written) of the shard's rows:
    the audience itself when the run has one shard, else the shard's section of each
    file Partition wrote, chunk by chunk. Classify reads them to look up their keys,
    and the API's explain to find a row and its number."""
    if not plan.partitioned:
        with bucket.open_text(
            plan.request.audience.key, plan.etag, plan.data_start, plan.size
        ) as lines:
            for number, (_, profile_id, address) in enumerate(
                rows(lines, plan.layout, RowPlace()), start=1
            ):
                yield number, profile_id, address
        return
    index = chunk_index(plan)
    for chunk in range(len(plan.chunks)):
        offset = index.offsets[chunk] + 1
        start, end = index.shard_section(chunk, shard)
        with bucket.open_text(plan.partition_file(chunk), None, start, end) as text:
            for row_index, profile_id, address in csv.reader(text):
                yield offset + int(row_index), profile_id, address


def verdict_bytes(rows: int, targeted: array[int]) -> bytes:
    """A verdicts file: rows, then the index in its chunk of each targeted row; uint32,
    little-endian."""
    data = array("I", [rows, len(targeted)])
    data.extend(targeted)
    if sys.byteorder == "big":
        data.byteswap()
    return data.tobytes()


def read_verdicts(raw: bytes) -> tuple[int, array[int]]:
    """(rows, targeted indexes) of a verdicts file."""
    data = array("I")
    data.frombytes(raw)
    if sys.byteorder == "big":
        data.byteswap()
    if len(data) < 2 or len(data) != 2 + data[1]:
        raise IncompleteAnalysisError("a verdict file is cut short")
    return data[0], data[2:]
