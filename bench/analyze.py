"""Delivery analysis: the classifier against a bare csv.reader floor, its memory, the
whole state machine on the local stack, and the read units of its suppression data.

On a generated 1,000,000-row audience (5 % opted out, 2 % quarantined, 1 % denylisted,
1 % duplicates, 0.5 % invalid, 0.5 % missing addresses) against a snapshot of 500,000
opted-out profiles:

- `classify_rows_per_s`, `floor_rows_per_s`, `ratio_vs_floor`, `peak_rss_mb`: one
  classify child (a fresh process that imports the Classify handler, as a Lambda
  does) runs the Classify step's loop (`analyze.classify.classify_lines`, which reads the
  audience in blocks and runs `consentry.analysis.classify_csv` over each: parse, normalize,
  classify; then writes the target and the exclusion log to spooled files);
  the floor is a bare `csv.reader` loop doing two set lookups per row over the same
  file, in the same process. Best of five, in CPU seconds (the machine may be shared).
- `duckdb_rows_per_s`, `polars_rows_per_s`, `ratio_vs_duckdb`, `ratio_vs_polars`: the
  same job (read the audience, apply the order, write the target and the log) in DuckDB
  and in polars (bench/engines.py), each in a fresh process on one thread, best of three
  in CPU seconds; the run stops unless both give the same counts and the same excluded
  rows with the same causes as the Classify loop (`engines_agree=1`).
- `partition_rows_per_s`, `assemble_rows_per_s`, `classify_partitioned_rows_per_s`:
  the loops of a partitioned run, once each: Partition's over the audience into 100
  shards, Assemble's over the audience as one chunk, and Classify's over those shards
  (the fused loop over the rows as Partition wrote them).
- `sms_normalize_per_s`: the SMS verdict's normalization (phonenumbers: parse, validity,
  type) of 20,000 distinct numbers of three countries, compact and spaced, in CPU
  seconds; the email fast path is in `classify_rows_per_s`.
- `end_to_end_s`: StartExecution to SUCCEEDED of the real state machine on the local
  stack (moto in this process, handlers routed as `make run` routes them), next to
  `classify_alone_s`, the classifier's own time from the child; `plan_s` is
  the part until Plan ended (with the Count map and Sized, when the audience had to be
  counted).
- `count_bytes_per_s`: one Count function's scan of a range (`audience.scan_segment`
  over the audience's bytes in the blocks S3 reads give, for both quote states), in
  CPU seconds, best of three.
- `partitioned_end_to_end_s`, `partitioned_plan_s`, `partitioned_peak_rss_mb`: a
  2,000,000-row audience of its own (`--partitioned-rows`) on the local stack in
  shards of an eighth (8 shards, 8 chunks), each run in a fresh process, next to
  `one_shard_end_to_end_s`, the same audience in one shard; every row's verdict (the
  target byte for byte, the exclusion log) must be the same in both. The peak is the
  whole process's, moto's copies of every object included.
- `s3_puts_partitioned`: S3 requests billed as writes during that partitioned run
  (checked against 2 x (shards + chunks) + 4); `s3_puts_formula` is that formula at
  100 x 100, the projection's; the `_before` lines the formula this replaced.
- `snapshot_read_units_per_million_rows`, `lookups_read_units_per_million_rows`: the
  read request units the suppression data costs, metered from the items DynamoDB
  returned (moto reports no consumed capacity of its own): the snapshot Plan reads, and
  lookups of the first 20,000 rows' keys, scaled to a million rows.

- `profile_item_botocore_us`, `profile_item_raw_us`, `address_item_botocore_us`,
  `address_keys_raw_us`, `read_meter_us`: CPU microseconds per item of a 1 MB Query
  page, through botocore's parser and as the raw JSON Plan reads now; the read meter's
  share. `snapshot_load_us_per_entry`: the classify child's load of the snapshot.
- `projected_*_100m`: the model of docs/analysis-contract.md for 100,000,000 rows, fed
  with this run's per-item costs and rates.

`python -m bench.analyze [--rows N] [--opted-out N] [--skip-end-to-end] [--skip-engines]
[--partitioned-rows N] [--only-partitioned]`; prints `name=value` lines.
"""

from __future__ import annotations

import argparse
import csv
import filecmp
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from consentry_cli.audience import Generated, Mix, generate

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "functions"))  # the Lambda import root, as Lambda has it

REGION = "eu-west-1"
ROWS = 1_000_000
SNAPSHOT_PROFILES = 500_000
LOOKUP_SAMPLE = 20_000
PROJECTED_SHARDS = 100
"""The shards Partition writes to in the projection of docs/analysis-contract.md."""
PARTITIONED_ROWS = 2_000_000
PARTITIONED_SHARDS = 8
"""The partitioned run: its audience's rows, in this many shards (and chunks)."""
REPEATS = 5
ENGINE_REPEATS = 3
MIX = Mix(
    opted_out=0.05, quarantined=0.02, denylisted=0.01, duplicates=0.01, invalid=0.005, missing=0.005
)


def _settings_environment() -> None:
    """What the handler modules read at import; the names reach nothing here."""
    from consentry.core.settings import required_names

    for name in required_names():
        os.environ.setdefault(name.upper(), "bench")
    os.environ["AWS_REGION"] = REGION
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")


def snapshot_document(generated: Generated, profiles: int) -> dict[str, object]:
    """suppression.json as Plan would write it: the audience's opted-out profiles among
    `profiles` in all, and its bad addresses."""
    others = max(0, profiles - len(generated.opted_out))
    return {
        "consentAsOf": datetime.now(UTC).isoformat(),
        "optedOut": generated.opted_out + [f"elsewhere-{n:09d}" for n in range(others)],
        "denylisted": generated.denylisted,
        "quarantined": generated.quarantined,
        "subscribers": None,
    }


