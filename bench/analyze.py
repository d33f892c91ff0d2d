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
- `partition_rows_per_s`, `assemble_rows_per_s`, `classify_partitioned_rows_per_s`:
  the loops of a partitioned run, once each: Partition's over the audience into 100
  shard files, Assemble's over the audience as one chunk, and Classify's over those
  shard files (its rows come through the csv module and the classifier per row).
- `end_to_end_s`: StartExecution to SUCCEEDED of the real state machine on the local
  stack (moto in this process, handlers routed as `make run` routes them), next to
  `classify_alone_s`, the classifier's own time from the child; `end_to_end_plan_s` is
  the part until Plan ended (moto answers each page of an index query by scanning the
  whole table, so the snapshot read is slow locally).
- `snapshot_read_units_per_million_rows`, `lookups_read_units_per_million_rows`: the
  read request units the suppression data costs, metered from the items DynamoDB
  returned (moto reports no consumed capacity of its own): the snapshot Plan reads, and
  lookups of the first 20,000 rows' keys, scaled to a million rows.

`python -m bench.analyze [--rows N] [--opted-out N] [--skip-end-to-end]`; prints
`name=value` lines.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from consentry_cli.audience import Generated, Mix, generate

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "functions"))  # the Lambda import root, as Lambda has it

REGION = "eu-west-1"
ROWS = 1_000_000
SNAPSHOT_PROFILES = 500_000
LOOKUP_SAMPLE = 20_000
PROJECTED_SHARDS = 100
"""The shards Partition writes to in the projection of docs/analysis-contract.md."""
REPEATS = 5
MIX = Mix(
    opted_out=0.05, quarantined=0.02, denylisted=0.01, duplicates=0.01, invalid=0.005, missing=0.005
)


def _settings_environment() -> None:
    """What the handler modules read at import; the names reach nothing here."""
    from consentry.core.settings import Settings

    for name, field in Settings.model_fields.items():
        if field.is_required():
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
        from consentry.analysis.contract import Audience
        from consentry.analysis.suppression import from_snapshot
        from consentry.core.types import Channel, MessageClass

        self.audience = audience
        self.suppression = from_snapshot(snapshot.read_bytes())
        self.rules = Rules(Channel.EMAIL, MessageClass.MARKETING, "US")
        with audience.open("rb") as file:
            self.layout, self.data_start = layout_of(
                Audience(uri=f"s3://bench/{audience.name}"),
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

    def partition(self) -> int:
        """The audience as one chunk, into PROJECTED_SHARDS shards."""
        from analyze.partition import partition_lines
        from consentry.analysis.audience import RowPlace
        from consentry.analysis.classifier import normalizer
        from consentry.core.bucket import spools

        normalize = normalizer(self.rules.channel, self.rules.default_region)
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
        from consentry.analysis.classifier import VERDICTS, ShardClassifier, normalizer
        from consentry.core.bucket import spools

        normalize = normalizer(self.rules.channel, self.rules.default_region)
        with (
            self.lines() as lines,
            spools(PROJECTED_SHARDS) as outputs,
            spools(1) as (log,),
        ):
            partition_lines(lines, self.layout, normalize, [o.text for o in outputs], RowPlace())
            classifiers = [ShardClassifier(self.suppression, self.rules) for _ in outputs]
            log_row = csv.writer(log.text, lineterminator="\n").writerow
            counts = [0] * VERDICTS
            rows = 0
            start = time.process_time()
            for output, classifier in zip(outputs, classifiers, strict=True):
                output.text.flush()
                output.text.seek(0)
                classified, _ = classify_shard_input(output.text, classifier, 1, counts, log_row)
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
    }
    out.write_text(json.dumps(figures))


def _cpu(action: Callable[[], int]) -> tuple[int, float]:
    start = time.process_time()
    result = action()
    return result, time.process_time() - start


def run_child(audience: Path, snapshot: Path, workdir: Path) -> dict[str, float]:
    out = workdir / "child.json"
    subprocess.run(
        [sys.executable, "-m", "bench.analyze", "--child", str(audience), str(snapshot), str(out)],
        cwd=ROOT,
        check=True,
    )
    result: dict[str, float] = json.loads(out.read_text())
    return result


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
            _seed(generated, snapshot)
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
                "end_to_end_s": execution["seconds"],
                "end_to_end_plan_s": execution["plan_seconds"],
                "snapshot_read_units_per_million_rows": snapshot_meter.read_units
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
    planned = next(
        e["timestamp"] for e in events if e.get("stateExitedEventDetails", {}).get("name") == "Plan"
    )
    return {
        **json.loads(described["output"]),
        "seconds": seconds,
        "plan_seconds": (planned - described["startDate"]).total_seconds(),
    }


def _metering_plan_s_snapshot() -> Any:
    """The read units of the snapshot Plan reads in this process (the meter it passes)."""
    from analyze import plan as planning
    from consentry.analysis.suppression import ReadMeter
    from consentry.analysis.suppression import read_snapshot as read

    total = ReadMeter()

    def metered(request: Any, at: datetime, meter: ReadMeter) -> dict[str, Any]:
        document = read(request, at, meter)
        total.read_units += meter.read_units
        return document

    setattr(planning, "read_snapshot", metered)  # noqa: B010 (a benchmark's probe)
    return total


def _seed(generated: Generated, snapshot: dict[str, object]) -> None:
    """The snapshot's profiles and addresses as items, written in batches (test data:
    the consent store's own writes would take hours for half a million profiles)."""
    from consentry.addresses.address_store import to_item
    from consentry.addresses.status import AddressState, AddressStatus, with_origin
    from consentry.addresses.tables import AddressModel
    from consentry.consent.tables import OPTED_OUT_BUCKETS, ProfileModel
    from consentry.core.types import Address, Channel

    now = datetime.now(UTC)
    with ProfileModel.batch_write() as batch:
        for profile_id in snapshot["optedOut"]:  # type: ignore[attr-defined]
            batch.save(
                ProfileModel(
                    profile_id=profile_id,
                    version=1,
                    opt_out_all=True,
                    opted_out_bucket=str(zlib.crc32(profile_id.encode()) % OPTED_OUT_BUCKETS),
                )
            )
    with AddressModel.batch_write() as batch:
        for address in generated.quarantined:
            state = AddressState(
                channel=Channel.EMAIL,
                address=Address(address),
                error_status=AddressStatus.QUARANTINE,
            )
            batch.save(to_item(state, version=1))
        for address in generated.denylisted:
            state = AddressState(channel=Channel.EMAIL, address=Address(address))
            batch.save(to_item(with_origin(state, "complaint", now), version=1))


def _lookup_read_units(generated: Generated) -> float:
    """The read units of lookups of the first LOOKUP_SAMPLE rows' keys, per million rows."""
    from consentry.analysis import suppression
    from consentry.analysis.classifier import normalizer
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


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--opted-out", type=int, default=SNAPSHOT_PROFILES)
    parser.add_argument("--skip-end-to-end", action="store_true")
    parser.add_argument("--child", nargs=3, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        generated = generate(workdir / "audience.csv", args.rows, MIX)
        snapshot = snapshot_document(generated, args.opted_out)
        snapshot_path = workdir / "suppression.json"
        snapshot_path.write_text(json.dumps(snapshot))
        measured = run_child(generated.path, snapshot_path, workdir)
        rows = measured["rows"]
        print(f"audience_rows={int(rows)}")
        print(f"snapshot_opted_out_profiles={len(snapshot['optedOut'])}")  # type: ignore[arg-type]
        print(f"classify_rows_per_s={rows / measured['classify_s']:.0f}")
        print(f"floor_rows_per_s={rows / measured['floor_s']:.0f}")
        print(f"ratio_vs_floor={measured['floor_s'] / measured['classify_s']:.2f}")
        print(f"peak_rss_mb={measured['peak_kb'] / 1024:.0f}")
        print(f"classify_alone_s={measured['classify_s']:.2f}")
        print(f"partition_rows_per_s={rows / measured['partition_s']:.0f}")
        print(f"assemble_rows_per_s={rows / measured['assemble_s']:.0f}")
        partitioned_rate = rows / measured["classify_partitioned_s"]
        print(f"classify_partitioned_rows_per_s={partitioned_rate:.0f}", flush=True)
        if not args.skip_end_to_end:
            for name, value in end_to_end(generated, snapshot).items():
                print(f"{name}={value:.2f}" if name.endswith("_s") else f"{name}={value:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