# ---------------------------------------------------------------- the classify child


class Shard:
    """One 1,000,000-row shard in a classify child: the loops of the steps over it, with
    local files in place of S3."""

    def __init__(self, audience: Path, snapshot: Path) -> None:
        _settings_environment()
        import analyze.classify  # noqa: F401 (the handler's imports, as in Lambda)
        from consentry.analysis.audience import layout_of
        from consentry.analysis.classifier import Rules
        from consentry.analysis.suppression import from_snapshot
        from consentry.analysis.terms import CheckedAudience
        from consentry.core.types import Channel, MessageClass

        self.audience = audience
        document = snapshot.read_bytes()
        start = time.process_time()
        self.suppression = from_snapshot(document)
        self.snapshot_load_s = time.process_time() - start
        self.snapshot_entries = sum(
            len(v) for k, v in json.loads(document).items() if k != "consentAsOf" and v
        )
        self.rules = Rules(Channel.EMAIL, MessageClass.MARKETING, "US")
        with audience.open("rb") as file:
            self.layout, self.data_start = layout_of(
                CheckedAudience(uri=f"s3://bench/{audience.name}"),
                file.read(1 << 20),
                audience.stat().st_size,
            )

    def lines(self) -> Any:
        lines = self.audience.open(newline="", encoding="utf-8-sig")
        lines.seek(self.data_start)
        return lines

    def floor(self) -> int:
        """A bare csv.reader loop with two set lookups per row."""
        opted_out, blocked = set(self.suppression.opted_out), set(self.suppression.blocked)
        count = 0
        with self.audience.open(newline="", encoding="utf-8") as file:
            reader = csv.reader(file)
            next(reader)
            for row in reader:
                count += 1
                if row[0] in opted_out:
                    pass
                if row[1] in blocked:
                    pass
        return count

    def classify(self) -> int:
        from analyze.classify import classify_lines
        from consentry.analysis.classifier import VERDICTS, ShardClassifier
        from consentry.core.bucket import spools

        classifier = ShardClassifier(self.suppression, self.rules)
        with self.lines() as lines, spools(2) as (log, target):
            counts = [0] * VERDICTS
            return classify_lines(
                lines, self.layout, classifier, counts, log=log.text, target=target.text
            )

    def classify_to(self, directory: Path) -> dict[str, Any]:
        """The Classify loop once, its target and log written to files: what the engines
        must agree with."""
        from analyze.classify import classify_lines
        from bench.engines import result_of
        from consentry.analysis.classifier import VERDICTS, ShardClassifier

        classifier = ShardClassifier(self.suppression, self.rules)
        log_path = directory / "classify-log.csv"
        with (
            self.lines() as lines,
            log_path.open("w", newline="", encoding="utf-8") as log,
            (directory / "classify-target.csv").open("w", newline="", encoding="utf-8") as target,
        ):
            rows = classify_lines(
                lines, self.layout, classifier, [0] * VERDICTS, log=log, target=target
            )
        return {"rows": rows, **result_of(log_path)}

    def partition(self) -> int:
        """The audience as one chunk, into PROJECTED_SHARDS shards."""
        from analyze.partition import partition_lines
        from consentry.analysis.audience import RowPlace
        from consentry.core.bucket import spools

        normalize = self.rules.normalizer()
        with self.lines() as lines, spools(PROJECTED_SHARDS) as outputs:
            texts = [output.text for output in outputs]
            return partition_lines(lines, self.layout, normalize, texts, RowPlace())

    def classify_partitioned(self) -> tuple[int, float]:
        """The audience partitioned into PROJECTED_SHARDS shard files, then the Classify
        loop of a partitioned run over each (a classifier per shard, built before the
        clock starts): the rows, and the CPU seconds of the classify loops alone."""
        from analyze.classify import classify_shard_input
        from analyze.partition import partition_lines
        from consentry.analysis.audience import RowPlace
        from consentry.analysis.classifier import VERDICTS, ShardClassifier
        from consentry.core.bucket import spools

        normalize = self.rules.normalizer()
        with (
            self.lines() as lines,
            spools(PROJECTED_SHARDS) as outputs,
            spools(1) as (log,),
        ):
            partition_lines(lines, self.layout, normalize, [o.text for o in outputs], RowPlace())
            classifiers = [ShardClassifier(self.suppression, self.rules) for _ in outputs]
            counts = [0] * VERDICTS
            rows = 0
            start = time.process_time()
            for output, classifier in zip(outputs, classifiers, strict=True):
                output.text.flush()
                output.text.seek(0)
                classified, _ = classify_shard_input(output.text, classifier, 1, counts, log.text)
                rows += classified
            return rows, time.process_time() - start

    def assemble(self, rows: int) -> int:
        """The audience as one chunk's target part, nine rows in ten targeted."""
        from analyze.assemble import assemble_lines
        from consentry.analysis.audience import RowPlace
        from consentry.core.bucket import spools

        targeted = bytearray([1] * 9 + [0]) * (rows // 10 + 1)
        with self.lines() as lines, spools(1) as (target,):
            return assemble_lines(lines, self.layout, targeted, target.text, RowPlace())


def child(audience: Path, snapshot: Path, out: Path) -> None:
    """Run in a fresh process: the floor and the classify loop, best of REPEATS; then
    Partition's and Assemble's loops once."""
    shard = Shard(audience, snapshot)
    floor_s, classify_s, rows = [], [], 0
    for _ in range(REPEATS):
        rows, seconds = _cpu(shard.floor)
        floor_s.append(seconds)
        classified, seconds = _cpu(shard.classify)
        classify_s.append(seconds)
        assert classified == rows, (classified, rows)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = shard.classify_to(out.parent)
    partitioned, partition_s = _cpu(shard.partition)
    assembled, assemble_s = _cpu(lambda: shard.assemble(rows))
    shard_rows, classify_partitioned_s = shard.classify_partitioned()
    assert partitioned == assembled == shard_rows == rows
    figures = {
        "rows": rows,
        "floor_s": min(floor_s),
        "classify_s": min(classify_s),
        "peak_kb": peak_kb,
        "partition_s": partition_s,
        "assemble_s": assemble_s,
        "classify_partitioned_s": classify_partitioned_s,
        "result": result,
        "snapshot_load_us_per_entry": shard.snapshot_load_s / shard.snapshot_entries * 1e6,
        **stored_snapshot_costs(json.loads(snapshot.read_bytes())),
    }
    out.write_text(json.dumps(figures))


def engine_child(engine: str, audience: Path, snapshot: Path, out: Path) -> None:
    """Run in a fresh process: one engine's job, best of ENGINE_REPEATS in CPU seconds
    (the engines run on one thread), and what it produced."""
    from bench import engines

    job = {"duckdb": engines.duckdb_job, "polars": engines.polars_job}[engine]
    sets = engines.snapshot_sets(snapshot)
    directory = out.parent / engine
    directory.mkdir(exist_ok=True)
    seconds = []
    rows = 0
    for _ in range(ENGINE_REPEATS):
        rows, spent = _cpu(lambda: job(audience, sets, directory))
        seconds.append(spent)
    figures = {
        "rows": rows,
        "seconds": min(seconds),
        "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "result": {"rows": rows, **engines.result_of(directory / "log.csv")},
    }
    out.write_text(json.dumps(figures))


def _cpu(action: Callable[[], int]) -> tuple[int, float]:
    start = time.process_time()
    result = action()
    return result, time.process_time() - start


def run_child(audience: Path, snapshot: Path, workdir: Path) -> dict[str, Any]:
    out = workdir / "child.json"
    subprocess.run(
        [sys.executable, "-m", "bench.analyze", "--child", str(audience), str(snapshot), str(out)],
        cwd=ROOT,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def run_engine(engine: str, audience: Path, snapshot: Path, workdir: Path) -> dict[str, Any]:
    out = workdir / f"{engine}.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.analyze",
            "--engine",
            engine,
            str(audience),
            str(snapshot),
            str(out),
        ],
        cwd=ROOT,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.read_text())
    return result


# ---------------------------------------------------------------- suppression pages


def page_costs() -> dict[str, float]:
    """Microseconds per item of reading one 1 MB Query page, on this machine: through
    botocore's parser (as pynamodb's query did) and as raw JSON (as Plan reads now),
    for an opted-out profile of the `opted-out` index, a whole address item of the
    `by-status` index and an address's keys from the `blocked` index; and the read
    meter's cost per item."""
    _settings_environment()
    from botocore.parsers import create_parser
    from botocore.session import get_session

    from consentry.addresses.address_store import to_item
    from consentry.addresses.status import AddressState, AddressStatus, with_origin
    from consentry.analysis.suppression import ReadMeter, item_opts_out
    from consentry.core.types import Address, Channel

    shape = get_session().get_service_model("dynamodb").operation_model("Query").output_shape
    parser = create_parser("json")
    now = datetime.now(UTC)

    def profile(n: int) -> dict[str, Any]:
        return {
            "profile_id": {"S": f"p{n:09d}"},
            "opted_out_bucket": {"S": str(n % 16)},
            "opt_out_all": {"BOOL": True},
        }

    def whole_address(n: int) -> dict[str, Any]:
        state = AddressState(
            channel=Channel.EMAIL,
            address=Address(f"noah.devries{n}@post.example.de"),
            error_status=AddressStatus.QUARANTINE,
            error_count=3,
            last_counted_error_at=now,
            release_at=now,
            updated_at=now,
        )
        item: dict[str, Any] = to_item(with_origin(state, "complaint", now), version=2).serialize()
        return item

    def address_keys(n: int) -> dict[str, Any]:
        return {
            "address_key": {"S": f"email#noah.devries{n}@post.example.de"},
            "status_key": {"S": "email#quarantine"},
        }

    def page(make: Callable[[int], dict[str, Any]]) -> bytes:
        size = len(json.dumps(make(0)))
        return json.dumps({"Items": [make(n) for n in range((1 << 20) // size)]}).encode()

    def per_item(body: bytes, read: Callable[[bytes], int]) -> float:
        best = float("inf")
        for _ in range(3):
            start = time.process_time()
            count = read(body)
            best = min(best, time.process_time() - start)
        return best / count * 1e6

    def botocore(body: bytes) -> int:
        response = {"body": body, "headers": {}, "status_code": 200}
        return len(parser.parse(response, cast(Any, shape))["Items"])

    def raw_profiles(body: bytes) -> int:
        items = json.loads(body)["Items"]
        return len([i["profile_id"]["S"] for i in items if item_opts_out(i, Channel.EMAIL)])

    def raw_addresses(body: bytes) -> int:
        return len([i["address_key"]["S"][6:] for i in json.loads(body)["Items"]])

    def metered(body: bytes) -> int:
        items = json.loads(body)["Items"]
        ReadMeter().page(items)
        return len(items)

    profiles, addresses, keys = page(profile), page(whole_address), page(address_keys)
    return {
        "profile_item_botocore_us": per_item(profiles, botocore),
        "profile_item_raw_us": per_item(profiles, raw_profiles),
        "address_item_botocore_us": per_item(addresses, botocore),
        "address_keys_raw_us": per_item(keys, raw_addresses),
        "read_meter_us": per_item(keys, metered)
        - per_item(keys, lambda b: len(json.loads(b)["Items"])),
        "profile_item_bytes": len(profiles) / len(json.loads(profiles)["Items"]),
        "address_keys_bytes": len(keys) / len(json.loads(keys)["Items"]),
    }


def _loaded(body: bytes) -> int:
    return len(json.loads(body)["Items"])


# ---------------------------------------------------------------- the projection

ROWS_100M = 100_000_000
PROFILES_100M = 5_000_000
ADDRESSES_100M = 3_000_000
SHARDS_100M = CHUNKS_100M = 100
LAMBDA_SLOWER = 1.3
"""Lambda arm64 at 1,769 MB (one vCPU) against this machine's core."""
S3_STREAM_BYTES_S = 90e6
LAMBDA_NETWORK_BYTES_S = 150e6
"""What one function takes in over many parallel connections (an assumption)."""
DYNAMODB_PAGE_S = 0.1
"""One 1 MB Query page, request to last byte, on one connection (an assumption)."""
AUDIENCE_BYTES_100M = 5.5e9
COUNT_RANGES_100M = 32
"""The Count map's functions (analyze.sizing.COUNT_RANGES): each reads 172 MB, one S3
stream, and scans it as it comes."""
PLAN_START_S = 0.5
"""Plan before the count: the request, the audience's head and first megabyte, the
record's claim, the sizing written (an assumption)."""
COUNT_INIT_S = 1.0
"""Per Count function, besides its read: its cold start and the sizing's GET, billed as
its time (an assumption)."""
COUNT_TRANSITIONS_S = 0.5
"""The state transitions into and out of the Count map: time, but no function's (an
assumption)."""
PARTITION_OVERHEAD_S, CLASSIFY_OVERHEAD_S, ASSEMBLE_OVERHEAD_S = 2.5, 4.0, 3.3
"""Per child, besides its loop and the snapshot's download and load: the other S3
reads and writes (the document's earlier projection)."""
SUMMARIZE_S = 5.0
WAVES = {"partition": 3, "classify": 1, "assemble": 3}
"""The inline maps run 40 children at a time, Classify all 100 (MapConcurrency 100)."""
MEMORY_GB = 1769 / 1024
LAMBDA_USD_GB_S = 0.0000133334
SFN_USD_TRANSITION, SFN_TRANSITIONS = 0.000025, 700 + 2 * COUNT_RANGES_100M + 3
S3_PUT_USD, S3_GET_USD = 0.005 / 1000, 0.0004 / 1000
S3_PUTS_100M = 4 + 2 * CHUNKS_100M + 2 * SHARDS_100M  # s3_writes: one file per chunk and shard
S3_GETS_100M = 20_300 + 2 * COUNT_RANGES_100M
RRU_USD = 0.125 / 1_000_000
CATCH_UP_ITEMS_100M = 200_000
"""Profiles and addresses written in the 80 minutes Plan catches up with (the hourly
snapshot's age plus its 20-minute margin): a large sender's unsubscribes and the
bounces of its last campaign (an assumption)."""
CATCH_UP_QUERIES = 2 * 8 * 2
"""Both tables' `changed` index, 8 shards a day, two days at most."""
PROFILE_METERED_BYTES, ADDRESS_KEYS_METERED_BYTES = 50, 73
"""What DynamoDB meters for an item of the `opted-out` index (profile id, bucket, flag)
and of the keys-only `blocked` index (address key, status key)."""


def projection(costs: dict[str, float], measured: dict[str, Any]) -> dict[str, float]:
    """docs/analysis-contract.md's model of a 100,000,000-row analysis, fed with this
    run's per-item costs; seconds on Lambda, dollars per analysis."""
    profiles_cpu = PROFILES_100M * (costs["profile_item_raw_us"] + costs["read_meter_us"])
    addresses_cpu = ADDRESSES_100M * (costs["address_keys_raw_us"] + costs["read_meter_us"])
    cpu_s = (profiles_cpu + addresses_cpu) / 1e6 * LAMBDA_SLOWER
    wire_bytes = (
        PROFILES_100M * costs["profile_item_bytes"] + ADDRESSES_100M * costs["address_keys_bytes"]
    )
    serial_pages = max(
        PROFILES_100M * costs["profile_item_bytes"] / 2**20 / 16,
        ADDRESSES_100M * costs["address_keys_bytes"] / 2**20 / (2 * 22),
    )
    # The schedule's run: the indexes read whole, every SuppressionSnapshotMinutes.
    take_s = max(cpu_s, wire_bytes / LAMBDA_NETWORK_BYTES_S, serial_pages * DYNAMODB_PAGE_S)
    take_units = (
        (PROFILES_100M * PROFILE_METERED_BYTES + ADDRESSES_100M * ADDRESS_KEYS_METERED_BYTES)
        / 4096
        * 0.5
    )
    # Plan: the stored snapshot (one GET), its load, the catch-up, the run's copy.
    stored_entries = PROFILES_100M + ADDRESSES_100M
    stored_s = (
        stored_entries * measured["stored_bytes_per_entry"] / S3_STREAM_BYTES_S
        + stored_entries * measured["stored_load_us_per_entry"] / 1e6 * LAMBDA_SLOWER
    )
    catch_up_bytes = CATCH_UP_ITEMS_100M * costs["profile_item_bytes"]
    catch_up_s = max(
        CATCH_UP_ITEMS_100M
        * (costs["profile_item_raw_us"] + costs["read_meter_us"])
        / 1e6
        * LAMBDA_SLOWER,
        math.ceil(catch_up_bytes / 2**20 / CATCH_UP_QUERIES) * DYNAMODB_PAGE_S,
    )
    snapshot_bytes = PROFILES_100M * 14 + ADDRESSES_100M * 34
    write_s = snapshot_bytes / S3_STREAM_BYTES_S
    suppression_s = stored_s + catch_up_s + write_s
    range_bytes = AUDIENCE_BYTES_100M / COUNT_RANGES_100M
    count_billed_s = (
        max(
            range_bytes / S3_STREAM_BYTES_S,
            range_bytes / measured["count_bytes_per_s"] * LAMBDA_SLOWER,
        )
        + COUNT_INIT_S
    )
    count_s = count_billed_s + COUNT_TRANSITIONS_S
    plan_s = PLAN_START_S + count_s + suppression_s
    rows = ROWS_100M / SHARDS_100M
    load_s = (
        (PROFILES_100M + ADDRESSES_100M)
        * measured["snapshot_load_us_per_entry"]
        / 1e6
        * LAMBDA_SLOWER
    )
    partition_s = rows / measured["partition_rate"] * LAMBDA_SLOWER + PARTITION_OVERHEAD_S
    classify_s = (
        rows / measured["classify_partitioned_rate"] * LAMBDA_SLOWER
        + snapshot_bytes / S3_STREAM_BYTES_S
        + load_s
        + CLASSIFY_OVERHEAD_S
    )
    assemble_s = rows / measured["assemble_rate"] * LAMBDA_SLOWER + ASSEMBLE_OVERHEAD_S
    total_s = (
        plan_s
        + partition_s * WAVES["partition"]
        + classify_s * WAVES["classify"]
        + assemble_s * WAVES["assemble"]
        + SUMMARIZE_S
    )
    gb_s = MEMORY_GB * (
        PLAN_START_S  # Plan, then Sized: the Plan function is not running while Count is
        + suppression_s
        + COUNT_RANGES_100M * count_billed_s
        + CHUNKS_100M * (partition_s + assemble_s)
        + SHARDS_100M * classify_s
    )
    read_units = max(CATCH_UP_QUERIES * 0.5, catch_up_bytes / 4096 * 0.5)
    take_usd = take_units * RRU_USD + MEMORY_GB * take_s * LAMBDA_USD_GB_S + 5 * S3_PUT_USD
    cost = (
        gb_s * LAMBDA_USD_GB_S
        + SFN_TRANSITIONS * SFN_USD_TRANSITION
        + S3_PUTS_100M * S3_PUT_USD
        + S3_GETS_100M * S3_GET_USD
        + read_units * RRU_USD
    )
    return {
        "projected_snapshot_take_s_100m": take_s,
        "projected_snapshot_per_day_usd_100m": take_usd * 24,
        "projected_catch_up_s_100m": catch_up_s,
        "projected_count_s_100m": count_s,
        "projected_suppression_read_s_100m": suppression_s,
        "projected_plan_s_100m": plan_s,
        "projected_end_to_end_s_100m": total_s,
        "projected_lambda_gb_s_100m": gb_s,
        "projected_read_units_100m": read_units,
        "projected_cost_usd_100m": cost,
    }


STORED_COSTS = ("stored_bytes_per_entry", "stored_load_us_per_entry")


def stored_snapshot_costs(snapshot: dict[str, Any]) -> dict[str, float]:
    """The stored snapshot of the benchmark's lists (measured in the classify child, a
    fresh process): bytes per entry, and CPU microseconds per entry to decode it (best
    of three)."""
    from consentry.analysis.snapshot_store import ChannelSnapshot
    from consentry.core.types import Channel

    stored = ChannelSnapshot(
        Channel.EMAIL,
        datetime.now(UTC),
        opted_out=frozenset(snapshot["optedOut"]),
        denylisted=frozenset(snapshot["denylisted"]),
        quarantined=frozenset(snapshot["quarantined"]),
    )
    raw = stored.to_json()
    entries = len(stored.opted_out) + len(stored.denylisted) + len(stored.quarantined)

    def load() -> int:
        return len(ChannelSnapshot.from_json(raw).opted_out)

    seconds = min(_cpu(load)[1] for _ in range(3))
    return {
        "stored_bytes_per_entry": len(raw) / entries,
        "stored_load_us_per_entry": seconds / entries * 1e6,
    }


# ---------------------------------------------------------------- the local stack


def end_to_end(generated: Generated, snapshot: dict[str, object]) -> dict[str, float]:
    """The state machine on the local stack over the audience; then the read units.

    The local stack's wiring in this process: the template's resources on moto, moto's
    engine running executions, Lambda invokes routed to the handlers."""
    import boto3

    from bench.inprocess import template_on_moto
    from infra.local.aws import MOTO_CONFIG, configure_moto
    from infra.local.lambdas import Invoker, local_functions, route_moto_invokes

    with template_on_moto(MOTO_CONFIG, POWERTOOLS_LOG_LEVEL="WARNING") as resolver:
        configure_moto()
        # In this process: worker processes would not reach this process's moto.
        invoker = Invoker(local_functions(resolver.template, resolver), workers=0)
        invoker.load()
        undo = route_moto_invokes(invoker)
        try:
            _seed(snapshot)
            taken = _take_snapshots(invoker)
            outputs = resolver.outputs()
            bucket = outputs["DataBucketName"]
            key = "audiences/bench/audience.csv"
            boto3.client("s3", region_name=REGION).upload_file(str(generated.path), bucket, key)
            request = {
                "deliveryId": "bench",
                "channel": "email",
                "messageClass": "marketing",
                "audience": {"uri": f"s3://{bucket}/{key}"},
            }
            snapshot_meter = _metering_plan_s_snapshot()
            execution = _run(outputs["StateMachineArn"], request)
            assert execution["audienceSize"] == generated.rows, execution
            return {
                "snapshot_take_s": taken["seconds"],
                "snapshot_take_read_units": taken["readUnits"],
                "catch_up_items": CATCH_UP_CHANGES,
                "end_to_end_s": execution["seconds"],
                "plan_s": execution["plan_seconds"],
                "plan_read_units": snapshot_meter.read_units,
                "indexes_read_units_per_million_rows": taken["readUnits"]
                * 1_000_000
                / generated.rows,
                "lookups_read_units_per_million_rows": _lookup_read_units(generated),
            }
        finally:
            undo()


def _run(state_machine_arn: str, request: dict[str, Any]) -> dict[str, Any]:
    """One execution, start to end: its record, its time, and the time until Plan ended."""
    import boto3

    sfn = boto3.client("stepfunctions", region_name=REGION)
    start = time.perf_counter()
    arn = sfn.start_execution(
        stateMachineArn=state_machine_arn, name="bench", input=json.dumps(request)
    )["executionArn"]
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        time.sleep(0.1)
    seconds = time.perf_counter() - start
    if described["status"] != "SUCCEEDED":
        raise RuntimeError(f"the analysis failed: {described.get('cause')}")
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    planned = max(
        e["timestamp"]
        for e in events
        if e.get("stateExitedEventDetails", {}).get("name") in {"Plan", "Sized"}
    )
    return {
        **json.loads(described["output"]),
        "seconds": seconds,
        "plan_seconds": (planned - described["startDate"]).total_seconds(),
    }


def _metering_plan_s_snapshot() -> Any:
    """The read units Plan spends on the suppression data in this process: the stored
    snapshot's catch-up (the meter it passes)."""
    from consentry.analysis import snapshot_store
    from consentry.analysis.suppression import ReadMeter

    total = ReadMeter()
    current = snapshot_store.current

    def metered(*args: Any) -> dict[str, Any]:
        document = current(*args)
        total.read_units += args[-1].read_units
        return document

    setattr(snapshot_store, "current", metered)  # noqa: B010 (a benchmark's probe)
    return total


CATCH_UP_CHANGES = 200
"""Opt-outs made through the consent store after the snapshot, for Plan to catch up with."""
SNAPSHOT_FUNCTION = "consentry-SuppressionSnapshotFunction"


def _take_snapshots(invoker: Any) -> dict[str, Any]:
    """The schedule's run (every channel's snapshot from the seeded indexes), then
    CATCH_UP_CHANGES opt-outs of profiles outside the audience made through the store."""
    from consentry.consent.profile_store import record_change
    from consentry.consent.rules import ConsentChange, Scope
    from consentry.core.types import Action, ProfileId, Source

    taken: dict[str, Any] = invoker.invoke(invoker.function(SNAPSHOT_FUNCTION), {})
    for number in range(CATCH_UP_CHANGES):
        record_change(
            ProfileId(f"fresh-{number}"),
            ConsentChange(
                scope=Scope.all(), action=Action.OPT_OUT, source=Source.OPERATOR, actor="bench"
            ),
        )
    return taken


def _seed(snapshot: dict[str, Any]) -> None:
    """The snapshot's profiles and addresses as items, written in batches (test data:
    the consent store's own writes would take hours for half a million profiles)."""
    from consentry.addresses.address_store import to_item
    from consentry.addresses.status import AddressState, AddressStatus, with_origin
    from consentry.addresses.tables import AddressModel
    from consentry.consent.tables import OPTED_OUT_BUCKETS, ProfileModel
    from consentry.core.types import Address, Channel

    now = datetime.now(UTC)
    with ProfileModel.batch_write() as batch:
        for profile_id in snapshot["optedOut"]:
            batch.save(
                ProfileModel(
                    profile_id=profile_id,
                    version=1,
                    opt_out_all=True,
                    opted_out_bucket=str(zlib.crc32(profile_id.encode()) % OPTED_OUT_BUCKETS),
                )
            )
    with AddressModel.batch_write() as batch:
        for address in snapshot["quarantined"]:
            state = AddressState(
                channel=Channel.EMAIL,
                address=Address(address),
                error_status=AddressStatus.QUARANTINE,
            )
            batch.save(_written_long_ago(to_item(state, version=1)))
        for address in snapshot["denylisted"]:
            state = AddressState(channel=Channel.EMAIL, address=Address(address))
            batch.save(_written_long_ago(to_item(with_origin(state, "complaint", now), version=1)))


def _written_long_ago(item: Any) -> Any:
    """An address item as written a day ago: the lists were built over time, so the
    snapshot holds them and the catch-up does not (profiles are seeded unstamped)."""
    from consentry.core.changed import changed_day

    item.changed_at = datetime.now(UTC) - timedelta(days=1)
    item.changed_day = changed_day(item.address_key, item.changed_at)
    return item


def _lookup_read_units(generated: Generated) -> float:
    """The read units of lookups of the first LOOKUP_SAMPLE rows' keys, per million rows."""
    from consentry.addresses.normalize import normalizer
    from consentry.analysis import suppression
    from consentry.core.types import Channel

    normalize = normalizer(Channel.EMAIL, "US")
    profiles: set[str] = set()
    addresses: set[str] = set()
    with generated.path.open(newline="", encoding="utf-8") as file:
        reader = csv.reader(file)
        next(reader)
        for number, (profile_id, address, *_) in enumerate(reader):
            if number >= LOOKUP_SAMPLE:
                break
            profiles.add(profile_id)
            if (normal := normalize(address)) is not None:
                addresses.add(normal)
    meter = suppression.ReadMeter()
    suppression.look_up(
        Channel.EMAIL,
        profiles=profiles,
        addresses=addresses,
        service_id=None,
        at=datetime.now(UTC),
        meter=meter,
    )
    return meter.read_units * 1_000_000 / min(LOOKUP_SAMPLE, generated.rows)


def count_scan_rate(audience: Path) -> float:
    """Bytes per CPU second one Count function scans (`count_bytes_per_s`), with the
    targets a range of a 32-range count holds."""
    from consentry.analysis.audience import scan_segment
    from consentry.core.bucket import READ_CHUNK

    data = audience.read_bytes()
    blocks = [data[at : at + READ_CHUNK] for at in range(0, len(data), READ_CHUNK)]
    targets = [len(data) * n // 32_000 for n in range(1, 32)]

    def scan() -> int:
        return scan_segment(blocks, 0, targets, quote_aware=True).line_ends[0]

    return len(data) / min(_cpu(scan)[1] for _ in range(3))


def sms_normalize_rate(count: int = 20_000) -> float:
    """Numbers normalized per CPU second by an SMS delivery's normalizer (distinct
    numbers: the remembered answers do not help)."""
    from consentry.addresses.normalize import normalizer
    from consentry.core.types import Channel

    normalize = normalizer(Channel.SMS, "US", sms_receivers_only=True)
    forms = ("+1202555{:04d}", "+44 7911 1{:05d}", "+31 6 1{:07d}")
    numbers = [forms[n % 3].format(n % 10_000 if n % 3 == 0 else n) for n in range(count)]
    started = time.process_time()
    for number in numbers:
        normalize(number)
    return count / (time.process_time() - started)


# ---------------------------------------------------------------- a partitioned run

PUT_OPERATIONS = frozenset(
    {"PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"}
)
"""S3 requests billed as writes."""


def s3_writes(shards: int, chunks: int) -> int:
    """The objects a partitioned run writes: Plan's sizing, plan, manifest and snapshot;
    a partition file and a target part per chunk; a verdict file and a log per shard."""
    return 4 + 2 * chunks + 2 * shards


def s3_writes_before(shards: int, chunks: int) -> int:
    """The same with a shard file and a verdict file per shard and chunk, as before."""
    return 3 + 2 * shards * chunks + 2 * shards


def run_child_on_stack(audience: Path, snapshot: Path, shard_rows: int, out: Path) -> None:
    """In a fresh process: one execution on the local stack with `shard_rows`, counting
    S3 writes from its start; the result and every row's verdict (the target, the
    exclusion log) to files in `out`, its figures to `out/run.json`."""
    import boto3
    from botocore.client import BaseClient

    from bench.inprocess import template_on_moto
    from infra.local.aws import MOTO_CONFIG, configure_moto
    from infra.local.lambdas import Invoker, local_functions, route_moto_invokes

    environment = {"POWERTOOLS_LOG_LEVEL": "WARNING", "SHARD_ROWS": str(shard_rows)}
    with template_on_moto(MOTO_CONFIG, **environment) as resolver:
        configure_moto()
        invoker = Invoker(local_functions(resolver.template, resolver), workers=0)
        invoker.load()
        undo = route_moto_invokes(invoker)
        try:
            _seed(json.loads(snapshot.read_text()))
            _take_snapshots(invoker)
            outputs = resolver.outputs()
            bucket = outputs["DataBucketName"]
            key = "audiences/bench/audience.csv"
            s3 = boto3.client("s3", region_name=REGION)
            s3.upload_file(str(audience), bucket, key)
            request = {
                "deliveryId": "bench",
                "channel": "email",
                "messageClass": "marketing",
                "audience": {"uri": f"s3://{bucket}/{key}"},
            }
            writes: list[str] = []
            make_api_call = BaseClient.__dict__["_make_api_call"]

            def counted(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
                if operation in PUT_OPERATIONS and client.meta.service_model.service_name == "s3":
                    writes.append(operation)
                return make_api_call(client, operation, params)

            setattr(BaseClient, "_make_api_call", counted)  # noqa: B010 (a benchmark's probe)
            execution = _run(outputs["StateMachineArn"], request)
            setattr(BaseClient, "_make_api_call", make_api_call)  # noqa: B010
            peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            shards = _save_verdicts(s3, bucket, execution, out)
            figures = {
                "seconds": execution["seconds"],
                "plan_seconds": execution["plan_seconds"],
                "rows": execution["audienceSize"],
                "shards": shards,
                "chunks": execution["target"]["parts"],
                "puts": len(writes),
                "peak_kb": peak_kb,
            }
            (out / "run.json").write_text(json.dumps(figures))
        finally:
            undo()


def _save_verdicts(s3: Any, bucket: str, execution: dict[str, Any], out: Path) -> int:
    """The target's parts as one file (the header once) and the exclusion log's rows in
    row order; the number of log parts (one per shard)."""

    def keys(uri: str) -> list[str]:
        prefix = uri.removeprefix(f"s3://{bucket}/")
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    with (out / "target.csv").open("wb") as target:
        for number, key in enumerate(keys(execution["target"]["uri"])):
            part = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            target.write(part if number == 0 else part.split(b"\n", 1)[1])
    log_keys = keys(execution["exclusionLog"]["uri"])
    excluded: list[tuple[int, str]] = []
    for key in log_keys:
        lines = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()
        excluded += [(int(line.split(",", 1)[0]), line) for line in lines[1:]]
    excluded.sort()
    (out / "exclusions.csv").write_text("".join(line + "\n" for _, line in excluded))
    return len(log_keys)


def partitioned(generated: Generated, workdir: Path, shard_rows: int) -> dict[str, float]:
    """The audience on the local stack twice, each run in a fresh process: in one shard,
    then in shards of `shard_rows`; every row's verdict compared."""
    snapshot_path = workdir / "partitioned-suppression.json"
    snapshot_path.write_text(json.dumps(snapshot_document(generated, 0)))
    runs: dict[str, dict[str, float]] = {}
    for name, rows in (("one", generated.rows + 1), ("many", shard_rows)):
        out = workdir / name
        out.mkdir()
        arguments = [str(generated.path), str(snapshot_path), str(rows), str(out)]
        subprocess.run(
            [sys.executable, "-m", "bench.analyze", "--stack-child", *arguments],
            cwd=ROOT,
            check=True,
        )
        runs[name] = json.loads((out / "run.json").read_text())
    one, many = runs["one"], runs["many"]
    assert one["shards"] == 1, runs
    assert one["rows"] == many["rows"] == generated.rows, runs
    for name in ("target.csv", "exclusions.csv"):
        if not filecmp.cmp(workdir / "one" / name, workdir / "many" / name, shallow=False):
            raise AssertionError(f"the partitioned run's {name} differs from the one-shard run's")
    shards, chunks = int(many["shards"]), int(many["chunks"])
    assert many["puts"] == s3_writes(shards, chunks), many
    return {
        "partitioned_rows": many["rows"],
        "partitioned_shards": shards,
        "partitioned_chunks": chunks,
        "partitioned_end_to_end_s": many["seconds"],
        "partitioned_plan_s": many["plan_seconds"],
        "partitioned_peak_rss_mb": many["peak_kb"] / 1024,
        "one_shard_end_to_end_s": one["seconds"],
        "s3_puts_partitioned": many["puts"],
        "s3_puts_partitioned_before": s3_writes_before(shards, chunks),
        "s3_puts_formula": s3_writes(PROJECTED_SHARDS, PROJECTED_SHARDS),
        "s3_puts_formula_before": s3_writes_before(PROJECTED_SHARDS, PROJECTED_SHARDS),
    }


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--opted-out", type=int, default=SNAPSHOT_PROFILES)
    parser.add_argument("--skip-end-to-end", action="store_true")
    parser.add_argument(
        "--partitioned-rows",
        type=int,
        default=PARTITIONED_ROWS,
        help="rows of the partitioned run's audience (0: no partitioned run)",
    )
    parser.add_argument("--only-partitioned", action="store_true")
    parser.add_argument("--skip-engines", action="store_true")
    parser.add_argument("--child", nargs=3, type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--engine", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--stack-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    if args.engine:
        name, *paths = args.engine
        engine_child(name, *(Path(p) for p in paths))
        return 0
    if args.stack_child:
        audience, snapshot, shard_rows, out = args.stack_child
        run_child_on_stack(Path(audience), Path(snapshot), int(shard_rows), Path(out))
        return 0
    if args.only_partitioned:
        with tempfile.TemporaryDirectory() as tmp:
            _print_partitioned(Path(tmp), args.partitioned_rows)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        _print_all(Path(tmp), args)
    return 0


def _print_all(workdir: Path, args: argparse.Namespace) -> None:
    """Every line of a full run, the one-shard audience's first."""
    generated = generate(workdir / "audience.csv", args.rows, MIX)
    snapshot = snapshot_document(generated, args.opted_out)
    snapshot_path = workdir / "suppression.json"
    snapshot_path.write_text(json.dumps(snapshot))
    measured = run_child(generated.path, snapshot_path, workdir)
    rows = measured["rows"]
    print(f"audience_rows={int(rows)}")
    print(f"snapshot_opted_out_profiles={len(snapshot['optedOut'])}")  # type: ignore[arg-type]
    classify_rate = rows / measured["classify_s"]
    print(f"classify_rows_per_s={classify_rate:.0f}")
    if not args.skip_engines:
        for engine in ("duckdb", "polars"):
            ran = run_engine(engine, generated.path, snapshot_path, workdir)
            if ran["result"] != measured["result"]:
                raise AssertionError(f"{engine} disagrees: {ran['result']} {measured['result']}")
            engine_rate = ran["rows"] / ran["seconds"]
            print(f"{engine}_rows_per_s={engine_rate:.0f}")
            print(f"ratio_vs_{engine}={classify_rate / engine_rate:.2f}")
            print(f"{engine}_peak_rss_mb={ran['peak_kb'] / 1024:.0f}")
        print("engines_agree=1")
    print(f"floor_rows_per_s={rows / measured['floor_s']:.0f}")
    print(f"ratio_vs_floor={measured['floor_s'] / measured['classify_s']:.2f}")
    print(f"peak_rss_mb={measured['peak_kb'] / 1024:.0f}")
    print(f"classify_alone_s={measured['classify_s']:.2f}")
    print(f"partition_rows_per_s={rows / measured['partition_s']:.0f}")
    print(f"assemble_rows_per_s={rows / measured['assemble_s']:.0f}")
    partitioned_rate = rows / measured["classify_partitioned_s"]
    print(f"classify_partitioned_rows_per_s={partitioned_rate:.0f}", flush=True)
    print(f"sms_normalize_per_s={sms_normalize_rate():.0f}", flush=True)
    costs = page_costs()
    for name, value in costs.items():
        print(f"{name}={value:.2f}")
    print(f"snapshot_load_us_per_entry={measured['snapshot_load_us_per_entry']:.2f}")
    stored = {name: measured[name] for name in STORED_COSTS}
    for name, value in stored.items():
        print(f"{name}={value:.2f}")
    count_rate = count_scan_rate(generated.path)
    print(f"count_bytes_per_s={count_rate:.0f}")
    rates = {
        **stored,
        "count_bytes_per_s": count_rate,
        "partition_rate": rows / measured["partition_s"],
        "classify_partitioned_rate": partitioned_rate,
        "assemble_rate": rows / measured["assemble_s"],
        "snapshot_load_us_per_entry": measured["snapshot_load_us_per_entry"],
    }
    for name, value in projection(costs, rates).items():
        print(f"{name}={value:.3f}" if name.endswith("usd_100m") else f"{name}={value:.0f}")
    sys.stdout.flush()
    if not args.skip_end_to_end:
        for name, value in end_to_end(generated, snapshot).items():
            print(f"{name}={value:.2f}" if name.endswith("_s") else f"{name}={value:.0f}")
    if args.partitioned_rows:
        _print_partitioned(workdir, args.partitioned_rows)


def _print_partitioned(workdir: Path, rows: int) -> None:
    """The partitioned run's lines, on an audience of its own (`rows` rows, in shards of
    an eighth: 8 shards and 8 chunks)."""
    generated = generate(workdir / "partitioned.csv", rows, MIX, seed=11)
    for name, value in partitioned(generated, workdir, rows // PARTITIONED_SHARDS).items():
        print(f"{name}={value:.2f}" if name.endswith("_s") else f"{name}={value:.0f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
